package specgen

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Errors the default profile returns.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// cloneNamespaceFlags are clone's flags that create namespaces
// (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET); without
// CAP_SYS_ADMIN clone is allowed only without them.
const cloneNamespaceFlags = 0x7E020000

// afVSOCK is the socket family the default profile refuses.
const afVSOCK = 40

// defaultAllowed are the system calls Docker's default profile allows
// unconditionally: everything an ordinary program needs and nothing that
// reaches outside the container's namespaces or needs a capability the
// container lacks.
var defaultAllowed = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
	"capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
	"clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
	"close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
	"epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
	"execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
	"fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
	"fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
	"ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
	"futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
	"getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
	"getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
	"getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
	"getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
	"getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
	"inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
	"io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
	"llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
	"madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
	"mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
	"mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
	"msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at",
	"nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
	"pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
	"preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
	"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
	"readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
	"semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
	"sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
	"setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
	"sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
	"statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
	"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
	"truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
	"utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
	"waitpid", "write", "writev",
}

// capGated are the system calls allowed only to a container that holds a
// capability, in the order Docker's profile lists them.
var capGated = []struct {
	cap   string
	names []string
}{
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYS_ADMIN", []string{"bpf", "clone", "clone3", "fanotify_init", "fsconfig",
		"fsmount", "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
		"move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
		"setdomainname", "sethostname", "setns", "syscall", "umount", "umount2", "unshare"}},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_MODULE", []string{"delete_module", "init_module", "finit_module"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_PTRACE", []string{"kcmp", "pidfd_getfd", "process_madvise",
		"process_vm_readv", "process_vm_writev", "ptrace"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// archOnly are system calls that exist (and are allowed) on some
// architectures only; the keys are Go's architecture names.
var archOnly = []struct {
	arches []string
	names  []string
}{
	{[]string{"ppc64le"}, []string{"sync_file_range2", "swapcontext"}},
	{[]string{"arm", "arm64"}, []string{"arm_fadvise64_64", "arm_sync_file_range",
		"sync_file_range2", "breakpoint", "cacheflush", "set_tls"}},
	{[]string{"amd64", "x32"}, []string{"arch_prctl"}},
	{[]string{"amd64", "x32", "386"}, []string{"modify_ldt"}},
	{[]string{"s390", "s390x"}, []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}},
	{[]string{"riscv64"}, []string{"riscv_flush_icache"}},
}

// personalities are the personality(2) arguments the default profile allows:
// PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query
// 0xffffffff.
var personalities = []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

// defaultProfile builds Docker's default seccomp profile: refuse with EPERM
// whatever is not allowed, on the host's architecture and the ones it can
// also run.
func defaultProfile() *profile {
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	allow := func(names ...string) syscallRule {
		return syscallRule{Names: names, Action: specs.ActAllow}
	}
	p := &profile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		ArchMap: []archMap{
			{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
			{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
			{Arch: specs.ArchPPC64LE},
			{Arch: specs.ArchS390X},
			{Arch: specs.ArchRISCV64},
		},
		Syscalls: []syscallRule{allow(defaultAllowed...)},
	}
	add := func(r syscallRule) { p.Syscalls = append(p.Syscalls, r) }

	// socket, but not for virtio sockets (a way out to the hypervisor).
	r := allow("socket")
	r.Args = []specs.LinuxSeccompArg{{Index: 0, Value: afVSOCK, Op: specs.OpNotEqual}}
	add(r)
	for _, v := range personalities {
		r := allow("personality")
		r.Args = []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}
		add(r)
	}
	for _, a := range archOnly {
		r := allow(a.names...)
		r.Includes = &filter{Arches: a.arches}
		add(r)
	}
	// ptrace cannot be used to get around seccomp from Linux 4.8 on.
	r = allow("ptrace")
	r.Includes = &filter{MinKernel: "4.8"}
	add(r)
	for _, g := range capGated {
		r := allow(g.names...)
		r.Includes = &filter{Caps: []string{g.cap}}
		add(r)
	}
	// Without CAP_SYS_ADMIN: clone without namespace flags (the flags are
	// the second argument on s390), and clone3, whose flags a filter cannot
	// see, fails as unknown so that libcs fall back to clone.
	r = allow("clone")
	r.Args = []specs.LinuxSeccompArg{{Index: 0, Value: cloneNamespaceFlags, Op: specs.OpMaskedEqual}}
	r.Excludes = &filter{Caps: []string{"CAP_SYS_ADMIN"}, Arches: []string{"s390", "s390x"}}
	add(r)
	r = allow("clone")
	r.Args = []specs.LinuxSeccompArg{{Index: 1, Value: cloneNamespaceFlags, Op: specs.OpMaskedEqual}}
	r.Includes = &filter{Arches: []string{"s390", "s390x"}}
	r.Excludes = &filter{Caps: []string{"CAP_SYS_ADMIN"}}
	add(r)
	add(syscallRule{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys,
		Excludes: &filter{Caps: []string{"CAP_SYS_ADMIN"}}})
	return p
}
