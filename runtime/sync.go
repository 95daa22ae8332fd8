package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/seccomp"
)

// Messages on the sync socket between the parent (create/exec) and the init
// process. Each is one JSON object on its own line; nsenter.c writes two of
// them by hand ("error" and "idmap") and reads a line as the reply.
const (
	msgIdmap = "idmap" // child -> parent: write my uid/gid maps, then reply msgOK
	msgHooks = "hooks" // child -> parent: run prestart and createRuntime hooks, then reply msgOK
	msgReady = "ready" // child -> parent: created; waiting on the exec FIFO
	msgError = "error" // child -> parent: setup failed
	// child -> parent: take my seccomp notify fd (Fd) with pidfd_getfd and
	// send it to the listener, then reply msgOK
	msgSeccomp = "seccomp"
	msgOK      = "ok" // parent -> child
)

type syncMsg struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
	Fd    int    `json:"fd,omitempty"`
}

// initConfig is what the parent sends the init process once it is in its
// namespaces and cgroup.
type initConfig struct {
	Exec          bool              `json:"exec,omitempty"` // exec a process into a running container
	ID            string            `json:"id"`
	Spec          *specs.Spec       `json:"spec"`
	Process       *specs.Process    `json:"process"`
	Rootfs        string            `json:"rootfs"`
	Bundle        string            `json:"bundle"`
	StateDirFd    int               `json:"stateDirFd,omitempty"` // holds exec.fifo
	NoPivot       bool              `json:"noPivot,omitempty"`
	NoNewKeyring  bool              `json:"noNewKeyring,omitempty"`
	ConsoleFd     int               `json:"consoleFd,omitempty"` // fd of the --console-socket connection, 0 if none
	PreserveFDs   int               `json:"preserveFds,omitempty"`
	CgroupPaths   map[string]string `json:"cgroupPaths,omitempty"`
	NewCgroupNS   bool              `json:"newCgroupNS,omitempty"`
	NewTimeNS     bool              `json:"newTimeNS,omitempty"`
	InUserNS      bool              `json:"inUserNS,omitempty"`
	NewNetNS      bool              `json:"newNetNS,omitempty"`
	ParentHooks   bool              `json:"parentHooks,omitempty"` // ask the parent to run prestart/createRuntime hooks
	ContainerPid1 bool              `json:"containerPid1,omitempty"`
	Pid           int               `json:"pid"` // the init process as the host sees it
	HasMountNS    bool              `json:"hasMountNS,omitempty"`
	// Seccomp is Spec.Linux.Seccomp compiled by the parent (nil: none).
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
}
