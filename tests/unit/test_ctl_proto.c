/*
 * The control table by role: which child may send which audit events
 * (docs/audit-log.md, "Events"), who may send and receive each other type,
 * and which types carry a descriptor. The master kills a child for
 * anything refused here, so each refusal is pinned down, and so is the
 * acceptance of everything the daemon itself sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

static int
accepts(const void *msg, size_t n, size_t nfds, unsigned from, unsigned to)
{
	const char	*why = NULL;

	if (msg_validate(&ctl_proto, msg, n, nfds, from, to, &why) != NULL)
		return 1;
	assert_non_null(why);
	return 0;
}

static struct ctl_audit
audit(enum audit_event ev)
{
	struct ctl_audit	 m;

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT);
	m.rec.event = ev;
	if (ev == AUDIT_CLOSE)
		m.rec.closed_by = AUDIT_BY_CLIENT;
	return m;
}

static int
role_sends(unsigned role, enum audit_event ev)
{
	struct ctl_audit	 m = audit(ev);

	if (role == MSG_GATE && ev == AUDIT_AUTH_FAIL)
		AUDIT_SET(m.rec.reason, AUDIT_REASON_NO_CREDENTIALS);
	return accepts(&m, sizeof(m), 0, role, MSG_MASTER);
}

static void
test_each_role_sends_only_its_own_events(void **state)
{
	static const struct {
		unsigned	 role;
		const char	*events;	/* by enum value, from 1 */
	} cases[] = {
		/* auth_fail deny allow error lockout */
		{ MSG_AUTH, "yyyynnnynnnnn" },
		{ MSG_GATE, "ynnyyynnnnnnn" },	/* auth_fail error open close */
		{ MSG_RELAY, "nnnnnynnnnnnn" },	/* close */
		{ MSG_MASTER, "nnnnnnnnnnnnn" },	/* writes its own, sends none */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(strlen(cases[i].events), AUDIT_EVENT_MAX);
		for (unsigned ev = AUDIT_AUTH_FAIL; ev <= AUDIT_EVENT_MAX; ev++)
			assert_int_equal(role_sends(cases[i].role, ev),
			    cases[i].events[ev - 1] == 'y');
	}
}

static void
test_a_gate_workers_auth_fail_is_only_no_credentials(void **state)
{
	struct ctl_audit	 m = audit(AUDIT_AUTH_FAIL);

	(void)state;
	AUDIT_SET(m.rec.reason, "bad password");
	assert_false(accepts(&m, sizeof(m), 0, MSG_GATE, MSG_MASTER));
	assert_true(accepts(&m, sizeof(m), 0, MSG_AUTH, MSG_MASTER));
	AUDIT_SET(m.rec.reason, AUDIT_REASON_NO_CREDENTIALS);
	AUDIT_SET(m.rec.user, "alice");
	assert_false(accepts(&m, sizeof(m), 0, MSG_GATE, MSG_MASTER));
	m.rec.user[0] = '\0';
	assert_true(accepts(&m, sizeof(m), 0, MSG_GATE, MSG_MASTER));
}

static void
test_no_descriptor_reaches_the_master(void **state)
{
	struct ctl_audit	 m = audit(AUDIT_OPEN);

	(void)state;
	assert_true(accepts(&m, sizeof(m), 0, MSG_GATE, MSG_MASTER));
	assert_false(accepts(&m, sizeof(m), 1, MSG_GATE, MSG_MASTER));
	assert_false(accepts(&m, sizeof(m), 2, MSG_GATE, MSG_MASTER));
}

static void
test_relay_workers_no_longer_report_a_load(void **state)
{
	struct {
		struct msg_hdr	 hdr;
		uint32_t	 tunnels, pad;
	} load = { { CTL_PROTO_VERSION, 5, 16 }, 0, 0 };

	(void)state;
	for (unsigned role = MSG_MASTER; role <= MSG_RELAY; role <<= 1)
		assert_false(accepts(&load, sizeof(load), 0, MSG_RELAY, role));
}

