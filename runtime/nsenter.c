// Runs before the Go runtime starts any thread, so setns into user and mount
// namespaces works. Does nothing unless berth's spawn code set _BERTH_NSJOIN.
//
// _BERTH_NSJOIN    "fd:flag,fd:flag,..."  namespaces to join, in order
// _BERTH_UNSHARE   flags to unshare after joining (may include CLONE_NEWUSER,
//                  in which case the parent is asked to write the id maps)
// _BERTH_SYNC_FD   the sync socket, for errors and the id-map handshake
// _BERTH_CGROUP_FDS "fd,fd,..." cgroup v1 "tasks" files: "0" is written to
//                  each first, which moves this (still single-threaded)
//                  process into the container's cgroup without the kernel's
//                  global threadgroup lock that a move by pid takes
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cinit.h"
#include "errtab.h"

static int sync_fd = -1;

static void fail(const char *what, int err) {
	char text[32];
	const char *t = berth_errno_text(err);
	if (t == NULL) {
		snprintf(text, sizeof(text), "errno %d", err);
		t = text;
	}
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"error\":\"%s: %s\"}\n", what, t);
	if (sync_fd >= 0 && n > 0) {
		ssize_t w = write(sync_fd, buf, (size_t)n);
		(void)w;
	} else {
		fprintf(stderr, "berth init: %s: %s\n", what, t);
	}
	_exit(1);
}

static void wait_idmap(void) {
	const char *msg = "{\"type\":\"idmap\"}\n";
	if (write(sync_fd, msg, strlen(msg)) < 0)
		fail("request id mappings", errno);
	char c;
	for (;;) {
		ssize_t n = read(sync_fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("wait for id mappings", n < 0 ? errno : EPIPE);
		if (c == '\n')
			return;
	}
}

// become_root makes this process uid/gid 0 of the user namespace it just
// entered; without that, exec would drop all of its capabilities there.
static void become_root(void) {
	if (setresgid(0, 0, 0) < 0)
		fail("setgid 0 in the user namespace (is gid 0 mapped?)", errno);
	if (setresuid(0, 0, 0) < 0)
		fail("setuid 0 in the user namespace (is uid 0 mapped?)", errno);
}

static void join_cgroups(const char *fds) {
	const char *p = fds;
	while (*p) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p || (*end != ',' && *end != '\0'))
			fail("bad _BERTH_CGROUP_FDS", EINVAL);
		if (write((int)fd, "0", 1) != 1)
			fail("join cgroup", errno);
		close((int)fd);
		p = *end == ',' ? end + 1 : end;
	}
}

__attribute__((constructor)) static void berth_nsenter(void) {
	const char *cg = getenv("_BERTH_CGROUP_FDS");
	const char *join = getenv("_BERTH_NSJOIN");
	if (cg == NULL && join == NULL)
		return;
	const char *s = getenv("_BERTH_SYNC_FD");
	if (s != NULL)
		sync_fd = atoi(s);
	if (cg != NULL) {
		join_cgroups(cg);
		unsetenv("_BERTH_CGROUP_FDS");
	}
	if (join == NULL)
		return;
	const char *p = join;
	while (*p) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (*end != ':')
			fail("bad _BERTH_NSJOIN", EINVAL);
		long flag = strtol(end + 1, &end, 10);
		if (setns((int)fd, (int)flag) < 0)
			fail(berth_ns_what(flag), errno);
		close((int)fd);
		if (flag == CLONE_NEWUSER)
			become_root();
		if (*end == ',')
			end++;
		p = end;
	}
	const char *u = getenv("_BERTH_UNSHARE");
	if (u != NULL) {
		long flags = strtol(u, NULL, 10);
		if (flags & CLONE_NEWUSER) {
			if (unshare(CLONE_NEWUSER) < 0)
				fail("unshare user namespace", errno);
			wait_idmap();
			become_root();
			flags &= ~CLONE_NEWUSER;
		}
		if (flags != 0 && unshare((int)flags) < 0)
			fail("unshare namespaces", errno);
	}
	unsetenv("_BERTH_NSJOIN");
	unsetenv("_BERTH_UNSHARE");
}
