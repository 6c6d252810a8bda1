// Thin system-library shim: OpenBLAS's CBLAS interface as Debian ships it
// (libopenblas-dev puts cblas.h under the openblas-pthread include folder that
// pkg-config names).
#include <cblas.h>
