/*
 * The gate worker's stand-in for the TLS private key: an EVP_PKEY holding
 * only the certificate's public key, whose ECDSA and RSA key method hooks
 * send each signature to the key process of the worker's slot
 * (src/key/key_proc.h) and wait for the answer. libssl signs through it
 * as through any key; the private key never enters the gate worker.
 */
#ifndef TG_KEY_CLIENT_H
#define TG_KEY_CLIENT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The stand-in for cert's key, or NULL after logging why. */
EVP_PKEY *key_client_pkey(X509 *cert);

/* Where this process's signatures go: its socket to the key process. */
void	 key_client_use(int key_fd);

#endif
