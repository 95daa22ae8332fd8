// Package seccomp owns turning an OCI runtime-spec *specs.LinuxSeccomp into a
// kernel seccomp filter. It knows nothing of containers or images.
//
// There are two entry points:
//
//   - Validate checks a configuration (and whether this libseccomp and
//     kernel can honour it) without loading anything. The runtime calls it at
//     create time in the parent so that a bad profile fails early with a
//     one-line error naming the offending field.
//   - Load compiles the configuration with libseccomp and installs the
//     resulting BPF program on the calling OS thread with seccomp(2). It
//     returns the user-notification listener fd when the profile uses
//     SCMP_ACT_NOTIFY.
//
// The conversion follows runc where the runtime-spec leaves room:
//
//   - Syscall names libseccomp does not know are skipped silently, for
//     forward compatibility with profiles written for newer kernels.
//   - SCMP_ACT_ERRNO and SCMP_ACT_TRACE return EPERM unless errnoRet (or
//     defaultErrnoRet) says otherwise; errnoRet with any other action is an
//     error.
//   - A rule whose action equals the default action is skipped (libseccomp
//     refuses it; it would be a no-op anyway).
//   - libseccomp cannot hold two conditions on the same argument in one rule.
//     When a rule has that, every one of its conditions becomes a rule of its
//     own, so the conditions are OR-ed instead of AND-ed, exactly like runc.
//     Rules whose conditions all name distinct arguments keep AND semantics.
//   - For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum:
//     the condition is (arg & value) == valueTwo.
//
// The filter is not loaded with libseccomp's seccomp_load: the Go bindings
// always ask for SECCOMP_FILTER_FLAG_TSYNC and libseccomp sets no_new_privs
// itself. Instead the BPF program is exported from libseccomp and handed to
// seccomp(2) with exactly the flags the profile asks for, so no_new_privs is
// left to the caller and only the calling thread is filtered unless the
// profile lists SECCOMP_FILTER_FLAG_TSYNC.
package seccomp
