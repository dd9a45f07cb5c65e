/*
 * What `tunnelgated -t` checks, in one place: tunnelgated runs it before
 * starting and for -t, tunnelgatectl check runs it as the admin.
 */
#ifndef TG_CONFIG_CHECK_H
#define TG_CONFIG_CHECK_H

struct config;
struct policy;

/*
 * The configuration FILE (its file safety, every setting, the worker
 * users) and the policy it names. Every problem is logged; returns -1 if
 * there is one, else 0 with *cfg and *policy set (the caller frees them).
 */
int	 config_check_load(const char *file, struct config **cfg,
	    struct policy **policy);
/*
 * The certificate and key load and match, the listeners' client CAs load.
 * -1 and logged if not.
 */
int	 config_check_tls(const struct config *cfg);

#endif
