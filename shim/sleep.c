// The shim's sleeper: "berth shim --sleep PID FD,FD,... HANDOVER EXE STATEDIR".
//
// A resumed shim with nothing to do for a second executes itself with these
// arguments (handover_linux.go). This constructor runs before the Go runtime
// starts (so the process never grows the Go heap, its threads or their
// stacks: about 50 kB of memory of its own), waits in poll(2) until one of
// the inherited descriptors FD (the shim's socket, the container's output,
// waiting connections) or the container's init PID (through a pidfd) has
// something, and executes EXE as "berth shim --resume HANDOVER STATEDIR": the
// Go shim again, which finds everything as the sleeper found it. It reads
// nothing and reaps nothing itself.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FDS 64 // maxSleepFds in handover_linux.go

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// parse_fds fills fds from "N,N,...", returning how many, or -1 if the
// list is malformed or too long.
static int parse_fds(const char *s, struct pollfd *fds) {
	int n = 0;
	for (;;) {
		char *end;
		errno = 0;
		long fd = strtol(s, &end, 10);
		if (end == s || errno != 0 || fd < 0 || fd > 1 << 20 || n == MAX_FDS)
			return -1;
		fds[n].fd = (int)fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
		if (*end == '\0')
			return n;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

int berth_start_args(char ***argv);       // runtime/startargs.c
const char *berth_errno_text(int err); // runtime/errtab.h

__attribute__((constructor)) static void berth_shim_sleep(void) {
	char **argv;
	int argc = berth_start_args(&argv);
	if (argc != 8 || strcmp(argv[1], "shim") != 0 || strcmp(argv[2], "--sleep") != 0)
		return;
	struct pollfd fds[MAX_FDS + 1];
	int n = parse_fds(argv[4], fds);
	char *end;
	long pid = strtol(argv[3], &end, 10);
	int pidfd = -1;
	if (n > 0 && *end == '\0' && pid > 0)
		pidfd = (int)syscall(SYS_pidfd_open, (int)pid, 0);
	// Without every descriptor and the pidfd, an event could go unseen:
	// then no sleep at all, straight back.
	if (pidfd >= 0) {
		fds[n].fd = pidfd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		for (;;) {
			int r = poll(fds, (nfds_t)n + 1, -1);
			if (r > 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				break;
		}
		close(pidfd);
	}
	char *next[] = {argv[0], "shim", "--resume", argv[5], argv[7], NULL};
	execve(argv[6], next, environ);
	int err = errno;
	execve("/proc/self/exe", next, environ);
	const char *t = berth_errno_text(err);
	if (t != NULL)
		fprintf(stderr, "berth shim: wake up: exec %s: %s\n", argv[6], t);
	else
		fprintf(stderr, "berth shim: wake up: exec %s: errno %d\n", argv[6], err);
	_exit(1);
}
