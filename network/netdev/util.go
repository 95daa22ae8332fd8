package netdev

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// maxNameLen is the longest interface name the kernel takes: IFNAMSIZ (16)
// less the terminating NUL.
const maxNameLen = unix.IFNAMSIZ - 1

// checkName applies the kernel's rules for interface names (dev_valid_name),
// so a bad name fails with a clear error before anything is created.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty: %w", what, errdefs.ErrInvalidArgument)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %q is %d bytes long, the kernel's limit is %d (IFNAMSIZ): %w",
			what, name, len(name), maxNameLen, errdefs.ErrInvalidArgument)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Errorf("%s name %q: no '/', ':', white space, '.' or '..' allowed: %w",
			what, name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// isNotFound reports whether a netlink error means "no such link".
func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// dumpRetries bounds the retries of a dump the kernel interrupted because
// the table changed under it (other containers starting and stopping).
const dumpRetries = 5

func retryDump[T any](dump func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range dumpRetries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return v, err
}

// ipNet converts an address with its prefix length (the host bits kept) to
// netlink's form.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// prefixOf converts netlink's form back; ok is false for a malformed value.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// addrFlags are the flags of an address berth adds: IPv6 ones skip duplicate
// address detection, so they are usable at once instead of after the DAD
// delay (as Docker does for bridge gateways and container addresses).
func addrFlags(a netip.Addr) int {
	if a.Is6() {
		return unix.IFA_F_NODAD
	}
	return 0
}

// checkAddr rejects the zero value and IPv4-mapped IPv6 addresses, whose
// family would be ambiguous.
func checkAddr(what string, a netip.Addr) error {
	if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
		return fmt.Errorf("%s %v: not a plain IPv4 or IPv6 address: %w", what, a, errdefs.ErrInvalidArgument)
	}
	return nil
}

// randomMAC returns a random unicast, locally administered MAC address.
func randomMAC() net.HardwareAddr {
	hw := make(net.HardwareAddr, 6)
	rand.Read(hw)
	hw[0] = hw[0]&^0x01 | 0x02
	return hw
}

// classify wraps a kernel error from creating something called name with
// the matching errdefs class.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%s: %w (%w)", what, errdefs.ErrAlreadyExists, err)
	case isNotFound(err):
		return fmt.Errorf("%s: %w (%w)", what, errdefs.ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
