#include <sys/prctl.h>
#include <sys/resource.h>

#include "log.h"
#include "nodump.h"

void
nodump_enforce(void)
{
	struct rlimit	 none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) == -1)
		fatal("setrlimit RLIMIT_CORE 0");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE 0");
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatalx("this process is still dumpable after PR_SET_DUMPABLE 0");
}
