// `berth runtime` runs on one CPU (see affinity_linux.go for why); this
// constructor pins it before the Go runtime starts a second thread, so that
// every thread of the process inherits the pin, and GOMAXPROCS is 1.
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>

static cpu_set_t saved;
static int pinned;

int berth_start_args(char ***argv); // runtime/startargs.c

__attribute__((constructor)) static void berth_pin_runtime(void) {
	char **argv;
	int argc = berth_start_args(&argv);
	if (argc < 2 || strcmp(argv[1], "runtime") != 0)
		return;
	if (sched_getaffinity(0, sizeof(saved), &saved) < 0 || CPU_COUNT(&saved) < 2)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || !CPU_ISSET(cpu, &saved))
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		pinned = 1;
}

// berth_pinned_from copies the affinity the process had before the pin into
// out (CPU_SETSIZE bits) and returns 1, or returns 0 if it was not pinned.
int berth_pinned_from(void *out) {
	if (!pinned)
		return 0;
	memcpy(out, &saved, sizeof(saved));
	return 1;
}
