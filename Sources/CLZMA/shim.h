#ifndef RESTORE_CONSOLE_CLZMA_SHIM_H
#define RESTORE_CONSOLE_CLZMA_SHIM_H
// CRC-64/XZ from liblzma (xz-utils), which folds with carry-less multiplication where the CPU has
// it: the checksum of every pair a restore reads back.
#include <lzma.h>
#endif
