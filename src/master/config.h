/*
 * tunnelgated.conf: parsed and validated once by the master, then inherited by
 * every child at fork. Reload builds a new struct config and forks a new
 * generation of children from it.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "netaddr.h"
#include "tg_limits.h"

#ifndef TG_DEFAULT_CONTROL_SOCKET
#define TG_DEFAULT_CONTROL_SOCKET	"/run/tunnelgated.sock"
#endif

/* listen[].client_auth: whether the TLS handshake asks for a certificate. */
enum client_auth { CLIENT_AUTH_NONE = 0, CLIENT_AUTH_OPTIONAL,
	CLIENT_AUTH_REQUIRE };

struct config_listener {
	char		 address[64];	/* numeric IPv4 or IPv6 */
	uint16_t	 port;
	int		 backlog;
	/*
	 * PROXY protocol versions required before TLS (PROXY_V1 | PROXY_V2,
	 * proxy_proto.h); 0: none. Then only the balancers' networks may
	 * connect at all.
	 */
	unsigned	 proxy_protocol;
	struct netaddr_net proxy_trusted[TG_MAX_PROXY_TRUSTED];
	unsigned	 n_proxy_trusted;
	/*
	 * Client certificates: verified in the handshake against client_ca_file
	 * (and client_crl_file, "" = none), again by the authenticator.
	 */
	enum client_auth client_auth;
	char		 client_ca_file[PATH_MAX];
	char		 client_crl_file[PATH_MAX];
	unsigned	 client_verify_depth;	/* intermediates allowed */
};

/* The system users `make install` creates for the unprivileged roles. */
#define TG_DEFAULT_GATE_USER	"tunnelgate-gate"
#define TG_DEFAULT_RELAY_USER	"tunnelgate-relay"
#define TG_DEFAULT_KEY_USER	"tunnelgate-key"

/*
 * A user an unprivileged role runs as. Whether it exists and may be used is
 * checked apart from loading (privsep.c), against the system's users; where
 * names the setting for that check's messages.
 */
struct config_user {
	char		 name[TG_USER_NAME_SIZE];
	char		 where[PATH_MAX + 64];	/* "FILE:LINE: privsep.gate_user" */
	bool		 is_default;		/* not set in the file */
};

enum auth_backend { AUTH_BACKEND_PAM = 1, AUTH_BACKEND_LDAP = 2 };

/* auth.identity: what names the user. */
enum auth_identity { AUTH_IDENTITY_PASSWORD = 0, AUTH_IDENTITY_CERT,
	AUTH_IDENTITY_CERT_PASSWORD };
/* auth.certificate_name: the field of a verified certificate that does. */
enum cert_name_field { CERT_NAME_SUBJECT_CN = 0, CERT_NAME_SAN_EMAIL,
	CERT_NAME_SAN_URI };

#define CONFIG_LDAP_MAX_URIS	8
#define CONFIG_LDAP_URI_MAX	256
#define CONFIG_LDAP_STR_MAX	512	/* DNs, filters, templates */
#define CONFIG_LDAP_ATTR_MAX	64

enum config_ldap_bind { CONFIG_LDAP_BIND_SEARCH = 1, CONFIG_LDAP_BIND_TEMPLATE };
enum config_ldap_groups { CONFIG_LDAP_GROUPS_MEMBEROF = 1,
	CONFIG_LDAP_GROUPS_SEARCH };
enum config_ldap_scope { CONFIG_LDAP_SCOPE_BASE = 1, CONFIG_LDAP_SCOPE_ONE,
	CONFIG_LDAP_SCOPE_SUB };

/* auth.ldap; templates hold %u (user), %d (user DN), %% (a '%'). */
struct config_ldap {
	char			 uris[CONFIG_LDAP_MAX_URIS][CONFIG_LDAP_URI_MAX];
	unsigned		 n_uris;	/* tried in this order */
	bool			 starttls;	/* on ldap:// URIs */
	bool			 tls_verify;
	char			 tls_ca_file[PATH_MAX];	/* "" = system trust */
	char			 tls_certificate[PATH_MAX];	/* "" = none */
	char			 tls_key[PATH_MAX];

	enum config_ldap_bind	 bind_mode;
	char			 bind_dn[CONFIG_LDAP_STR_MAX];	/* service account */
	char			 bind_password_file[PATH_MAX];
	char			 user_base[CONFIG_LDAP_STR_MAX];
	enum config_ldap_scope	 user_scope;
	char			 user_filter[CONFIG_LDAP_STR_MAX];
	char			 dn_template[CONFIG_LDAP_STR_MAX];
	/* The user entry's attribute naming the account (policy, audit). */
	char			 name_attribute[CONFIG_LDAP_ATTR_MAX];
	char			 account_filter[CONFIG_LDAP_STR_MAX]; /* "" = none */

