#ifndef TG_RELAY_WORKER_H
#define TG_RELAY_WORKER_H

/* `tunnelgated -R`, exec'd by the master; does not return. */
__attribute__((noreturn)) void relay_worker_main(void);

#endif
