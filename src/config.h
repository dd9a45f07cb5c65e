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

#define CONFIG_MAX_LISTENERS	16

struct config_listener {
	char		 address[64];	/* numeric IPv4 or IPv6 */
	uint16_t	 port;
	int		 backlog;
};

enum auth_backend { AUTH_BACKEND_PAM = 1 };

struct config {
	char			 path[PATH_MAX];	/* this file, absolute */

	struct config_listener	 listeners[CONFIG_MAX_LISTENERS];
	unsigned		 n_listeners;

	char			 tls_certificate[PATH_MAX];	/* chain, PEM */
	char			 tls_key[PATH_MAX];
	int			 tls_min_version;	/* TLS1_2_VERSION/TLS1_3_VERSION */
	char			 tls13_ciphersuites[512];
	char			 tls12_ciphers[512];

	unsigned		 gate_workers;
	unsigned		 auth_workers;
	unsigned		 relay_workers;	/* 0: tunnels stay in gate workers */

	char			 user[64];	/* unprivileged children run as */
	char			 chroot_dir[PATH_MAX];

	enum auth_backend	 auth_backend;
	char			 auth_realm[64];
	char			 pam_service[64];
	char			 pam_confdir[PATH_MAX];	/* "" = system /etc/pam.d */

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

	unsigned		 limit_connections;	/* per gate worker */
	unsigned		 limit_header_bytes;
	unsigned		 limit_buffer_bytes;	/* per tunnel direction */
	unsigned		 limit_pending_auth;	/* per gate worker */

	char			 audit_file[PATH_MAX];
	bool			 audit_syslog;

	bool			 log_syslog;
	enum log_level		 log_level;

	char			 policy_file[PATH_MAX];
};

/*
 * Parse and validate FILE into *cfg. Relative paths in the file are resolved
 * against the file's directory. Every problem is logged as
 * "FILE:LINE: SETTING: what is wrong"; unknown settings are errors.
 * Returns 0, or -1 after logging at least one error.
 */
int	 config_load(const char *file, struct config *cfg);

#endif
