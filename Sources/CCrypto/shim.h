#ifndef RESTORE_CONSOLE_CCRYPTO_SHIM_H
#define RESTORE_CONSOLE_CCRYPTO_SHIM_H
// SHA-256 from OpenSSL's libcrypto (the library libcurl already links), for verifying downloads at
// memory speed.
#include <openssl/evp.h>
#endif
