/*
 * The auth protocol's table: an authenticator stops reading a gate worker's
 * socket (and has the gate worker killed) on any message the table refuses,
 * so both directions matter: every well-formed message passes, and each
 * kind of malformed one is caught, including a type sent the wrong way and
 * descriptors the type does not carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

static void
make_request(struct auth_request *r)
{
	memset(r, 0, sizeof(*r));
	auth_msg_init(&r->hdr, AUTH_MSG_REQUEST, 42);
	r->tunnel_id = 7;
	r->deadline_ms = 1000;
	r->port = 22;
	strcpy(r->user, "alice");
	strcpy(r->password, "s3cret");
	strcpy(r->host, "db.example.org");
	strcpy(r->client, "192.0.2.1:50000");
	strcpy(r->tls_version, "TLSv1.3");
	strcpy(r->tls_cipher, "TLS_AES_128_GCM_SHA256");
}

static void
make_reply(struct auth_reply *r)
{
	memset(r, 0, sizeof(*r));
	auth_msg_init(&r->hdr, AUTH_MSG_REPLY, 42);
	r->verdict = AUTH_ALLOW;
	r->pid = 1234;
	strcpy(r->rule, "admins-ssh");
	strcpy(r->resolved, "[2001:db8::1]:22");
	strcpy(r->reason, "");
	strcpy(r->user, "alice");
}

static void
make_taken(struct auth_taken *t)
{
	memset(t, 0, sizeof(*t));
	auth_msg_init(&t->hdr, AUTH_MSG_TAKEN, 42);
	t->pid = 1234;
}

/* As the receiver of whichever direction accepts it: the type, or -1. */
static int
validate_fds(const void *msg, size_t n, size_t nfds)
{
	const struct msg_type	*t;
	const char		*why = NULL;

	t = msg_validate(&auth_proto, msg, n, nfds, MSG_GATE, MSG_AUTH, &why);
	if (t == NULL)
		t = msg_validate(&auth_proto, msg, n, nfds, MSG_AUTH, MSG_GATE,
		    &why);
	if (t == NULL) {
		assert_non_null(why);
		return -1;
	}
	return t->type;
}

static int
validate(const void *msg, size_t n)
{
	return validate_fds(msg, n, 0);
}

static int
validate_as(const void *msg, size_t n, unsigned from, unsigned to)
{
	const char	*why = NULL;

	return msg_validate(&auth_proto, msg, n, 0, from, to, &why) == NULL ?
	    -1 : 0;
}

static void
test_init_sets_header(void **state)
{
	struct auth_msg_hdr	 h;

	(void)state;
	auth_msg_init(&h, AUTH_MSG_REQUEST, 99);
	assert_int_equal(h.h.version, AUTH_PROTO_VERSION);
	assert_int_equal(h.h.type, AUTH_MSG_REQUEST);
	assert_int_equal(h.h.size, AUTH_REQUEST_MIN);
	assert_int_equal(h.req_id, 99);
	auth_msg_init(&h, AUTH_MSG_TAKEN, 1);
	assert_int_equal(h.h.size, sizeof(struct auth_taken));
	auth_msg_init(&h, AUTH_MSG_REPLY, 1);
	assert_int_equal(h.h.size, sizeof(struct auth_reply));
}

static void
test_valid_messages_pass(void **state)
{
	struct auth_request	 req;
	struct auth_reply	 rep;
	struct auth_taken	 tk;
	uint32_t		 v;

	(void)state;
	make_request(&req);
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), AUTH_MSG_REQUEST);
	make_taken(&tk);
	assert_int_equal(validate(&tk, sizeof(tk)), AUTH_MSG_TAKEN);
	make_reply(&rep);
	for (v = AUTH_ALLOW; v <= AUTH_VERDICT_MAX; v++) {
		rep.verdict = v;
		assert_int_equal(validate(&rep, sizeof(rep)), AUTH_MSG_REPLY);
	}
}

