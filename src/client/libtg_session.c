/*
 * TLS session resumption for a context: the sessions the gateway gave
 * (tickets) are offered by the next tunnels, so every tunnel after the
 * first skips the certificate exchange and the key agreement's signature.
 * A context may be shared by threads, hence the lock.
 *
 * A TLS 1.3 ticket is offered once (RFC 8446 C.4: reuse would let an
 * observer link tunnels) and the gateway gives a fresh one with every
 * handshake, so the context keeps up to TG_SESSIONS_MAX of them: tunnels
 * started together each take their own, and each leaves a new one behind.
 * The newest goes first, the oldest is dropped when the pool is full. A
 * TLS 1.2 session may be offered again and again: the newest one is kept.
 */
#include <pthread.h>

#include <openssl/ssl.h>

#include "libtg_priv.h"

static void
pool_push(struct tg_ctx *c, SSL_SESSION *sess)
{
	size_t	 i;

	if (SSL_SESSION_get_protocol_version(sess) != TLS1_3_VERSION) {
		/* A TLS 1.2 session replaces whatever the pool held. */
		for (i = 0; i < c->nsessions; i++)
			SSL_SESSION_free(c->sessions[i]);
		c->nsessions = 0;
	} else if (c->nsessions == TG_SESSIONS_MAX) {
		SSL_SESSION_free(c->sessions[0]);
		for (i = 1; i < TG_SESSIONS_MAX; i++)
			c->sessions[i - 1] = c->sessions[i];
		c->nsessions--;
	} else if (c->nsessions == 1 && SSL_SESSION_get_protocol_version(
	    c->sessions[0]) != TLS1_3_VERSION) {
		SSL_SESSION_free(c->sessions[0]);
		c->nsessions = 0;
	}
	c->sessions[c->nsessions++] = sess;
}

static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tg_ctx	*c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&c->session_lock);
	pool_push(c, sess);
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
	/* Kept here, not in libssl's cache: one gateway, its tickets. */
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
	if (c->nsessions > 0) {
		s = c->sessions[c->nsessions - 1];
		/* A failure only means a full handshake. */
		(void)SSL_set_session(ssl, s);
		if (SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION) {
			SSL_SESSION_free(s);
			c->nsessions--;
		}
	}
	pthread_mutex_unlock(&c->session_lock);
}

void
tg_session_free(struct tg_ctx *c)
{
	if (!c->session_lock_ok)
		return;
	while (c->nsessions > 0)
		SSL_SESSION_free(c->sessions[--c->nsessions]);
	pthread_mutex_destroy(&c->session_lock);
	c->session_lock_ok = 0;
}
