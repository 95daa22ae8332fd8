package dns

import (
	"errors"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// control sets IPV6_FREEBIND on an IPv6 listener, so that it can bind a
// gateway address the kernel still holds tentative (duplicate address
// detection does not finish on a bridge without carrier, i.e. until a first
// container joins): without it bind fails with EADDRNOTAVAIL. IPv4 addresses
// are usable as soon as they are assigned, and a mistaken one should fail.
func control(ap netip.AddrPort) func(network, address string, c syscall.RawConn) error {
	if !ap.Addr().Is6() {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}
}
