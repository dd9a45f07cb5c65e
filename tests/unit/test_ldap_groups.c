/*
 * Group names from a memberOf-style attribute, on entries as a directory
 * sends them: libldap reads a hand-made search answer from a socketpair, so
 * the test can send what slapd never would (Active Directory's ranged
 * attributes).
 */
#include <sys/socket.h>

#include <lber.h>
#include <ldap.h>
#include <openldap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth_ldap.h"

#define ENTRY_DN	"uid=alice,ou=people,dc=example"

struct answer {
	LDAP		*ld;
	LDAPMessage	*res;
	int		 peer;
};

static void
send_ber(int fd, BerElement *ber)
{
	struct berval	 bv;

	assert_int_equal(ber_flatten2(ber, &bv, 0), 0);
	assert_int_equal(write(fd, bv.bv_val, bv.bv_len), (ssize_t)bv.bv_len);
	ber_free(ber, 1);
}

/*
 * One entry with attribute type carrying vals (NULL-terminated), then the
 * search's end, as the answer to a search libldap sent on a socketpair.
 */
static void
answer(struct answer *a, const char *type, const char *const *vals)
{
	char		*attrs[] = { (char *)(uintptr_t)"memberOf", NULL };
	char		 req[4096];
	struct timeval	 tv = { 5, 0 };
	BerElement	*ber;
	int		 sv[2], msgid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ldap_init_fd(sv[0], LDAP_PROTO_TCP, NULL, &a->ld),
	    LDAP_SUCCESS);
	a->peer = sv[1];
	assert_int_equal(ldap_search_ext(a->ld, ENTRY_DN, LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 0, NULL, NULL, NULL, 0, &msgid),
	    LDAP_SUCCESS);
	assert_true(read(a->peer, req, sizeof(req)) > 0);

	assert_non_null(ber = ber_alloc_t(LBER_USE_DER));
	assert_true(ber_printf(ber, "{it{s{{s[", msgid,
	    (ber_tag_t)LDAP_RES_SEARCH_ENTRY, ENTRY_DN, type) != -1);
	for (; *vals != NULL; vals++)
		assert_true(ber_printf(ber, "s", *vals) != -1);
	assert_true(ber_printf(ber, "]}}}}") != -1);
	send_ber(a->peer, ber);
	assert_non_null(ber = ber_alloc_t(LBER_USE_DER));
	assert_true(ber_printf(ber, "{it{ess}}", msgid,
	    (ber_tag_t)LDAP_RES_SEARCH_RESULT, (ber_int_t)LDAP_SUCCESS, "",
	    "") != -1);
	send_ber(a->peer, ber);
	assert_int_equal(ldap_result(a->ld, msgid, LDAP_MSG_ALL, &tv, &a->res),
	    LDAP_RES_SEARCH_RESULT);
}

static void
answer_done(struct answer *a)
{
	ldap_msgfree(a->res);
	ldap_unbind_ext(a->ld, NULL, NULL);
	close(a->peer);
}

static void
groups_of(const char *type, const char *const *vals, struct aldap_groups *g)
{
	struct answer	 a;
	LDAPMessage	*e;

	memset(g, 0, sizeof(*g));
	answer(&a, type, vals);
	assert_non_null(e = ldap_first_entry(a.ld, a.res));
	aldap_groups_memberof(a.ld, e, "memberOf", g);
	answer_done(&a);
}

static void
test_memberof_values_are_group_names(void **state)
{
	static const char *const	 vals[] = { "cn=ops,ou=groups,dc=example",
	    "CN=Domain Users,CN=Users,DC=example", "not a dn", NULL };
	static struct aldap_groups	 g;

	(void)state;
	groups_of("memberOf", vals, &g);
	assert_false(g.overflow);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.name[0], "ops");
	assert_string_equal(g.name[1], "Domain Users");
}

/* More values than the server sends at once: refused, not taken as none. */
static void
test_ranged_memberof_is_too_many_groups(void **state)
{
	static const char *const	 vals[] = { "cn=ops,ou=groups,dc=example",
	    NULL };
	static struct aldap_groups	 g;

	(void)state;
	groups_of("memberOf;range=0-1499", vals, &g);
	assert_true(g.overflow);
	groups_of("MEMBEROF;Range=0-*", vals, &g);
	assert_true(g.overflow);
	/* Another attribute, or another option, is not a range. */
	groups_of("memberOfOther;range=0-1", vals, &g);
	assert_false(g.overflow);
	assert_int_equal(g.n, 0);
	groups_of("memberOf;x-tag", vals, &g);
	assert_false(g.overflow);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memberof_values_are_group_names),
		cmocka_unit_test(test_ranged_memberof_is_too_many_groups),
	};

	return cmocka_run_group_tests_name("ldap_groups", tests, NULL, NULL);
}
