/*
 * The TLS server context, built by the master (root) from the config before
 * any child is forked, so the key file is read only by root; gate workers
 * inherit the context at fork.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"
#include "tls_export.h"

SSL_CTX *
tls_ctx_new(const struct config *cfg)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_warnx("tls: SSL_CTX_new: %s", tls_error_string());
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version) ||
	    !SSL_CTX_set_ciphersuites(ctx, cfg->tls13_ciphersuites) ||
	    !SSL_CTX_set_cipher_list(ctx, cfg->tls12_ciphers)) {
		log_warnx("%s: tls: cipher settings rejected by OpenSSL: %s",
		    cfg->path, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
		log_warnx("%s: tls.certificate: cannot load %s: %s", cfg->path,
		    cfg->tls_certificate, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		log_warnx("%s: tls.key: cannot load %s: %s", cfg->path,
		    cfg->tls_key, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("%s: tls.key: %s does not match tls.certificate %s",
		    cfg->path, cfg->tls_key, cfg->tls_certificate);
		goto fail;
	}
	/*
	 * No tickets and no session cache: prefork workers share no cache, and
	 * tunnels handed to relay workers must not carry records that libssl
	 * would send after the handshake.
	 */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * CLEANSE_PLAINTEXT: libssl decrypts records in place and would keep
	 * the plaintext (the CONNECT request with its credentials) in its
	 * read buffer, freed or not, until overwritten.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Record secrets and sequence numbers for the handoff to relays. */
	if (tls_export_ctx_init(ctx) != 0) {
		log_warnx("tls: cannot set up TLS state export");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