static void
test_full_length_strings_pass(void **state)
{
	struct auth_request	 req;
	struct auth_reply	 rep;

	(void)state;
	make_request(&req);
	memset(req.user, 'u', sizeof(req.user) - 1);
	memset(req.password, 'p', sizeof(req.password) - 1);
	memset(req.host, 'h', sizeof(req.host) - 1);
	memset(req.client, 'c', sizeof(req.client) - 1);
	memset(req.tls_version, 'v', sizeof(req.tls_version) - 1);
	memset(req.tls_cipher, 'x', sizeof(req.tls_cipher) - 1);
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), AUTH_MSG_REQUEST);
	make_reply(&rep);
	memset(rep.rule, 'r', sizeof(rep.rule) - 1);
	memset(rep.resolved, 'a', sizeof(rep.resolved) - 1);
	memset(rep.reason, 'w', sizeof(rep.reason) - 1);
	assert_int_equal(validate(&rep, sizeof(rep)), AUTH_MSG_REPLY);
}

static void
test_unaligned_buffer_passes(void **state)
{
	struct auth_request	 req;
	uint8_t			 raw[sizeof(req) + 1];

	(void)state;
	make_request(&req);
	memcpy(raw + 1, &req, sizeof(req));
	assert_int_equal(validate(raw + 1, AUTH_REQUEST_MIN), AUTH_MSG_REQUEST);
}

static void
test_short_messages_fail(void **state)
{
	struct auth_request	 req;
	struct auth_taken	 tk;

	(void)state;
	make_request(&req);
	assert_int_equal(validate(&req, 0), -1);
	assert_int_equal(validate(&req, sizeof(struct auth_msg_hdr) - 1), -1);
	assert_int_equal(validate(&req, sizeof(struct auth_msg_hdr)), -1);
	/* Even when the header agrees with the short length. */
	req.hdr.h.size = AUTH_REQUEST_MIN - 1;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN - 1), -1);
	make_taken(&tk);
	tk.hdr.h.size = sizeof(tk) - 1;
	assert_int_equal(validate(&tk, sizeof(tk) - 1), -1);
}

static void
test_long_messages_fail(void **state)
{
	uint8_t			 raw[sizeof(struct auth_reply) + 8];
	struct auth_reply	 rep;
	struct auth_taken	 tk;

	(void)state;
	memset(raw, 0, sizeof(raw));
	make_taken(&tk);
	tk.hdr.h.size = sizeof(tk) + 1;
	memcpy(raw, &tk, sizeof(tk));
	assert_int_equal(validate(raw, sizeof(tk) + 1), -1);
	/* A taken message padded to the size of a reply is still a taken. */
	tk.hdr.h.size = sizeof(rep);
	memcpy(raw, &tk, sizeof(tk));
	assert_int_equal(validate(raw, sizeof(rep)), -1);
	make_reply(&rep);
	rep.hdr.h.size = sizeof(rep) + 8;
	memcpy(raw, &rep, sizeof(rep));
	assert_int_equal(validate(raw, sizeof(raw)), -1);
}

static void
test_size_field_mismatch_fails(void **state)
{
	struct auth_request	 req;

	(void)state;
	make_request(&req);
	req.hdr.h.size = AUTH_REQUEST_MIN + 1;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	req.hdr.h.size = AUTH_REQUEST_MIN - 1;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	req.hdr.h.size = 0;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
}

static void
test_wrong_version_fails(void **state)
{
	struct auth_taken	 tk;

	(void)state;
	make_taken(&tk);
	tk.hdr.h.version = 0;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
	tk.hdr.h.version = AUTH_PROTO_VERSION + 1;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
	tk.hdr.h.version = UINT16_MAX;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
}

static void
test_wrong_type_fails(void **state)
{
	struct auth_taken	 tk;

	(void)state;
	make_taken(&tk);
	tk.hdr.h.type = 0;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
	tk.hdr.h.type = AUTH_MSG_REPLY + 1;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
	tk.hdr.h.type = UINT16_MAX;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
	/* A known type whose size is not this message's. */
	tk.hdr.h.type = AUTH_MSG_REQUEST;
	assert_int_equal(validate(&tk, sizeof(tk)), -1);
}

