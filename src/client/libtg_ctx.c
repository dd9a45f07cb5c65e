/*
 * Settings shared by the tunnels of one gateway: TLS configuration,
 * resolved addresses and the encoded credentials.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "libtg_priv.h"

static const char *const messages[] = {
	[-TG_OK] = "success",
	[-TG_WANT_READ] = "operation would block until the socket is readable",
	[-TG_WANT_WRITE] = "operation would block until the socket is writable",
	[-TG_ERR_INVALID] = "invalid option or argument",
	[-TG_ERR_SYSTEM] = "system error",
	[-TG_ERR_FILE] = "cannot use CA, certificate or key file",
	[-TG_ERR_RESOLVE] = "cannot resolve the gateway's name",
	[-TG_ERR_CONNECT] = "cannot connect to the gateway",
	[-TG_ERR_TLS] = "TLS failure with the gateway",
	[-TG_ERR_TIMEOUT] = "timed out",
	[-TG_ERR_PROTOCOL] = "the gateway's answer is not valid HTTP",
	[-TG_ERR_FORBIDDEN] = "403: the policy denies this target",
	[-TG_ERR_AUTH] = "407: authentication failed",
	[-TG_ERR_BAD_GATEWAY] = "502: the target refused or is unreachable",
	[-TG_ERR_UNAVAILABLE] = "503: the gateway is unavailable",
	[-TG_ERR_GATEWAY_TIMEOUT] = "504: the target did not answer in time",
	[-TG_ERR_REFUSED] = "the gateway refused the tunnel",
	[-TG_ERR_CUT] = "connection to the gateway lost",
	[-TG_ERR_STATE] = "call not valid in the tunnel's state",
};

const char *
tg_strerror(int code)
{
	if (code > 0 || -code >= (int)(sizeof(messages) / sizeof(messages[0])))
		return "unknown error";
	return messages[-code];
}

void
tg_options_init(struct tg_options *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->handshake_timeout_ms = 10000;
	o->response_timeout_ms = 30000;
}

void
tg_ssl_errstr(char *buf, size_t len)
{
	unsigned long	 e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "no detail from OpenSSL");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

static int
ctx_fail(struct tg_ctx *c, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	tg_sanitize(c->errmsg);
	return code;
}

static int
ctx_tls_file(struct tg_ctx *c, const char *what, const char *path, int ok)
{
	char	 ssl[256];

	if (ok == 1)
		return TG_OK;
	if (access(path, R_OK) == -1) {
		ERR_clear_error();
		return ctx_fail(c, TG_ERR_FILE, "%s %s: %s", what, path,
		    strerror(errno));
	}
	tg_ssl_errstr(ssl, sizeof(ssl));
	return ctx_fail(c, TG_ERR_FILE, "%s %s: not usable PEM: %s", what,
	    path, ssl);
}

static int
ctx_tls(struct tg_ctx *c, const struct tg_options *o)
{
	X509_VERIFY_PARAM *vp;
	const char	*key = o->key_file ? o->key_file : o->cert_file;
	char		 ssl[256];
	int		 r;

	if ((c->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION) != 1 ||
	    (c->bio_method = tg_bio_method_new()) == NULL) {
		tg_ssl_errstr(ssl, sizeof(ssl));
		return ctx_fail(c, TG_ERR_SYSTEM, "TLS set-up: %s", ssl);
	}
	SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One recv per record instead of header then body: small messages
	 * are the latency that matters. */
	SSL_CTX_set_read_ahead(c->ssl_ctx, 1);
	if (tg_session_init(c) != 0)
		return ctx_fail(c, TG_ERR_SYSTEM, "TLS session cache set-up");
	if (o->cert_file != NULL &&
	    ((r = ctx_tls_file(c, "client certificate", o->cert_file,
	    SSL_CTX_use_certificate_chain_file(c->ssl_ctx, o->cert_file))) != 0 ||
	    (r = ctx_tls_file(c, "client key", key,
	    SSL_CTX_use_PrivateKey_file(c->ssl_ctx, key, SSL_FILETYPE_PEM))) != 0))
		return r;
	if (o->cert_file != NULL && SSL_CTX_check_private_key(c->ssl_ctx) != 1)
		return ctx_fail(c, TG_ERR_FILE, "client key %s does not match "
		    "certificate %s", key, o->cert_file);
	if (o->insecure_skip_verify) {
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
		return TG_OK;
	}
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (o->ca_file != NULL && (r = ctx_tls_file(c, "CA file", o->ca_file,
	    SSL_CTX_load_verify_file(c->ssl_ctx, o->ca_file))) != 0)
		return r;
	if (o->ca_file == NULL &&
	    SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
		tg_ssl_errstr(ssl, sizeof(ssl));
		return ctx_fail(c, TG_ERR_FILE, "system CA store: %s", ssl);
	}
	vp = SSL_CTX_get0_param(c->ssl_ctx);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((c->name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->server_name) :
	    X509_VERIFY_PARAM_set1_host(vp, c->server_name, 0)) != 1)
		return ctx_fail(c, TG_ERR_INVALID, "server name %s: not a valid "
		    "name to check", c->server_name);
	return TG_OK;
}