	enum config_ldap_groups	 group_mode;
	char			 memberof_attribute[CONFIG_LDAP_ATTR_MAX];
	char			 group_base[CONFIG_LDAP_STR_MAX];
	enum config_ldap_scope	 group_scope;
	char			 group_filter[CONFIG_LDAP_STR_MAX];
	char			 group_name_attribute[CONFIG_LDAP_ATTR_MAX];

	unsigned		 timeout_connect_ms;
	unsigned		 timeout_operation_ms;
	unsigned		 backoff_ms;	/* a failed server rests this long */
};

struct config {
	char			 path[PATH_MAX];	/* this file, absolute */

	struct config_listener	 listeners[TG_MAX_LISTENERS];
	unsigned		 n_listeners;

	char			 tls_certificate[PATH_MAX];	/* chain, PEM */
	char			 tls_key[PATH_MAX];
	int			 tls_min_version;	/* TLS1_2_VERSION/TLS1_3_VERSION */
	char			 tls13_ciphersuites[512];
	char			 tls12_ciphers[512];
	/* Session ticket keys rotate this often; 0: no tickets. */
	unsigned		 tls_ticket_key_lifetime_ms;

	unsigned		 gate_workers;
	unsigned		 auth_workers;
	unsigned		 relay_workers;	/* 0: tunnels stay in gate workers */
	unsigned		 restart_delay_ms;	/* after a quick death */

	struct config_user	 gate_user, relay_user, key_user;
	char			 chroot_dir[PATH_MAX];

	enum auth_backend	 auth_backend;
	char			 auth_realm[64];
	char			 pam_service[64];
	char			 pam_confdir[PATH_MAX];	/* "" = system /etc/pam.d */
	unsigned		 auth_failure_delay_ms;	/* every 407 after credentials */
	unsigned		 pam_min_uid;	/* lower uids are system accounts */
	enum auth_identity	 auth_identity;
	enum cert_name_field	 auth_cert_name;
	/* san_uri: the URI must start with it; the rest is the name. */
	char			 auth_cert_uri_prefix[TG_CERT_URI_PREFIX_SIZE];
	struct config_ldap	 ldap;
	/* Live tunnels' accounts are re-checked this often; 0: never. */
	unsigned		 auth_recheck_interval_ms;

	unsigned		 cache_positive_ttl_ms;
	unsigned		 cache_negative_ttl_ms;
	unsigned		 cache_max_entries;

	/* Every wait is bounded; all in milliseconds. */
	unsigned		 timeout_handshake_ms;
	unsigned		 timeout_request_ms;
	unsigned		 timeout_auth_ms;
	unsigned		 timeout_dns_ms;
	unsigned		 timeout_connect_ms;
	unsigned		 timeout_idle_ms;
	unsigned		 timeout_drain_ms;
	unsigned		 timeout_hang_ms;	/* heartbeat.c */

	unsigned		 limit_connections;	/* per gate worker */
	unsigned		 limit_header_bytes;
	unsigned		 limit_buffer_bytes;	/* per tunnel direction */
	unsigned		 limit_pending_auth;	/* per gate worker */
	/* Across every gate worker; 0: no limit of that kind. */
	unsigned		 limit_total_connections;
	unsigned		 limit_source_connections;
	unsigned		 limit_source_rate;	/* new connections a minute */
	unsigned		 limit_ipv6_prefix;	/* one source: this /N */
	unsigned		 limit_user_rate;	/* new tunnels a minute */
	unsigned		 limit_tunnel_lifetime_ms;	/* 0: none */
	unsigned		 limit_user_tunnels;	/* open at once */

	/* Failed logins before PAM or LDAP is asked; 0 failures: off. */
	unsigned		 throttle_source_failures;
	unsigned		 throttle_user_failures;
	unsigned		 throttle_window_ms;	/* a budget refills over it */
	unsigned		 throttle_lockout_ms;	/* the first; doubling */
	unsigned		 throttle_lockout_max_ms;

	char			 audit_file[PATH_MAX];
	bool			 audit_syslog;
	unsigned		 audit_progress_interval_ms;	/* 0: none */

	/* The master's root-only socket for tunnelgatectl. */
	char			 control_socket[TG_CONTROL_PATH_SIZE];

	/* Prometheus endpoint: "ADDR:PORT" on loopback, a socket path, "": off. */
	char			 metrics_listen[TG_CONTROL_PATH_SIZE];

	bool			 log_syslog;
	enum log_level		 log_level;

	char			 policy_file[PATH_MAX];
	/* After a reload, end live tunnels the new policy denies. */
	bool			 policy_recheck_live;
};

/*
 * Parse and validate FILE into *cfg. Relative paths in the file are resolved
 * against the file's directory. Every problem is logged as
 * "FILE:LINE: SETTING: what is wrong"; unknown settings are errors.
 * Returns 0, or -1 after logging at least one error.
 */
int	 config_load(const char *file, struct config *cfg);

#endif
