/*
 * Ownership and modes of every file and directory tunnelgated trusts, in the
 * manner of OpenSSH's safe_path(): the file (or directory) itself, the
 * directory holding it and every directory above that up to "/" must be
 * owned by root and not writable by group or others. Above the holding
 * directory a root-owned directory with the sticky bit (/tmp) also passes:
 * nobody else can rename or remove the root-owned entries in it. Keys and
 * passwords must also be unreadable by group and others.
 *
 * Each checked path is resolved (symbolic links, "..") and the resolved path
 * replaces it, so what is opened later is exactly what was checked. Every
 * problem is logged as "CONFIG: SETTING: PATH: what is wrong; what to do".
 * All return 0, or -1 after logging.
 */
#ifndef TG_FS_CHECK_H
#define TG_FS_CHECK_H

#include <stddef.h>

#include "config.h"

/* The configuration file and every file it @include's; real gets its path. */
int	 fs_check_config_file(const char *file, char *real, size_t size);
/*
 * Every path cfg names: policy, the PAM files libpam will load (service,
 * "other" and their includes) and the directories it finds them in, TLS
 * certificate and key, LDAP files, the audit log's directory and the audit
 * log if it exists, the chroot (or, if it does not exist yet, the directory
 * that will hold it).
 */
int	 fs_check_config(struct config *cfg);
/* Creates the chroot directory if it is missing, then checks it. */
int	 fs_prepare_chroot(struct config *cfg);
/* The audit log's directory, and the file if it exists, before opening. */
int	 fs_check_audit_path(const char *path);
/* The opened audit log: a regular file of root's, mode 0640 at most. */
int	 fs_check_audit_fd(int fd, const char *path);

#endif
