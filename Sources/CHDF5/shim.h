// Thin system-library shim over the HDF5 C library (Debian's libhdf5-dev, serial build;
// pkg-config `hdf5` points at /usr/include/hdf5/serial).
#include <hdf5.h>
