/*
 * The TLS server context, built by the master (root) from the config before
 * any child is forked; gate workers inherit it at fork. Its private key is
 * the key process's stand-in (key_client.h): the master reads only the
 * certificate. Whether the key matches it is checked before, by the
 * caller (tls_key_check_exec, key_check_files).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "key_client.h"
#include "log.h"
#include "proc.h"
#include "tls.h"
#include "tls_export.h"
#include "tls_tickets.h"

int
tls_key_check_exec(const struct config *cfg)
{
	char	*argv[] = { "tunnelgated", "-K", (char *)cfg->tls_certificate,
		    (char *)cfg->tls_key, NULL };
	pid_t	 pid;
	int	 exe, status;

	if ((exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("tls ctx: open /proc/self/exe");
		return -1;
	}
	pid = proc_spawn_exec(exe, NULL, 0, argv);
	close(exe);
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("tls ctx: waitpid");
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_warnx("%s: tls.key %s: unusable with tls.certificate %s (see "
	    "above)", cfg->path, cfg->tls_key, cfg->tls_certificate);
	return -1;
}

/* The certificate's key, standing in for the private key (key_client.h). */
static int
tls_use_key_process(SSL_CTX *ctx, const struct config *cfg)
{
	EVP_PKEY	*pk;
	int		 r;

	if ((pk = key_client_pkey(SSL_CTX_get0_certificate(ctx))) == NULL) {
		log_warnx("%s: tls.certificate %s: cannot make the key "
		    "process's stand-in for its key: %s", cfg->path,
		    cfg->tls_certificate, tls_error_string());
		return -1;
	}
	if ((r = SSL_CTX_use_PrivateKey(ctx, pk)) != 1)
		log_warnx("%s: tls.certificate %s: OpenSSL refuses the key "
		    "process's stand-in for its key: %s", cfg->path,
		    cfg->tls_certificate, tls_error_string());
	EVP_PKEY_free(pk);
	return r == 1 ? 0 : -1;
}

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
	if (tls_use_key_process(ctx, cfg) != 0)
		goto fail;
	/*
	 * No session cache (prefork workers share none): resumption is by
	 * tickets sealed with the master's keys, or off.
	 */
	if (tls_tickets_ctx_init(ctx, cfg->tls_ticket_key_lifetime_ms,
	    "tunnelgate") != 0)
		goto fail;
	/*
	 * CLEANSE_PLAINTEXT: libssl decrypts records in place and would keep
	 * the plaintext (the CONNECT request with its credentials) in its
	 * read buffer, freed or not, until overwritten.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CLEANSE_PLAINTEXT);
	/*
	 * Whatever the system's openssl.cnf says: with kernel TLS the kernel
	 * seals the records, so the handoff could not export the state and
	 * the batching BIO (src/gate/tls_batch.c) would be handed plaintext.
	 */
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
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
