// The plan format's version tag; see cinit.c and cinit_linux.go.
#define CINIT_MAGIC 0x62727431u

#include <stddef.h>
#include <stdint.h>

long berth_cinit_spawn(const uint8_t *plan, size_t len, unsigned long cloneflags);

#include <sched.h>

// berth_ns_what names the join of a namespace type, for error messages
// (cinit.c and nsenter.c).
static inline const char *berth_ns_what(long flag) {
	switch (flag) {
	case CLONE_NEWUSER: return "join user namespace";
	case CLONE_NEWNS: return "join mount namespace";
	case CLONE_NEWNET: return "join network namespace";
	case CLONE_NEWIPC: return "join ipc namespace";
	case CLONE_NEWUTS: return "join uts namespace";
	case CLONE_NEWCGROUP: return "join cgroup namespace";
	case CLONE_NEWPID: return "join pid namespace";
	default: return "join namespace";
	}
}
