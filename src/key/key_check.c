/*
 * Does a key match its certificate? The master asks `tunnelgated -K
 * certificate key`, exec'd, so that the key is read into a fresh address
 * space that ends with the check: the master, whose memory every gate
 * worker starts as a copy of, never holds it. `tunnelgated -t` and
 * `tunnelgatectl check` hold nothing else worth protecting and exit right
 * after, so they check in their own process.
 */
#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "key_proc.h"
#include "key_sign.h"
#include "log.h"
#include "nodump.h"
#include "tls.h"

int
key_check_files(const char *cert, const char *key)
{
	EVP_PKEY	*pk;
	X509		*x = NULL;
	BIO		*bio;
	int		 ok = 0;

	if ((pk = key_load(key)) == NULL)
		return -1;
	if ((bio = BIO_new_file(cert, "r")) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		log_warnx("%s: cannot read the certificate: %s", cert,
		    tls_error_string());
	else if (!(ok = X509_check_private_key(x, pk) == 1))
		log_warnx("tls.key %s is not the private key of "
		    "tls.certificate %s (their public keys differ); name the "
		    "key "
		    "the certificate was issued for", key, cert);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

void
key_check_main(const char *cert, const char *key)
{
	nodump_enforce();
	log_init("tunnelgated", false, LOG_LVL_INFO);
	log_set_procname("tg-keycheck");
	exit(key_check_files(cert, key) == 0 ? 0 : 1);
}