static void
test_handoff_reports_come_from_gate_workers(void **state)
{
	struct ctl_handoff	 h;

	(void)state;
	memset(&h, 0, sizeof(h));
	ctl_hdr_init(&h.hdr, CTL_HANDOFF);
	assert_true(accepts(&h, sizeof(h), 0, MSG_GATE, MSG_MASTER));
	assert_false(accepts(&h, sizeof(h), 0, MSG_RELAY, MSG_MASTER));
	assert_false(accepts(&h, sizeof(h), 0, MSG_AUTH, MSG_MASTER));
	ctl_hdr_init(&h.hdr, CTL_HANDOFF_FAILED);
	assert_true(accepts(&h, sizeof(h), 0, MSG_GATE, MSG_MASTER));
	assert_false(accepts(&h, sizeof(h), 0, MSG_RELAY, MSG_MASTER));
}

static void
test_gate_reports_and_sockets_between_master_and_authenticators(void **state)
{
	struct ctl_gate_broke	 b;
	struct ctl_auth_socket	 s;

	(void)state;
	memset(&b, 0, sizeof(b));
	ctl_hdr_init(&b.hdr, CTL_GATE_BROKE);
	AUDIT_SET(b.why, "wrong size for the message type");
	assert_true(accepts(&b, sizeof(b), 0, MSG_AUTH, MSG_MASTER));
	assert_false(accepts(&b, sizeof(b), 0, MSG_GATE, MSG_MASTER));
	memset(b.why, 'x', sizeof(b.why));
	assert_false(accepts(&b, sizeof(b), 0, MSG_AUTH, MSG_MASTER));

	memset(&s, 0, sizeof(s));
	ctl_hdr_init(&s.hdr, CTL_AUTH_SOCKET);
	assert_true(accepts(&s, sizeof(s), 1, MSG_MASTER, MSG_AUTH));
	assert_false(accepts(&s, sizeof(s), 0, MSG_MASTER, MSG_AUTH));
	assert_false(accepts(&s, sizeof(s), 1, MSG_MASTER, MSG_GATE));
}

static void
test_what_the_master_sends_goes_to_its_role_only(void **state)
{
	struct ctl_auth_status	 st;
	struct ctl_relay_loads	 l;

	(void)state;
	memset(&st, 0, sizeof(st));
	ctl_hdr_init(&st.hdr, CTL_AUTH_STATUS);
	assert_true(accepts(&st, sizeof(st), 0, MSG_MASTER, MSG_GATE));
	assert_false(accepts(&st, sizeof(st), 0, MSG_MASTER, MSG_RELAY));
	assert_false(accepts(&st, sizeof(st), 0, MSG_GATE, MSG_MASTER));
	memset(&l, 0, sizeof(l));
	ctl_hdr_init(&l.hdr, CTL_RELAY_LOADS);
	l.n = TG_MAX_RELAY_WORKERS;
	assert_true(accepts(&l, sizeof(l), 0, MSG_MASTER, MSG_GATE));
	l.n = TG_MAX_RELAY_WORKERS + 1;
	assert_false(accepts(&l, sizeof(l), 0, MSG_MASTER, MSG_GATE));
}

static void
test_ticket_keys_go_to_gate_workers_whole(void **state)
{
	struct ctl_ticket_keys	 k;

	(void)state;
	memset(&k, 0, sizeof(k));
	ctl_hdr_init(&k.hdr, CTL_TICKET_KEYS);
	k.n = 1;
	memset(&k.key[0], 0x11, sizeof(k.key[0]));
	assert_true(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_RELAY));
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_AUTH));
	assert_false(accepts(&k, sizeof(k), 0, MSG_GATE, MSG_MASTER));
	k.n = 2;	/* the second slot is empty */
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	memset(&k.key[1], 0x11, sizeof(k.key[1]));	/* same name */
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	k.key[1].name[0] = 0x22;
	assert_true(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	memset(k.key[1].hmac_key, 0, sizeof(k.key[1].hmac_key));
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	k.n = 1;	/* a key past n must be zero */
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	k.n = 0;
	memset(&k.key[1], 0, sizeof(k.key[1]));
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
	k.n = TG_TICKET_KEYS + 1;
	assert_false(accepts(&k, sizeof(k), 0, MSG_MASTER, MSG_GATE));
}

