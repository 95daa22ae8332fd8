// The container's init, in C: runs in a child cloned (fork-style, no exec)
// from the process that creates the container, and carries out a plan that
// the Go side (cinit_linux.go) compiled from the spec: namespaces, rootfs and
// mounts, /dev, pivot_root, masked and read-only paths, then the wait for
// Start and the switch to the process's user, limits, capabilities and
// seccomp filter, and the exec. Starting no second program and no Go runtime
// saves milliseconds per container.
//
// The child is a copy of a multi-threaded Go process that has only the
// calling thread: it must not call into Go, and it uses no malloc, no stdio
// and no glibc function that takes a lock or talks to other threads (the
// credential changes are raw system calls, since glibc's setuid family
// signals every thread it believes exists). Memory is the plan (copied with
// the address space) and the stack.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cinit.h"
#include "errtab.h"

#ifndef MOUNT_ATTR_RDONLY
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

// ---- the plan ----

struct rd {
	const uint8_t *p, *end;
};

static int sync_fd = -1;  // the sync socket until "ready"
static int fifo_fd = -1;  // the exec FIFO once Start released us
static int trace_fd = -1; // BERTH_TRACE: the runtime's stderr
static const char *rootfs = "";

static void die(const char *msg);

// rd_fixed copies the plan's next n bytes to v.
static void rd_fixed(struct rd *r, void *v, size_t n) {
	if ((size_t)(r->end - r->p) < n)
		die("berth init: truncated plan");
	memcpy(v, r->p, n);
	r->p += n;
}

static uint32_t rd_u32(struct rd *r) {
	uint32_t v;
	rd_fixed(r, &v, sizeof v);
	return v;
}

static uint64_t rd_u64(struct rd *r) {
	uint64_t v;
	rd_fixed(r, &v, sizeof v);
	return v;
}

// rd_str returns a NUL-terminated string stored in place.
static const char *rd_str(struct rd *r) {
	uint32_t n = rd_u32(r);
	if ((uint64_t)(r->end - r->p) < (uint64_t)n + 1 || r->p[n] != 0)
		die("berth init: bad string in plan");
	const char *s = (const char *)r->p;
	r->p += n + 1;
	return s;
}

// rd_blob returns a length-prefixed byte string stored in place.
static const uint8_t *rd_blob(struct rd *r, uint32_t *len) {
	*len = rd_u32(r);
	if ((uint64_t)(r->end - r->p) < *len)
		die("berth init: truncated plan");
	const uint8_t *b = r->p;
	r->p += *len;
	return b;
}

// ---- messages (no stdio: a small string builder) ----

struct sb {
	char buf[4096];
	size_t n;
};

static void sb_str(struct sb *b, const char *s) {
	while (*s && b->n < sizeof(b->buf) - 1)
		b->buf[b->n++] = *s++;
	b->buf[b->n] = 0;
}

static void sb_u64(struct sb *b, uint64_t v) {
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i > 0 && b->n < sizeof(b->buf) - 1)
		b->buf[b->n++] = tmp[--i];
	b->buf[b->n] = 0;
}

// sb_err appends Go's text for errno err.
static void sb_err(struct sb *b, int err) {
	const char *t = berth_errno_text(err);
	if (t != NULL) {
		sb_str(b, t);
		return;
	}
	sb_str(b, "errno ");
	sb_u64(b, (uint64_t)err);
}

// sb_quote appends s as Go's %q would for a plain string.
static void sb_quote(struct sb *b, const char *s) {
	sb_str(b, "\"");
	for (; *s; s++) {
		char c[3] = {*s, 0, 0};
		if (*s == '"' || *s == '\\') {
			c[0] = '\\';
			c[1] = *s;
		}
		sb_str(b, c);
	}
	sb_str(b, "\"");
}

static void write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void send_type(const char *type) {
	struct sb b = {.n = 0};
	sb_str(&b, "{\"type\":\"");
	sb_str(&b, type);
	sb_str(&b, "\"}\n");
	write_all(sync_fd, b.buf, b.n);
}

// die reports msg (to the parent before "ready", to Start through the FIFO
// after) and exits 1.
static void die(const char *msg) {
	if (fifo_fd >= 0) {
		write_all(fifo_fd, msg, strlen(msg));
	} else if (sync_fd >= 0) {
		struct sb b = {.n = 0};
		sb_str(&b, "{\"type\":\"error\",\"error\":\"");
		for (const char *s = msg; *s; s++) {
			unsigned char c = (unsigned char)*s;
			if (c == '"' || c == '\\') {
				char e[3] = {'\\', (char)c, 0};
				sb_str(&b, e);
			} else if (c < 0x20) {
				char e[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15], 0};
				sb_str(&b, e);
			} else {
				char e[2] = {(char)c, 0};
				sb_str(&b, e);
			}
		}
		sb_str(&b, "\"}\n");
		write_all(sync_fd, b.buf, b.n);
	} else {
		write_all(2, "berth init: ", 12);
		write_all(2, msg, strlen(msg));
		write_all(2, "\n", 1);
	}
	_exit(1);
}

// fail: "what: strerror(err)".
static void fail(const char *what, int err) {
	struct sb b = {.n = 0};
	sb_str(&b, what);
	sb_str(&b, ": ");
	sb_err(&b, err);
	die(b.buf);
}

