// Package cgroup owns a container's control group: it creates it, places
// processes in it, applies OCI linux.resources to it, freezes and thaws it,
// reports statistics, and destroys it (killing whatever is left inside).
//
// It knows nothing of containers as products: callers hand it a cgroups path,
// an id (only used to build the default path) and OCI resources, and persist
// Paths() if a later process needs to Load the same cgroup again.
//
// The heavy lifting is done by github.com/opencontainers/cgroups: its fs
// manager for cgroup v1 (and the v1 side of hybrid hosts) and its fs2 manager
// for the unified hierarchy. The systemd driver is deliberately not supported.
//
// On hybrid hosts (v1 controllers plus a cgroup2 mount at
// /sys/fs/cgroup/unified) the fs manager also joins the unified hierarchy.
// Controllers that are only available there (typically hugetlb on modern
// kernels) are driven by this package directly; see hybrid.go.
package cgroup
