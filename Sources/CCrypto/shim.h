#ifndef RESTORE_CONSOLE_CCRYPTO_SHIM_H
#define RESTORE_CONSOLE_CCRYPTO_SHIM_H
// SHA-256 and AES-CTR from OpenSSL's libcrypto (the library libcurl already links), for verifying
// downloads at memory speed and reading encrypted backups as TiKV does.
#include <openssl/evp.h>
#include <openssl/rand.h>
#endif
