#include <errno.h>
#include <poll.h>
#include <string.h>

#include "ctl.h"
#include "ipc.h"
#include "log.h"

void
ctl_hdr_init(struct ctl_hdr *h, enum ctl_type type, size_t size)
{
	h->version = CTL_PROTO_VERSION;
	h->type = (uint16_t)type;
	h->size = (uint32_t)size;
}

int
ctl_msg_validate(const void *msg, size_t n)
{
	struct ctl_hdr	 h;
	size_t		 want;

	if (n < sizeof(h))
		return -1;
	memcpy(&h, msg, sizeof(h));
	if (h.version != CTL_PROTO_VERSION || h.size != n)
		return -1;
	switch (h.type) {
	case CTL_AUDIT:
		want = sizeof(struct ctl_audit);
		break;
	case CTL_AUTH_STATUS:
		want = sizeof(struct ctl_auth_status);
		break;
	case CTL_RETIRE:
		want = sizeof(struct ctl_retire);
		break;
	case CTL_RELAY_INIT:
		want = sizeof(struct ctl_relay_init);
		break;
	case CTL_RELAY_LOAD:
		want = sizeof(struct ctl_relay_load);
		break;
	case CTL_RELAY_LOADS:
		want = sizeof(struct ctl_relay_loads);
		break;
	default:
		return -1;
	}
	if (n != want)
		return -1;
	if (h.type == CTL_AUDIT &&
	    auditlog_record_validate(&((const struct ctl_audit *)msg)->rec) != 0)
		return -1;
	if (h.type == CTL_RELAY_INIT) {
		const struct ctl_relay_init *ri = msg;

		if (memchr(ri->user, '\0', sizeof(ri->user)) == NULL ||
		    memchr(ri->chroot_dir, '\0', sizeof(ri->chroot_dir)) == NULL)
			return -1;
	}
	if (h.type == CTL_RELAY_LOADS &&
	    ((const struct ctl_relay_loads *)msg)->n > TG_MAX_RELAY_WORKERS)
		return -1;
	return h.type;
}

void
ctl_send_audit(int ctl_fd, const struct audit_record *rec)
{
	struct ctl_audit	 m;
	struct pollfd		 pfd = { .fd = ctl_fd, .events = POLLOUT };

	memset(&m, 0, sizeof(m));
	ctl_hdr_init(&m.hdr, CTL_AUDIT, sizeof(m));
	m.rec = *rec;
	/* The master drains these promptly; wait a little rather than lose one. */
	while (ipc_send(ctl_fd, &m, sizeof(m), NULL, 0) == -1) {
		if (errno != EAGAIN || poll(&pfd, 1, 1000) != 1) {
			log_warn("%s: audit record for event %u lost", __func__,
			    rec->event);
			return;
		}
	}
}
