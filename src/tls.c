#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "log.h"
#include "relay.h"
#include "tls.h"
#include "tls_export.h"

const char *
tls_error_string(void)
{
	static char	 buf[256];
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
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
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
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

void
tls_facts(const SSL *ssl, char *version, size_t vlen, char *cipher, size_t clen)
{
	const char	*c = SSL_get_cipher_name(ssl);

	auditlog_strlcpy(version, SSL_get_version(ssl), vlen);
	auditlog_strlcpy(cipher, c ? c : "", clen);
}

/* Map an SSL_* call's result to the relay's codes. */
static ssize_t
tls_result(struct relay_end *e, int ret, const char *what)
{
	int	 err = SSL_get_error(e->io, ret);

	switch (err) {
	case SSL_ERROR_NONE:
		return ret;
	case SSL_ERROR_WANT_READ:
		return RELAY_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return RELAY_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return RELAY_IO_EOF;
	case SSL_ERROR_SYSCALL:
		snprintf(e->err, sizeof(e->err), "tls %s: %s", what,
		    errno ? strerror(errno) : "connection closed");
		ERR_clear_error();
		return RELAY_IO_ERROR;
	default:
		snprintf(e->err, sizeof(e->err), "tls %s: %.80s", what,
		    tls_error_string());
		return RELAY_IO_ERROR;
	}
}

static ssize_t
tls_read(struct relay_end *e, uint8_t *p, size_t len)
{
	int	 n;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(e->io, p, len > INT_MAX ? INT_MAX : (int)len);
	return n > 0 ? n : tls_result(e, n, "read");
}

static ssize_t
tls_write(struct relay_end *e, const uint8_t *p, size_t len)
{
	int	 n;

	ERR_clear_error();
	errno = 0;
	n = SSL_write(e->io, p, len > INT_MAX ? INT_MAX : (int)len);
	return n > 0 ? n : tls_result(e, n, "write");
}

static ssize_t
tls_shutdown_write(struct relay_end *e)
{
	int	 n;

	ERR_clear_error();
	errno = 0;
	/* 0: our close_notify is out; the client may keep sending (half-close). */
	if ((n = SSL_shutdown(e->io)) >= 0)
		return 0;
	return tls_result(e, n, "shutdown");
}

static bool
tls_has_pending(const struct relay_end *e)
{
	return SSL_has_pending(e->io) == 1;
}

const struct relay_ops tls_relay_ops = {
	.read = tls_read,
	.write = tls_write,
	.shutdown_write = tls_shutdown_write,
	.has_pending = tls_has_pending,
};
