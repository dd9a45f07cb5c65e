/*
 * The ticket callback of gate workers. Only key[0] seals; any held key
 * opens. Every resumption asks libssl for a fresh ticket (return 2): a
 * TLS 1.3 client uses a ticket once and keeps no session without a new
 * one, and clients move to the current key. An unknown name is a full
 * handshake.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "tls.h"
#include "tls_tickets.h"

static struct ctl_ticket_key	 held[TG_TICKET_KEYS];
static EVP_MD			*context_md;

#define TICKET_CONTEXT_LEN	32	/* SHA-256 */
_Static_assert(SSL_MAX_SID_CTX_LENGTH >= TICKET_CONTEXT_LEN,
    "a listener's context fits");
static uint32_t			 n_held;
/* Fetched once per worker, not per ticket. */
static EVP_CIPHER		*ticket_cipher;

void
tls_tickets_take(const struct ctl_ticket_keys *msg)
{
	explicit_bzero(held, sizeof(held));
	memcpy(held, msg->key, msg->n * sizeof(held[0]));
	n_held = msg->n;
}

static const struct ctl_ticket_key *
tickets_find(const unsigned char *name)
{
	for (uint32_t i = 0; i < n_held; i++)
		if (memcmp(held[i].name, name, CTL_TICKET_NAME_LEN) == 0)
			return &held[i];
	return NULL;
}

static int
tickets_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct ctl_ticket_key	*k;
	OSSL_PARAM			 params[3];
	int				 ok;

	(void)ssl;
	if (ticket_cipher == NULL &&
	    (ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) ==
	    NULL)
		return -1;
	if (enc) {
		if (n_held == 0)
			return 0;	/* no keys yet: no ticket */
		k = &held[0];
		memcpy(name, k->name, CTL_TICKET_NAME_LEN);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher)) != 1)
			return -1;
	} else if ((k = tickets_find(name)) == NULL)
		return 0;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac_key, sizeof(k->hmac_key));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	ok = enc ? EVP_EncryptInit_ex(cctx, ticket_cipher, NULL, k->aes_key,
	    iv) : EVP_DecryptInit_ex(cctx, ticket_cipher, NULL, k->aes_key, iv);
	if (ok != 1)
		return -1;
	return enc ? 1 : 2;
}

/* A listener's session id context, SHA-256 of what it checks. */
static int
tickets_listener_id(const struct config_listener *l, unsigned char *id)
{
	unsigned int	 len = 0;
	char		 what[3 * PATH_MAX];
	int		 n;

	n = snprintf(what, sizeof(what), "%s|%u|%d|%u|%s|%s", l->address,
	    l->port, (int)l->client_auth, l->client_verify_depth,
	    l->client_ca_file, l->client_crl_file);
	if (n < 0 || (size_t)n >= sizeof(what))
		return -1;
	if (context_md == NULL &&
	    (context_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return -1;
	if (EVP_Digest(what, (size_t)n, id, &len, context_md, NULL) != 1 ||
	    len != TICKET_CONTEXT_LEN)
		return -1;
	return 0;
}

/*
 * A gate worker's listeners never change, so each one's context is made
 * once, not per handshake.
 */
int
tls_tickets_conn_init(SSL *ssl, const struct config_listener *l)
{
	static struct {
		const struct config_listener	*l;
		unsigned char			 id[TICKET_CONTEXT_LEN];
	} known[TG_MAX_LISTENERS];
	size_t	 i;

	for (i = 0; i < TG_MAX_LISTENERS && known[i].l != NULL &&
	    known[i].l != l; i++)
		;
	if (i == TG_MAX_LISTENERS)
		return -1;
	if (known[i].l == NULL) {
		if (tickets_listener_id(l, known[i].id) == -1)
			return -1;
		known[i].l = l;
	}
	return SSL_set_session_id_context(ssl, known[i].id,
	    TICKET_CONTEXT_LEN) == 1 ? 0 : -1;
}

int
tls_tickets_ctx_init(SSL_CTX *ctx, unsigned lifetime_ms, const char *context)
{
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)context,
	    (unsigned)strlen(context)) != 1 ||
	    SSL_CTX_set_max_early_data(ctx, 0) != 1 ||
	    SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) {
		log_warnx("tls: session settings rejected: %s",
		    tls_error_string());
		return -1;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (lifetime_ms == 0) {
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		return 0;
	}
	/*
	 * One ticket per handshake: each costs a seal, and every resumed
	 * connection brings a new one. libssl writes it at the end of the
	 * handshake, before the request is read; tls_export counts it.
	 */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, (long)(lifetime_ms + 999) / 1000);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tickets_cb) != 1) {
		log_warnx("tls: ticket callback rejected: %s",
		    tls_error_string());
		return -1;
	}
	return 0;
}
