package nat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// sysctls sets what the rules of s need in the current network namespace:
// forwarding on, and route_localnet on every non-internal bridge (for
// 127.0.0.1:HOSTPORT). A bridge that does not exist yet is skipped: the
// caller applies again once it has created it.
func sysctls(s State) error {
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	v6 := false
	for _, n := range s.Networks {
		for _, p := range n.Subnets {
			v6 = v6 || !p.Addr().Is4()
		}
	}
	if v6 {
		if err := writeSysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
			return err
		}
	}
	for _, n := range s.Networks {
		if n.Internal {
			continue
		}
		err := writeSysctl("net/ipv4/conf/"+n.Bridge+"/route_localnet", "1")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func writeSysctl(key, value string) error {
	path := "/proc/sys/" + key
	b, err := os.ReadFile(path)
	if err == nil && string(b) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// inNetNS runs f in the network namespace nsfd refers to (-1 for the
// current one). /proc/sys/net shows the namespace of the
// thread that opens it, so f runs on a thread of its own, which is thrown
// away afterwards rather than switched back.
func inNetNS(nsfd int, f func() error) error {
	if nsfd < 0 {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("network namespace: setns: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
