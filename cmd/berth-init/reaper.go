package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaper runs "docker-init [--] PROGRAM ARGS...": it starts the program,
// forwards every signal it gets to it, reaps every child that ends (orphans
// of the container are re-parented to pid 1), and exits with the program's
// status (128+N if a signal N ended it).
func reaper(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: usage: docker-init -- PROGRAM [ARGS...]")
		return 2
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		return 127
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	// Not a subreaper outside a PID namespace: become one so that orphans
	// still come here.
	if os.Getpid() != 1 {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: false},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: exec %s: %v\n", args[0], err)
		if err == syscall.EACCES {
			return 126
		}
		return 127
	}
	for sig := range sigs {
		s := sig.(syscall.Signal)
		if s != syscall.SIGCHLD {
			if s != syscall.SIGURG { // the Go runtime's own preemption signal
				_ = syscall.Kill(pid, s)
			}
			continue
		}
		for {
			var ws syscall.WaitStatus
			w, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || w <= 0 {
				break
			}
			if w == pid {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 0
}