static int
ctx_resolve(struct tg_ctx *c)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM,
	    .ai_protocol = IPPROTO_TCP, .ai_flags = AI_NUMERICSERV };
	int		 r;

	if ((r = getaddrinfo(c->host, c->port, &hints, &c->addrs)) != 0) {
		c->addrs = NULL;
		return ctx_fail(c, TG_ERR_RESOLVE, "gateway %s: %s", c->host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	}
	return TG_OK;
}

static int
ctx_init(struct tg_ctx *c, const struct tg_options *o)
{
	char		 auth[TG_AUTH_MAX];
	unsigned char	 ip[16];
	int		 r;

	if (o->gateway == NULL || tg_split_hostport(o->gateway, c->host,
	    sizeof(c->host), c->port, sizeof(c->port), TG_DEFAULT_PORT) == -1)
		return ctx_fail(c, TG_ERR_INVALID, "gateway %s: expected HOST, "
		    "HOST:PORT or [IPv6]:PORT", o->gateway ? o->gateway : "(none)");
	if (snprintf(c->server_name, sizeof(c->server_name), "%s",
	    o->server_name ? o->server_name : c->host) >=
	    (int)sizeof(c->server_name))
		return ctx_fail(c, TG_ERR_INVALID, "server name too long");
	c->name_is_ip = inet_pton(AF_INET, c->server_name, ip) == 1 ||
	    inet_pton(AF_INET6, c->server_name, ip) == 1;
	c->pipeline = o->pipeline != 0;
	c->connect_ms = o->connect_timeout_ms;
	c->handshake_ms = o->handshake_timeout_ms;
	c->response_ms = o->response_timeout_ms;
	if (o->user != NULL) {
		if (tg_auth_header(o->user, o->password ? o->password : "",
		    auth, sizeof(auth), &c->auth_len) == -1)
			return ctx_fail(c, TG_ERR_INVALID, "user name must be 1-%d "
			    "characters without ':' or control characters, "
			    "password at most %d bytes", TG_USER_MAX,
			    TG_PASSWORD_MAX);
		c->auth_header = malloc(c->auth_len + 1);
		if (c->auth_header != NULL)
			memcpy(c->auth_header, auth, c->auth_len + 1);
		OPENSSL_cleanse(auth, sizeof(auth));
		if (c->auth_header == NULL)
			return ctx_fail(c, TG_ERR_SYSTEM, "out of memory");
	}
	if ((r = ctx_tls(c, o)) != TG_OK)
		return r;
	return ctx_resolve(c);
}

int
tg_ctx_new(const struct tg_options *o, struct tg_ctx **ctxp)
{
	if ((*ctxp = calloc(1, sizeof(**ctxp))) == NULL)
		return TG_ERR_SYSTEM;
	if (o == NULL)
		return ctx_fail(*ctxp, TG_ERR_INVALID, "no options");
	return ctx_init(*ctxp, o);
}

const char *
tg_ctx_errmsg(const struct tg_ctx *c)
{
	if (c == NULL)
		return "out of memory";
	return c->errmsg[0] ? c->errmsg : "no error";
}

void
tg_ctx_free(struct tg_ctx *c)
{
	if (c == NULL)
		return;
	if (c->auth_header != NULL) {
		OPENSSL_cleanse(c->auth_header, c->auth_len);
		free(c->auth_header);
	}
	if (c->addrs != NULL)
		freeaddrinfo(c->addrs);
	tg_session_free(c);
	SSL_CTX_free(c->ssl_ctx);
	BIO_meth_free(c->bio_method);
	free(c);
}