// fail3: "a b c: strerror(err)".
static void fail3(const char *a, const char *b2, const char *c, int err) {
	struct sb b = {.n = 0};
	sb_str(&b, a);
	sb_str(&b, b2);
	sb_str(&b, c);
	sb_str(&b, ": ");
	sb_err(&b, err);
	die(b.buf);
}

static void trace(const char *phase) {
	if (trace_fd < 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	struct sb b = {.n = 0};
	uint64_t us = (uint64_t)(ts.tv_sec % 1000) * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	sb_u64(&b, us / 1000);
	sb_str(&b, ".");
	char frac[4] = {(char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10), (char)('0' + us % 10), 0};
	sb_str(&b, frac);
	sb_str(&b, " [cinit] ");
	sb_str(&b, phase);
	sb_str(&b, "\n");
	write_all(trace_fd, b.buf, b.n);
}

// wait_ok_fds reads the parent's next line and dies unless it says "ok".
// Descriptors the parent sends with it (SCM_RIGHTS) go to fds, up to max;
// it returns how many. A descriptor that does not fit is an error: the
// parent counted on it.
static int wait_ok_fds(const char *what, int *fds, int max) {
	char line[512];
	size_t n = 0;
	int nfds = 0;
	for (;;) {
		char c;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * 32)];
		} cm;
		struct iovec iov = {.iov_base = &c, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
		ssize_t r = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail(what, r < 0 ? errno : EPIPE);
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h != NULL; h = CMSG_NXTHDR(&msg, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(fd));
				if (nfds >= max)
					fail(what, EMSGSIZE);
				fds[nfds++] = fd;
			}
		}
		if (msg.msg_flags & MSG_CTRUNC)
			fail(what, EMSGSIZE);
		if (c == '\n')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = 0;
	if (strstr(line, "\"type\":\"ok\"") == NULL) {
		// The parent's error, as Go's init reports it.
		struct sb b = {.n = 0};
		sb_str(&b, "parent: ");
		sb_str(&b, line);
		die(b.buf);
	}
	return nfds;
}

// wait_ok is wait_ok_fds for a line that carries no descriptors.
static void wait_ok(const char *what) { wait_ok_fds(what, NULL, 0); }

// join_cgroup moves this process into the cgroup (v1) whose "tasks" file
// fd is, and closes it. Writing "0" moves the writer alone, without the
// kernel's global threadgroup lock that a move by pid takes.
static void join_cgroup(int fd) {
	if (write(fd, "0", 1) != 1)
		fail("join cgroup", errno);
	close(fd);
}

// ---- credentials, without glibc's all-threads broadcast ----

static int sys_setresuid(uid_t r, uid_t e, uid_t s) { return (int)syscall(SYS_setresuid, r, e, s); }
static int sys_setresgid(gid_t r, gid_t e, gid_t s) { return (int)syscall(SYS_setresgid, r, e, s); }
static int sys_setgroups(size_t n, const gid_t *g) { return (int)syscall(SYS_setgroups, n, g); }

static void become_root(void) {
	if (sys_setresgid(0, 0, 0) < 0)
		fail("setgid 0 in the user namespace (is gid 0 mapped?)", errno);
	if (sys_setresuid(0, 0, 0) < 0)
		fail("setuid 0 in the user namespace (is uid 0 mapped?)", errno);
}

// ---- paths inside the rootfs ----

static int rootfd = -1;