static void
test_recheck_questions_go_from_the_master_to_authenticators(void **state)
{
	struct ctl_recheck	 q;

	(void)state;
	memset(&q, 0, sizeof(q));
	ctl_hdr_init(&q.hdr, CTL_RECHECK);
	q.serial = 1;
	AUDIT_SET(q.user, "alice");
	assert_true(accepts(&q, sizeof(q), 0, MSG_MASTER, MSG_AUTH));
	assert_false(accepts(&q, sizeof(q), 0, MSG_MASTER, MSG_GATE));
	assert_false(accepts(&q, sizeof(q), 0, MSG_AUTH, MSG_MASTER));
	assert_false(accepts(&q, sizeof(q), 1, MSG_MASTER, MSG_AUTH));
	q.serial = 0;
	assert_false(accepts(&q, sizeof(q), 0, MSG_MASTER, MSG_AUTH));
	q.serial = 1;
	q.user[0] = '\0';
	assert_false(accepts(&q, sizeof(q), 0, MSG_MASTER, MSG_AUTH));
}

static void
test_pings_go_to_every_child_and_pongs_back(void **state)
{
	static const unsigned	 children[] = { MSG_AUTH, MSG_GATE, MSG_RELAY,
				    MSG_KEY, MSG_METRICS };
	struct ctl_ping		 p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.serial = 7;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		ctl_hdr_init(&p.hdr, CTL_PING);
		assert_true(accepts(&p, sizeof(p), 0, MSG_MASTER, children[i]));
		assert_false(accepts(&p, sizeof(p), 0, children[i], MSG_MASTER));
		ctl_hdr_init(&p.hdr, CTL_PONG);
		assert_true(accepts(&p, sizeof(p), 0, children[i], MSG_MASTER));
		assert_false(accepts(&p, sizeof(p), 0, MSG_MASTER, children[i]));
		assert_false(accepts(&p, sizeof(p), 1, children[i], MSG_MASTER));
	}
	p.serial = 0;
	assert_false(accepts(&p, sizeof(p), 0, MSG_GATE, MSG_MASTER));
}

static struct ctl_recheck_reply
recheck_reply(enum ctl_recheck_status status, const char *groups, size_t len,
    uint32_t n)
{
	struct ctl_recheck_reply	 r;

	memset(&r, 0, sizeof(r));
	ctl_hdr_init(&r.hdr, CTL_RECHECK_REPLY);
	r.serial = 7;
	r.status = status;
	AUDIT_SET(r.user, "alice");
	memcpy(r.groups, groups, len);
	r.n_groups = n;
	return r;
}

static void
test_recheck_answers_hold_exactly_their_groups(void **state)
{
	struct ctl_recheck_reply	 r;

	(void)state;
	r = recheck_reply(CTL_RECHECK_OK, "ops\0dev", 8, 2);
	assert_true(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	assert_false(accepts(&r, sizeof(r), 0, MSG_GATE, MSG_MASTER));
	assert_false(accepts(&r, sizeof(r), 0, MSG_MASTER, MSG_AUTH));
	r.n_groups = 1;		/* "dev" would hide past the count */
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r.n_groups = 3;		/* an empty name */
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r = recheck_reply(CTL_RECHECK_REVOKED, "ops", 4, 1);
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r = recheck_reply(CTL_RECHECK_REVOKED, "", 0, 0);
	assert_true(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r.status = CTL_RECHECK_UNAVAILABLE + 1;
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r = recheck_reply(CTL_RECHECK_OK, "", 0, 0);
	memset(r.groups, 'g', sizeof(r.groups));	/* unterminated */
	r.n_groups = 1;
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
	r = recheck_reply(CTL_RECHECK_OK, "", 0, 0);
	memset(r.reason, 'x', sizeof(r.reason));
	assert_false(accepts(&r, sizeof(r), 0, MSG_AUTH, MSG_MASTER));
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_each_role_sends_only_its_own_events),
		cmocka_unit_test(test_a_gate_workers_auth_fail_is_only_no_credentials),
		cmocka_unit_test(test_no_descriptor_reaches_the_master),
		cmocka_unit_test(test_relay_workers_no_longer_report_a_load),
		cmocka_unit_test(test_handoff_reports_come_from_gate_workers),
		cmocka_unit_test(
		    test_gate_reports_and_sockets_between_master_and_authenticators),
		cmocka_unit_test(test_what_the_master_sends_goes_to_its_role_only),
		cmocka_unit_test(test_ticket_keys_go_to_gate_workers_whole),
		cmocka_unit_test(
		    test_recheck_questions_go_from_the_master_to_authenticators),
		cmocka_unit_test(test_recheck_answers_hold_exactly_their_groups),
		cmocka_unit_test(test_pings_go_to_every_child_and_pongs_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
