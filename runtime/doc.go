// Package runtime turns an OCI bundle (config.json + rootfs) into an isolated,
// limited process: namespaces, rootfs and pivot_root, /dev, mounts, masked and
// read-only paths, cgroups, capabilities, seccomp, rlimits, user, hooks.
//
// It is berth's own OCI runtime. The engine calls it in-process; the
// runc-compatible command line (package runtimecli) is a thin layer over it.
//
// Lifecycle, as the runtime-spec defines it:
//
//	Create  -> "creating" while the init process sets the container up, then
//	           "created": the init process waits on the exec FIFO.
//	Start   -> the init process runs the startContainer hooks and execs the
//	           user process: "running".
//	(exit)  -> "stopped".
//	Delete  -> cgroup and state removed, poststop hooks run.
//
// The init process is a child cloned from the caller's process that runs a
// plan compiled from the spec, in C (cinit.c, cinit_linux.go). Specs the
// plan does not carry, and exec, use the init program instead (this binary
// re-executed as "berth init", or cmd/berth-init; see Init), whose joins of
// existing namespaces happen in a small C constructor (nsenter.c) before the
// Go runtime starts threads, because setns into a user or mount namespace
// needs a single-threaded process.
//
// Imports: only L0 packages, the runtime-spec types and the kernel libraries.
// It knows nothing of images, networks or containers as products.
package runtime
