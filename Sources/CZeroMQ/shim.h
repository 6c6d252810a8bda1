// Thin system-library shim over libzmq (Debian's libzmq3-dev, 4.3.x).
#include <zmq.h>
