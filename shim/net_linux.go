package shim

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// loopbackUp sets "lo" up in the network namespace of pid, as Docker's
// "none" network has it. It enters the namespace on a locked thread and
// comes back; a thread that cannot come back is not returned to the pool.
func loopbackUp(pid int) error {
	target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(target)
	runtime.LockOSThread()
	// The namespace to come back to is this thread's own.
	self, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(self)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("loopback: enter network namespace: %w", err)
	}
	upErr := setUp("lo")
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with its goroutine.
		return fmt.Errorf("loopback: leave network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	if upErr != nil {
		return fmt.Errorf("loopback: %w", upErr)
	}
	return nil
}

// setUp sets IFF_UP on an interface of the current network namespace.
func setUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: get flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: set up: %w", name, err)
	}
	return nil
}