static int openat2_in(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
	struct open_how how = {.flags = flags | O_CLOEXEC, .mode = 0, .resolve = resolve};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

static int open_root(const char *path, uint64_t flags) {
	return openat2_in(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

// host_path is rootfs + path, for messages (Go's init names the host path).
static const char *host_path(const char *path, char *buf, size_t n) {
	struct sb b = {.n = 0};
	sb_str(&b, rootfs);
	if (strcmp(path, "/") != 0)
		sb_str(&b, path);
	size_t l = b.n < n - 1 ? b.n : n - 1;
	memcpy(buf, b.buf, l);
	buf[l] = 0;
	return buf;
}

enum { MK_NONE = 0, MK_DIR = 1, MK_FILE = 2 };

// resolve opens path (absolute, in the container) as O_PATH, symlinks
// followed as if rootfs were /, creating what is missing: directories, and
// for MK_FILE an empty file as the last element. A dangling symlink on the
// way is created at its target, inside the rootfs.
static int resolve(const char *path, int mk) {
	char cur[4096];
	size_t len = strlen(path);
	if (len >= sizeof(cur))
		fail3("path ", path, "", ENAMETOOLONG);
	memcpy(cur, path, len + 1);
	for (int hops = 0; hops < 40; hops++) {
		int fd = open_root(cur, O_PATH);
		if (fd >= 0 || errno != ENOENT || mk == MK_NONE)
			return fd;
		// Walk from the top: open each prefix; create the first missing one.
		char pre[4096];
		size_t i = 0;
		int restarted = 0;
		while (cur[i] && !restarted) {
			while (cur[i] == '/')
				i++;
			if (!cur[i])
				break;
			size_t start = i;
			while (cur[i] && cur[i] != '/')
				i++;
			memcpy(pre, cur, i);
			pre[i] = 0;
			int f = open_root(pre, O_PATH);
			if (f >= 0) {
				close(f);
				continue;
			}
			if (errno != ENOENT)
				return -1;
			char parent[4096];
			memcpy(parent, cur, start);
			parent[start] = 0;
			if (start == 0) {
				parent[0] = '/';
				parent[1] = 0;
			}
			int pfd = open_root(parent, O_PATH | O_DIRECTORY);
			if (pfd < 0)
				return -1;
			char name[256];
			size_t nl = i - start;
			if (nl >= sizeof(name)) {
				close(pfd);
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(name, cur + start, nl);
			name[nl] = 0;
			int last = cur[i] == 0 || (cur[i] == '/' && cur[i + 1] == 0);
			int rc;
			if (last && mk == MK_FILE) {
				int nf = openat(pfd, name, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				rc = nf < 0 ? -1 : 0;
				if (nf >= 0)
					close(nf);
			} else {
				rc = mkdirat(pfd, name, 0755);
			}
			if (rc < 0 && errno == EEXIST) {
				// A dangling symlink: go on at its target.
				char target[4096];
				ssize_t tl = readlinkat(pfd, name, target, sizeof(target) - 1);
				if (tl < 0) {
					close(pfd);
					errno = EEXIST;
					return -1;
				}
				target[tl] = 0;
				char next[4096];
				struct sb b = {.n = 0};
				if (target[0] != '/')
					sb_str(&b, parent);
				if (target[0] != '/')
					sb_str(&b, "/");
				sb_str(&b, target);
				sb_str(&b, cur + i);
				if (b.n >= sizeof(next) - 1) {
					close(pfd);
					errno = ENAMETOOLONG;
					return -1;
				}
				memcpy(next, b.buf, b.n + 1);
				memcpy(cur, next, b.n + 1);
				restarted = 1;
			} else if (rc < 0) {
				int e = errno;
				close(pfd);
				errno = e;
				return -1;
			}
			close(pfd);
		}
		if (!restarted) {
			fd = open_root(cur, O_PATH);
			return fd;
		}
	}
	errno = ELOOP;
	return -1;
}

static void fdpath(int fd, char *buf) {
	struct sb b = {.n = 0};
	sb_str(&b, "/proc/self/fd/");
	sb_u64(&b, (uint64_t)fd);
	memcpy(buf, b.buf, b.n + 1);
}

static int resolve_or_fail(const char *path, int mk, const char *what) {
	int fd = resolve(path, mk);
	if (fd < 0) {
		char hp[4096];
		fail3(what, host_path(path, hp, sizeof(hp)), "", errno);
	}
	return fd;
}

static const unsigned long locked_flags =
	MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;

// remount_at changes the flags of the mount at target; on EPERM it keeps the
// flags the kernel locked (a user namespace's view of a host mount).
static int remount_at(const char *target, unsigned long flags) {
	if (mount("", target, "", flags | MS_REMOUNT, "") == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	// statfs(2)'s f_flags carries the ST_* (= MS_*) flags of the mount.
	struct statfs st;
	if (statfs(target, &st) < 0) {
		errno = EPERM;
		return -1;
	}
	return mount("", target, "", flags | ((unsigned long)st.f_flags & locked_flags) | MS_REMOUNT, "");
}

// ---- the mount operations ----

static void op_mount(struct rd *r) {
	const char *src = rd_str(r);
	const char *dst = rd_str(r);
	const char *fstype = rd_str(r);
	unsigned long flags = rd_u32(r);
	const char *data = rd_str(r);
	uint32_t mk = rd_u32(r);
	uint32_t fallback = rd_u32(r);
	uint32_t nprop = rd_u32(r);
	uint32_t props[16];
	for (uint32_t i = 0; i < nprop; i++) {
		uint32_t p = rd_u32(r);
		if (i < 16)
			props[i] = p;
	}
	uint64_t rset = rd_u64(r), rclr = rd_u64(r);
	const char *name = rd_str(r);

	char hp[4096], target[64];
	host_path(dst, hp, sizeof(hp));
	int fd = resolve_or_fail(dst, mk, "create mount point ");
	fdpath(fd, target);
	int bind = (flags & MS_BIND) != 0;
	int rc;
	if (bind) {
		rc = mount(src, target, "", MS_BIND | (flags & MS_REC), "");
		if (rc < 0) {
			struct sb b = {.n = 0};
			sb_str(&b, "mount bind ");
			sb_str(&b, src);
			sb_str(&b, " on ");
			sb_str(&b, hp);
			fail(b.buf, errno);
		}
	} else {
		rc = mount(src, target, fstype, flags, data);
		if (rc < 0 && errno == EPERM && fallback) {
			// In a user namespace the kernel refuses some filesystems that
			// belong to the host: bind the host's instance, as runc does.
			const char *hsrc = fallback == 1 ? "/sys" : "/dev/mqueue";
			unsigned long bf = MS_BIND | (fallback == 1 ? MS_REC : 0);
			rc = mount(hsrc, target, "", bf, "");
			if (rc == 0) {
				bind = 1;
				flags |= bf;
			}
		}
		if (rc < 0) {
			struct sb b = {.n = 0};
			sb_str(&b, "mount ");
			sb_str(&b, fstype[0] ? fstype : "propagation");
			sb_str(&b, " on ");
			sb_str(&b, hp);
			fail(b.buf, errno);
		}
	}
	close(fd);
	if (bind) {
		unsigned long rest = flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
		if (rest) {
			fd = resolve_or_fail(dst, MK_NONE, "remount ");
			fdpath(fd, target);
			if (remount_at(target, rest | MS_BIND) < 0)
				fail3("remount ", hp, "", errno);
			close(fd);
		}
	}
	if (nprop > 0 || rset || rclr) {
		fd = resolve_or_fail(dst, MK_NONE, "mount ");
		fdpath(fd, target);
		for (uint32_t i = 0; i < nprop && i < 16; i++)
			if (mount("", target, "", props[i], "") < 0)
				fail3("mount propagation on ", hp, "", errno);
		if (rset || rclr) {
			struct mount_attr a = {.attr_set = rset, .attr_clr = rclr};
			if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
				fail3("set recursive attributes on ", name, "", errno);
		}
		close(fd);
	}
}

// open_parent opens the directory that holds dst inside the root (made
// as needed with MK_DIR) and points base at dst's last element.
static int open_parent(const char *dst, const char **base, int mk) {
	char dir[4096];
	const char *slash = strrchr(dst, '/');
	size_t dl = slash ? (size_t)(slash - dst) : 0;
	if (dl >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, dst, dl);
	dir[dl] = 0;
	if (dl == 0)
		strcpy(dir, "/");
	*base = slash ? slash + 1 : dst;
	int pfd = resolve(dir, mk);
	if (pfd < 0)
		return -1;
	int dfd = openat(pfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	close(pfd);
	return dfd;
}

static void op_mknod(struct rd *r) {
	const char *dst = rd_str(r);
	uint32_t mode = rd_u32(r);
	uint64_t dev = rd_u64(r);
	uint32_t uid = rd_u32(r), gid = rd_u32(r);
	// The parent directory, made as needed; the node itself replaces
	// whatever the image had there (not following a symlink).
	struct sb m = {.n = 0};
	sb_str(&m, "device ");
	sb_str(&m, dst);
	const char *base;
	int dfd = open_parent(dst, &base, MK_DIR);
	if (dfd < 0)
		fail(m.buf, errno);
	unlinkat(dfd, base, 0);
	if (mknodat(dfd, base, mode, (dev_t)dev) < 0) {
		sb_str(&m, ": mknod");
		fail(m.buf, errno);
	}
	if (fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		fail(m.buf, errno);
	close(dfd);
}

static void op_symlink(struct rd *r) {
	const char *target = rd_str(r);
	const char *dst = rd_str(r);
	uint32_t ignore = rd_u32(r);
	const char *base;
	int dfd = open_parent(dst, &base, MK_NONE);
	if (dfd < 0) {
		if (ignore)
			return;
		fail3("symlink ", dst, "", errno);
	}
	if (symlinkat(target, dfd, base) < 0 && errno != EEXIST && !ignore)
		fail3("symlink ", dst, "", errno);
	close(dfd);
}

// op_ptmx points /dev/ptmx at the container's own devpts instance.
static void op_ptmx(void) {
	int fd = open_root("/dev/pts/ptmx", O_PATH);
	if (fd < 0)
		return;
	close(fd);
	const char *base;
	int dfd = open_parent("/dev/ptmx", &base, MK_NONE);
	if (dfd < 0)
		fail("symlink /dev/ptmx", errno);
	unlinkat(dfd, base, 0);
	if (symlinkat("pts/ptmx", dfd, base) < 0)
		fail("symlink /dev/ptmx", errno);
	close(dfd);
}

static void op_remount(struct rd *r) {
	const char *dst = rd_str(r);
	unsigned long flags = rd_u32(r);
	char hp[4096], target[64];
	host_path(dst, hp, sizeof(hp));
	int fd = resolve_or_fail(dst, MK_NONE, "remount ");
	fdpath(fd, target);
	if (remount_at(target, flags) < 0)
		fail3("remount ", hp, "", errno);
	close(fd);
}

// After the pivot: plain paths are the container's.
static void op_mask(struct rd *r) {
	const char *p = rd_str(r);
	struct stat st;
	if (stat(p, &st) < 0) {
		if (errno == ENOENT)
			return;
		fail3("mask ", p, "", errno);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "") < 0)
			fail3("mount tmpfs on ", p, "", errno);
	} else if (mount("/dev/null", p, "bind", MS_BIND, "") < 0) {
		fail3("mount bind /dev/null on ", p, "", errno);
	}
}

static void op_ropath(struct rd *r) {
	const char *p = rd_str(r);
	struct stat st;
	if (stat(p, &st) < 0 && errno == ENOENT)
		return;
	if (mount(p, p, "bind", MS_BIND | MS_REC, "") < 0)
		fail3("mount bind ", p, "", errno);
	if (remount_at(p, MS_BIND | MS_REC | MS_RDONLY) < 0)
		fail3("remount ", p, "", errno);
}

enum {
	OP_MOUNT = 1,
	OP_MKNOD = 2,
	OP_SYMLINK = 3,
	OP_PTMX = 4,
	OP_REMOUNT = 5,
	OP_MASK = 6,
	OP_ROPATH = 7,
};

static void run_ops(struct rd *r) {
	uint32_t n = rd_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		switch (rd_u32(r)) {
		case OP_MOUNT: op_mount(r); break;
		case OP_MKNOD: op_mknod(r); break;
		case OP_SYMLINK: op_symlink(r); break;
		case OP_PTMX: op_ptmx(); break;
		case OP_REMOUNT: op_remount(r); break;
		case OP_MASK: op_mask(r); break;
		case OP_ROPATH: op_ropath(r); break;
		default: die("berth init: unknown plan operation");
		}
	}
}

// ---- rootfs ----

static void make_parent_private(const char *path) {
	char p[4096];
	size_t l = strlen(path);
	if (l >= sizeof(p))
		fail3("make mount of ", path, " private", ENAMETOOLONG);
	memcpy(p, path, l + 1);
	for (;;) {
		if (mount("", p, "", MS_PRIVATE, "") == 0)
			return;
		if (errno != EINVAL || strcmp(p, "/") == 0)
			fail3("make mount of ", p, " private", errno);
		char *s = strrchr(p, '/');
		if (s == p)
			p[1] = 0;
		else
			*s = 0;
	}
}

static void pivot(void) {
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		fail3("open ", rootfs, "", errno);
	if (fchdir(newroot) < 0)
		fail3("chdir ", rootfs, "", errno);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail3("pivot_root ", rootfs, "", errno);
	if (fchdir(oldroot) < 0)
		fail("chdir to the old root", errno);
	// The old root must not propagate its unmount to the host.
	if (mount("", ".", "", MS_SLAVE | MS_REC, "") < 0)
		fail("mount propagation on .", errno);
	if (umount2(".", MNT_DETACH) < 0)
		fail("detach old root", errno);
	if (chdir("/") < 0)
		fail("chdir /", errno);
	close(oldroot);
	close(newroot);
}

static void move_root(void) {
	if (chdir(rootfs) < 0)
		fail3("chdir ", rootfs, "", errno);
	if (mount(rootfs, "/", "", MS_MOVE, "") < 0)
		fail3("mount ", rootfs, " on /", errno);
	if (chroot(".") < 0)
		fail("chroot", errno);
	if (chdir("/") < 0)
		fail("chdir /", errno);
}

static void chroot_root(void) {
	if (chdir(rootfs) < 0)
		fail3("chdir ", rootfs, "", errno);
	if (chroot(".") < 0)
		fail3("chroot ", rootfs, "", errno);
	if (chdir("/") < 0)
		fail("chdir /", errno);
}

// ---- the terminal ----

static void setup_console(int sock, uint32_t rows, uint32_t cols) {
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail("open /dev/ptmx", errno);
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail("unlock pty", errno);
	unsigned int n;
	if (ioctl(master, TIOCGPTN, &n) < 0)
		fail("pty number", errno);
	struct sb p = {.n = 0};
	sb_str(&p, "/dev/pts/");
	sb_u64(&p, n);
	int slave = open(p.buf, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail3("open ", p.buf, "", errno);
	if (rows || cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		ioctl(master, TIOCSWINSZ, &ws);
	}
	char name[] = "/dev/ptmx";
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		fail("send pty master over console socket", errno);
	close(sock);
	close(master);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail("dup pty", errno);
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail("set controlling terminal", errno);
}

// ---- the process ----

static int executable(const char *p, int *err) {
	struct stat st;
	if (stat(p, &st) < 0) {
		*err = errno;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		*err = EISDIR;
		return 0;
	}
	if ((st.st_mode & 0111) == 0) {
		*err = EACCES;
		return 0;
	}
	return 1;
}

// look_path finds argv0 as Go's init does, with its wording for failures
// (the engine maps them to exit codes 126 and 127).
static void look_path(const char *name, char *const env[], char *out, size_t outn) {
	int err = 0;
	struct sb m = {.n = 0};
	sb_str(&m, "exec ");
	sb_quote(&m, name);
	sb_str(&m, ": ");
	if (strchr(name, '/')) {
		if (!executable(name, &err)) {
			if (err == EISDIR) {
				sb_str(&m, "is a directory");
			} else if (err == EACCES) {
				sb_str(&m, "permission denied");
			} else {
				sb_str(&m, "stat ");
				sb_str(&m, name);
				sb_str(&m, ": ");
				sb_err(&m, err);
			}
			die(m.buf);
		}
		size_t l = strlen(name);
		if (l >= outn)
			fail("exec", ENAMETOOLONG);
		memcpy(out, name, l + 1);
		return;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (int i = 0; env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	const char *p = path;
	for (;;) {
		const char *e = strchr(p, ':');
		size_t dl = e ? (size_t)(e - p) : strlen(p);
		struct sb c = {.n = 0};
		if (dl == 0) {
			sb_str(&c, ".");
		} else {
			char d[4096];
			if (dl >= sizeof(d))
				dl = sizeof(d) - 1;
			memcpy(d, p, dl);
			d[dl] = 0;
			sb_str(&c, d);
		}
		sb_str(&c, "/");
		sb_str(&c, name);
		if (c.n < outn && executable(c.buf, &err)) {
			memcpy(out, c.buf, c.n + 1);
			return;
		}
		if (!e)
			break;
		p = e + 1;
	}
	sb_str(&m, "executable file not found in $PATH");
	die(m.buf);
}

struct caps {
	uint32_t last;
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

static void caps_bounding(const struct caps *c) {
	for (uint32_t i = 0; i <= c->last && i < 64; i++) {
		if (c->bounding & (1ULL << i))
			continue;
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) <= 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0)
			fail("apply bounding capabilities", errno);
	}
}

static void caps_rest(const struct caps *c) {
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(c->effective >> (32 * i));
		d[i].permitted = (uint32_t)(c->permitted >> (32 * i));
		d[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &h, d) < 0)
		fail("apply capabilities", errno);
	// An ambient capability must also be permitted and inheritable; like
	// runc, one that is not is skipped.
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail("reset ambient capabilities", errno);
	for (uint32_t i = 0; i <= c->last && i < 64; i++)
		if ((c->ambient & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && errno != EPERM)
			fail("raise ambient capability", errno);
}

static void load_seccomp(const uint8_t *bpf, uint32_t len, uint32_t flags) {
	static struct sock_filter filt[BPF_MAXINSNS];
	if (len > sizeof(filt) || len % sizeof(struct sock_filter) != 0)
		die("seccomp: filter too long");
	memcpy(filt, bpf, len);
	struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = filt};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0)
		fail("seccomp: load filter", errno);
}

// ---- the child ----

enum {
	F_SETSID = 1 << 0,
	F_MOUNTNS = 1 << 1,
	F_CGROUPNS = 1 << 2,
	F_NOKEYRING = 1 << 3,
	F_PARENTHOOKS = 1 << 4,
	F_PROCESS = 1 << 5,
	F_TERMINAL = 1 << 6,
	F_NNP = 1 << 7,
	F_IDMAP = 1 << 8,
	F_TRACE = 1 << 9,
	F_ROOT_RO = 1 << 10,
};

enum { PIVOT = 0, MOVE = 1, CHROOT = 2 };

// move_fds puts the process's fds in place: the plan's sources at 0..n-1,
// the internal ones (sync, state dir, console socket) right after, and
// closes every other fd the parent had.
static void move_fds(struct rd *r, int *internal, int ni) {
	uint32_t n = rd_u32(r);
	int src[64];
	if (n > 64)
		die("berth init: too many fds");
	for (uint32_t i = 0; i < n; i++)
		src[i] = (int)rd_u32(r);
	int base = (int)n + ni;
	int tmp[64], itmp[8];
	if (ni > 8)
		die("berth init: too many internal fds");
	for (uint32_t i = 0; i < n; i++)
		if ((tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, base)) < 0)
			fail("arrange file descriptors", errno);
	for (int j = 0; j < ni; j++)
		itmp[j] = internal[j] < 0 ? -1 : fcntl(internal[j], F_DUPFD_CLOEXEC, base);
	for (uint32_t i = 0; i < n; i++)
		if (dup2(tmp[i], (int)i) < 0)
			fail("arrange file descriptors", errno);
	for (int j = 0; j < ni; j++) {
		if (itmp[j] < 0) {
			internal[j] = -1;
			continue;
		}
		if (dup3(itmp[j], (int)n + j, O_CLOEXEC) < 0)
			fail("arrange file descriptors", errno);
		internal[j] = (int)n + j;
	}
	if (syscall(SYS_close_range, (unsigned)base, ~0U, 0) < 0) {
		for (int fd = base; fd < 65536; fd++)
			close(fd);
	}
}

// The kernel's struct sigaction (x86_64 and arm64), for the raw call:
// glibc's wrapper refuses the signals it reserves for itself.
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

// reset_signals gives every signal its default action: the container's
// process starts as under runc (whose Go init replaces whatever it
// inherited), not with what this process ignores (a shim ignores SIGTERM,
// and a shell cannot trap a signal ignored at its start).
static void reset_signals(void) {
	struct ksigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.handler = (void *)SIG_DFL;
	for (int s = 1; s < 65; s++)
		if (s != SIGKILL && s != SIGSTOP)
			syscall(SYS_rt_sigaction, s, &dfl, NULL, 8);
}

static void unblock_signals(void) {
	uint64_t none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

static void child(const uint8_t *plan, size_t len) {
	struct rd r = {.p = plan, .end = plan + len};
	// Not dumpable until the exec: nothing in the container can open this
	// process's /proc/PID/exe (the runtime's binary) meanwhile.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	reset_signals();
	if (rd_u32(&r) != CINIT_MAGIC)
		die("berth init: bad plan");
	uint32_t flags = rd_u32(&r);
	uint32_t pivot_mode = rd_u32(&r);
	int internal[4];
	internal[0] = (int)rd_u32(&r); // sync
	internal[1] = (int)rd_u32(&r); // state dir
	internal[2] = (int)rd_u32(&r); // console socket
	internal[3] = (flags & F_TRACE) ? 2 : -1; // this process's stderr, for traces
	sync_fd = internal[0];
	trace_fd = internal[3];
	trace("cinit start");
	if (flags & F_SETSID)
		setsid();
	// Into the container's cgroup (v1) before anything else.
	uint32_t ncg = rd_u32(&r);
	for (uint32_t i = 0; i < ncg; i++)
		join_cgroup((int)rd_u32(&r));
	uint32_t njoin = rd_u32(&r);
	for (uint32_t i = 0; i < njoin; i++) {
		int fd = (int)rd_u32(&r);
		uint32_t t = rd_u32(&r);
		if (setns(fd, (int)t) < 0)
			fail(berth_ns_what((long)t), errno);
		close(fd);
		if (t == CLONE_NEWUSER)
			become_root();
	}
	uint32_t unsh = rd_u32(&r);
	if (flags & F_IDMAP) {
		// clone made a user namespace: the parent writes our id maps.
		send_type("idmap");
		wait_ok("wait for id mappings");
		become_root();
	}
	if (unsh & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare user namespace", errno);
		send_type("idmap");
		wait_ok("wait for id mappings");
		become_root();
		unsh &= ~(uint32_t)CLONE_NEWUSER;
	}
	if (unsh && unshare((int)unsh) < 0)
		fail("unshare namespaces", errno);
	move_fds(&r, internal, 4);
	sync_fd = internal[0];
	trace_fd = internal[3];
	int statedir = internal[1], console = internal[2];
	umask(0);
	// The rootfs and the mounts that need neither the container's cgroup
	// nor its cgroup namespace, while the parent may still be making the
	// cgroup.
	rootfs = rd_str(&r);
	uint32_t root_prop = rd_u32(&r);
	uint32_t final_prop = rd_u32(&r);
	if (flags & F_MOUNTNS) {
		if (mount("", "/", "", root_prop, "") < 0)
			fail("mount propagation on /", errno);
		make_parent_private(rootfs);
		if (mount(rootfs, rootfs, "bind", MS_BIND | MS_REC, "") < 0)
			fail3("mount bind ", rootfs, "", errno);
		rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			fail3("open ", rootfs, "", errno);
		run_ops(&r);
	} else if (rd_u32(&r) != 0) {
		die("berth init: mounts planned without a mount namespace");
	}
	trace("early mounts");
	// The parent placed us in our cgroup (v2) and is ready. If it made the
	// cgroup while this process was being made (its namespaces unshared
	// above, in parallel), the v1 "tasks" files to join come along.
	int late[32];
	int nlate = wait_ok_fds("wait for parent", late, 32);
	for (int i = 0; i < nlate; i++)
		join_cgroup(late[i]);

	const char *hostname = rd_str(&r);
	const char *domainname = rd_str(&r);
	const char *keyring = rd_str(&r);
	if ((flags & F_CGROUPNS) && unshare(CLONE_NEWCGROUP) < 0)
		fail("unshare cgroup namespace", errno);
	if (hostname[0] && sethostname(hostname, strlen(hostname)) < 0)
		fail("set hostname", errno);
	if (domainname[0] && setdomainname(domainname, strlen(domainname)) < 0)
		fail("set domainname", errno);
	if (!(flags & F_NOKEYRING) && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, keyring) < 0 &&
	    errno != ENOSYS)
		fail("join session keyring", errno);
	uint32_t nsys = rd_u32(&r);
	for (uint32_t i = 0; i < nsys; i++) {
		const char *path = rd_str(&r), *val = rd_str(&r), *what = rd_str(&r);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val, strlen(val)) < 0)
			fail(what, errno);
		close(fd);
	}
	trace("cinit cfg");
	if (flags & F_MOUNTNS) {
		run_ops(&r);
		close(rootfd);
		rootfd = -1;
	} else if (rd_u32(&r) != 0) {
		die("berth init: mounts planned without a mount namespace");
	}
	trace("mounts");
	if (flags & F_PARENTHOOKS) {
		send_type("hooks");
		wait_ok("wait for parent");
	}
	switch (pivot_mode) {
	case PIVOT: pivot(); break;
	case MOVE: move_root(); break;
	case CHROOT: chroot_root(); break;
	}
	trace("pivoted");
	if (flags & F_MOUNTNS) {
		run_ops(&r);
		if ((flags & F_ROOT_RO) && remount_at("/", MS_BIND | MS_RDONLY) < 0)
			fail("remount /", errno);
		if (final_prop && mount("", "/", "", final_prop, "") < 0)
			fail("mount propagation on /", errno);
	} else if (rd_u32(&r) != 0) {
		die("berth init: mounts planned without a mount namespace");
	}
	if (!(flags & F_PROCESS)) {
		// Created without a process (allowed): nothing can be started.
		send_type("ready");
		close(sync_fd);
		sync_fd = -1;
		int w = openat(statedir, "exec.fifo", O_WRONLY | O_CLOEXEC);
		if (w < 0)
			fail("open exec fifo", errno);
		write_all(w, "0", 1);
		fifo_fd = w;
		die("config.json has no process to start");
	}

	const char *cwd = rd_str(&r);
	uint32_t umask_v = rd_u32(&r);
	uint32_t uid = rd_u32(&r), gid = rd_u32(&r);
	uint32_t ngids = rd_u32(&r);
	gid_t gids[256];
	if (ngids > 256)
		die("berth init: too many additional gids");
	for (uint32_t i = 0; i < ngids; i++)
		gids[i] = rd_u32(&r);
	uint32_t nrl = rd_u32(&r);
	struct {
		uint32_t res;
		uint64_t soft, hard;
		const char *name;
	} rl[32];
	if (nrl > 32)
		die("berth init: too many rlimits");
	for (uint32_t i = 0; i < nrl; i++) {
		rl[i].res = rd_u32(&r);
		rl[i].soft = rd_u64(&r);
		rl[i].hard = rd_u64(&r);
		rl[i].name = rd_str(&r);
	}
	struct caps caps;
	caps.last = rd_u32(&r);
	caps.bounding = rd_u64(&r);
	caps.effective = rd_u64(&r);
	caps.permitted = rd_u64(&r);
	caps.inheritable = rd_u64(&r);
	caps.ambient = rd_u64(&r);
	uint32_t preserve = rd_u32(&r);
	uint32_t rows = rd_u32(&r), cols = rd_u32(&r);
	uint32_t argc = rd_u32(&r);
	char *argv[1024];
	if (argc == 0 || argc > 1023)
		die("berth init: bad argv");
	for (uint32_t i = 0; i < argc; i++)
		argv[i] = (char *)rd_str(&r);
	argv[argc] = NULL;
	uint32_t envc = rd_u32(&r);
	char *envp[4096];
	if (envc > 4095)
		die("berth init: too many environment variables");
	for (uint32_t i = 0; i < envc; i++)
		envp[i] = (char *)rd_str(&r);
	envp[envc] = NULL;
	uint32_t sc_flags = rd_u32(&r);
	uint32_t sc_len;
	const uint8_t *sc = rd_blob(&r, &sc_len);

	if (flags & F_TERMINAL)
		setup_console(console, rows, cols);
	else if (console >= 0)
		close(console);
	trace("finished");
	send_type("ready");
	close(sync_fd);
	sync_fd = -1;
	// Blocks until Start opens the FIFO for reading.
	int w;
	do
		w = openat(statedir, "exec.fifo", O_WRONLY | O_CLOEXEC);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		fail("open exec fifo", errno);
	close(statedir);
	if (write(w, "0", 1) != 1)
		fail("write exec fifo", errno);
	fifo_fd = w;
	trace("released");
	char path[4096];
	look_path(argv[0], envp, path, sizeof(path));
	trace("looked up");

	// Before seccomp, which may not allow close_range; the rest are
	// close-on-exec already.
	if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3 + (int)preserve; fd < 65536; fd++)
			if (fd != fifo_fd && fd != sync_fd)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (uint32_t i = 0; i < nrl; i++) {
		struct rlimit lim = {.rlim_cur = rl[i].soft, .rlim_max = rl[i].hard};
		if (setrlimit((int)rl[i].res, &lim) < 0) {
			int e = errno;
			struct sb m = {.n = 0};
			sb_str(&m, "setrlimit ");
			sb_str(&m, rl[i].name);
			sb_str(&m, " soft=");
			sb_u64(&m, rl[i].soft);
			sb_str(&m, " hard=");
			sb_u64(&m, rl[i].hard);
			sb_str(&m, ": ");
			sb_err(&m, e);
			if (e == EPERM) {
				struct rlimit cur;
				getrlimit((int)rl[i].res, &cur);
				sb_str(&m, " (the hard limit here is ");
				sb_u64(&m, cur.rlim_max);
				sb_str(&m, "; raising it needs CAP_SYS_RESOURCE)");
			}
			die(m.buf);
		}
	}
	if ((flags & F_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("set no_new_privs", errno);
	if (sc_len > 0 && !(flags & F_NNP))
		load_seccomp(sc, sc_len, sc_flags);
	trace("limits, seccomp");
	caps_bounding(&caps);
	int cwd_err = chdir(cwd);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail("keep capabilities", errno);
	if (sys_setgroups(ngids, gids) < 0 && !(ngids == 0 && errno == EPERM)) {
		struct sb m = {.n = 0};
		sb_str(&m, "setgroups");
		fail(m.buf, errno);
	}
	if (sys_setresgid(gid, gid, gid) < 0) {
		struct sb m = {.n = 0};
		sb_str(&m, "setgid ");
		sb_u64(&m, gid);
		fail(m.buf, errno);
	}
	if (sys_setresuid(uid, uid, uid) < 0) {
		struct sb m = {.n = 0};
		sb_str(&m, "setuid ");
		sb_u64(&m, uid);
		fail(m.buf, errno);
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail("reset keep capabilities", errno);
	caps_rest(&caps);
	umask((mode_t)umask_v);
	if (cwd_err < 0 && chdir(cwd) < 0) {
		struct sb m = {.n = 0};
		sb_str(&m, "chdir to cwd ");
		sb_quote(&m, cwd);
		fail(m.buf, errno);
	}
	if (sc_len > 0 && (flags & F_NNP))
		load_seccomp(sc, sc_len, sc_flags);
	trace("exec");
	unblock_signals();
	execve(path, argv, envp);
	int e = errno;
	struct sb m = {.n = 0};
	sb_str(&m, "exec ");
	sb_str(&m, argv[0]);
	fail(m.buf, e);
}

// berth_cinit_spawn clones the init (fork-style, with the namespace flags
// given) and runs the plan in it. It returns the child's pid, or -errno.
long berth_cinit_spawn(const uint8_t *plan, size_t len, unsigned long cloneflags) {
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	long pid = syscall(SYS_clone, cloneflags | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		child(plan, len);
		_exit(1);
	}
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid < 0 ? -e : pid;
}
