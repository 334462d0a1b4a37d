/* dlrt: the dlc runtime's C API. */
#ifndef DLRT_H_
#define DLRT_H_
#endif
