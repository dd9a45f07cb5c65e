/*
 * The private key and the one thing done with it. Only the key process
 * (key_proc.c) and the exec'd check helper (key_check.c) call these.
 */
#ifndef TG_KEY_SIGN_H
#define TG_KEY_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "key_proto.h"

/*
 * Read the PEM private key at path (not encrypted: nobody is there to type
 * a passphrase). Only ECDSA P-256/P-384/P-521 and RSA of
 * TG_KEY_MIN_RSA_BITS to 8 * TG_KEY_MAX_BYTES bits are taken. NULL after
 * logging what is wrong with the file.
 */
EVP_PKEY *key_load(const char *path);

/* A loaded key with its signing contexts made ready once. */
struct key_signer;

/* Takes pk (freed with the signer, or at once on failure); NULL on failure. */
struct key_signer *key_signer_new(EVP_PKEY *pk);
void	 key_signer_free(struct key_signer *);

/*
 * Sign what req asks for into sig (TG_KEY_MAX_BYTES). 0 and *siglen; or -1
 * with *why when the request does not fit the key (the sender's fault), or
 * with *why = NULL when libcrypto failed.
 */
int	 key_sign(struct key_signer *, const struct key_sign *req,
	    uint8_t *sig, size_t *siglen, const char **why);

#endif