static void
test_unterminated_request_fields_fail(void **state)
{
	static const struct {
		size_t	 off;
		size_t	 len;
	} fields[] = {
		{ offsetof(struct auth_request, user), HTTP_CRED_MAX + 1 },
		{ offsetof(struct auth_request, password), HTTP_CRED_MAX + 1 },
		{ offsetof(struct auth_request, host), HTTP_HOST_MAX + 1 },
		{ offsetof(struct auth_request, client), AUTH_ADDR_MAX },
		{ offsetof(struct auth_request, tls_version), 16 },
		{ offsetof(struct auth_request, tls_cipher), AUTH_NAME_MAX },
	};
	struct auth_request	 req;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		make_request(&req);
		memset((uint8_t *)&req + fields[i].off, 'A', fields[i].len);
		assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	}
}

static void
test_unterminated_reply_fields_fail(void **state)
{
	struct auth_reply	 rep;

	(void)state;
	make_reply(&rep);
	memset(rep.rule, 'A', sizeof(rep.rule));
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
	make_reply(&rep);
	memset(rep.resolved, 'A', sizeof(rep.resolved));
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
	make_reply(&rep);
	memset(rep.reason, 'A', sizeof(rep.reason));
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
	make_reply(&rep);
	memset(rep.user, 'A', sizeof(rep.user));
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
}

static void
test_bad_verdict_fails(void **state)
{
	struct auth_reply	 rep;

	(void)state;
	make_reply(&rep);
	rep.verdict = 0;
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
	rep.verdict = AUTH_VERDICT_MAX + 1;
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
	rep.verdict = UINT32_MAX;
	assert_int_equal(validate(&rep, sizeof(rep)), -1);
}

static void
test_request_without_target_fails(void **state)
{
	struct auth_request	 req;

	(void)state;
	make_request(&req);
	req.port = 0;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	make_request(&req);
	memset(req.host, 0, sizeof(req.host));
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
}

/* A request is as long as its certificate chain says, and no longer. */
static void
test_request_size_follows_its_chain(void **state)
{
	static struct auth_request	 req;
	size_t				 n;

	(void)state;
	make_request(&req);
	req.chain_len = 700;
	n = AUTH_REQUEST_SIZE(&req);
	req.hdr.h.size = (uint32_t)n;
	assert_int_equal(validate(&req, n), AUTH_MSG_REQUEST);
	req.hdr.h.size = (uint32_t)(n - 1);
	assert_int_equal(validate(&req, n - 1), -1);
	req.hdr.h.size = (uint32_t)AUTH_REQUEST_MIN;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	req.chain_len = TG_MAX_CLIENT_CHAIN_BYTES;
	req.hdr.h.size = sizeof(req);
	assert_int_equal(validate(&req, sizeof(req)), AUTH_MSG_REQUEST);
	req.chain_len = TG_MAX_CLIENT_CHAIN_BYTES + 1;
	assert_int_equal(validate(&req, sizeof(req)), -1);
	make_request(&req);
	req.listener = TG_MAX_LISTENERS;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), -1);
	req.listener = TG_MAX_LISTENERS - 1;
	assert_int_equal(validate(&req, AUTH_REQUEST_MIN), AUTH_MSG_REQUEST);
}

static void
test_each_type_goes_one_way_only(void **state)
{
	struct auth_request	 req;
	struct auth_reply	 rep;
	struct auth_taken	 tk;

	(void)state;
	make_request(&req);
	assert_int_equal(validate_as(&req, AUTH_REQUEST_MIN, MSG_GATE, MSG_AUTH), 0);
	assert_int_equal(validate_as(&req, AUTH_REQUEST_MIN, MSG_AUTH, MSG_GATE), -1);
	/* A gate worker cannot answer its own request. */
	make_reply(&rep);
	assert_int_equal(validate_as(&rep, sizeof(rep), MSG_AUTH, MSG_GATE), 0);
	assert_int_equal(validate_as(&rep, sizeof(rep), MSG_GATE, MSG_AUTH), -1);
	make_taken(&tk);
	assert_int_equal(validate_as(&tk, sizeof(tk), MSG_GATE, MSG_AUTH), -1);
	/* Nobody else speaks this protocol. */
	assert_int_equal(validate_as(&req, AUTH_REQUEST_MIN, MSG_RELAY, MSG_AUTH), -1);
	assert_int_equal(validate_as(&req, AUTH_REQUEST_MIN, MSG_GATE, MSG_MASTER),
	    -1);
}

