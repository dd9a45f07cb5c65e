/*
 * TLS session resumption for a context: the newest session the gateway
 * gave (a ticket) is offered by the next tunnel, so every tunnel after the
 * first skips the certificate exchange and the key agreement's signature.
 * A context may be shared by threads, hence the lock. A TLS 1.3 ticket is
 * offered once (RFC 8446 C.4: reuse would let an observer link tunnels);
 * the gateway gives a fresh one with every resumption.
 */
#include <pthread.h>

#include <openssl/ssl.h>

#include "libtg_priv.h"

static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tg_ctx	*c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&c->session_lock);
	SSL_SESSION_free(c->session);
	c->session = sess;
	pthread_mutex_unlock(&c->session_lock);
	return 1;	/* the reference is ours now */
}

int
tg_session_init(struct tg_ctx *c)
{
	if (pthread_mutex_init(&c->session_lock, NULL) != 0)
		return -1;
	c->session_lock_ok = 1;
	if (SSL_CTX_set_app_data(c->ssl_ctx, c) != 1)
		return -1;
	/* Kept here, not in libssl's cache: one gateway, one session. */
	SSL_CTX_set_session_cache_mode(c->ssl_ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ssl_ctx, session_new_cb);
	return 0;
}

void
tg_session_offer(struct tg_ctx *c, SSL *ssl)
{
	SSL_SESSION	*s;

	pthread_mutex_lock(&c->session_lock);
	if ((s = c->session) != NULL) {
		/* A failure only means a full handshake. */
		(void)SSL_set_session(ssl, s);
		if (SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION) {
			SSL_SESSION_free(s);
			c->session = NULL;
		}
	}
	pthread_mutex_unlock(&c->session_lock);
}

void
tg_session_free(struct tg_ctx *c)
{
	if (!c->session_lock_ok)
		return;
	SSL_SESSION_free(c->session);
	c->session = NULL;
	pthread_mutex_destroy(&c->session_lock);
	c->session_lock_ok = 0;
}