static void
test_only_an_allow_carries_a_descriptor(void **state)
{
	struct auth_request	 req;
	struct auth_reply	 rep;
	struct auth_taken	 tk;

	(void)state;
	make_request(&req);
	assert_int_equal(validate_fds(&req, AUTH_REQUEST_MIN, 1), -1);
	make_taken(&tk);
	assert_int_equal(validate_fds(&tk, sizeof(tk), 1), -1);
	make_reply(&rep);
	assert_int_equal(validate_fds(&rep, sizeof(rep), 1), AUTH_MSG_REPLY);
	assert_int_equal(validate_fds(&rep, sizeof(rep), 2), -1);
	rep.verdict = AUTH_POLICY_DENY;
	assert_int_equal(validate_fds(&rep, sizeof(rep), 1), -1);
	assert_int_equal(validate_fds(&rep, sizeof(rep), 0), AUTH_MSG_REPLY);
}

static void
test_verdict_status_and_name(void **state)
{
	(void)state;
	assert_int_equal(auth_verdict_status(AUTH_ALLOW), 200);
	assert_int_equal(auth_verdict_status(AUTH_BAD_CREDENTIALS), 407);
	assert_int_equal(auth_verdict_status(AUTH_ACCOUNT_UNUSABLE), 407);
	assert_int_equal(auth_verdict_status(AUTH_POLICY_DENY), 403);
	assert_int_equal(auth_verdict_status(AUTH_BACKEND_REFUSED), 502);
	assert_int_equal(auth_verdict_status(AUTH_BACKEND_TIMEOUT), 504);
	assert_int_equal(auth_verdict_status(AUTH_UNAVAILABLE), 503);
	assert_int_equal(auth_verdict_status((enum auth_verdict)0), 503);
	assert_string_equal(auth_verdict_name(AUTH_ALLOW), "allow");
	assert_string_equal(auth_verdict_name(AUTH_BAD_CREDENTIALS),
	    "bad_credentials");
	assert_string_equal(auth_verdict_name(AUTH_ACCOUNT_UNUSABLE),
	    "account_unusable");
	assert_string_equal(auth_verdict_name(AUTH_POLICY_DENY), "policy_deny");
	assert_string_equal(auth_verdict_name(AUTH_BACKEND_REFUSED),
	    "backend_refused");
	assert_string_equal(auth_verdict_name(AUTH_BACKEND_TIMEOUT),
	    "backend_timeout");
	assert_string_equal(auth_verdict_name(AUTH_UNAVAILABLE), "unavailable");
	assert_string_equal(auth_verdict_name((enum auth_verdict)99), "unknown");
}

static void
test_now_ms_is_monotonic(void **state)
{
	int64_t	 a, b;

	(void)state;
	a = auth_now_ms();
	b = auth_now_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_sets_header),
		cmocka_unit_test(test_valid_messages_pass),
		cmocka_unit_test(test_full_length_strings_pass),
		cmocka_unit_test(test_unaligned_buffer_passes),
		cmocka_unit_test(test_short_messages_fail),
		cmocka_unit_test(test_long_messages_fail),
		cmocka_unit_test(test_size_field_mismatch_fails),
		cmocka_unit_test(test_wrong_version_fails),
		cmocka_unit_test(test_wrong_type_fails),
		cmocka_unit_test(test_unterminated_request_fields_fail),
		cmocka_unit_test(test_unterminated_reply_fields_fail),
		cmocka_unit_test(test_bad_verdict_fails),
		cmocka_unit_test(test_request_without_target_fails),
		cmocka_unit_test(test_request_size_follows_its_chain),
		cmocka_unit_test(test_each_type_goes_one_way_only),
		cmocka_unit_test(test_only_an_allow_carries_a_descriptor),
		cmocka_unit_test(test_verdict_status_and_name),
		cmocka_unit_test(test_now_ms_is_monotonic),
	};

	return cmocka_run_group_tests_name("auth_proto", tests, NULL, NULL);
}
