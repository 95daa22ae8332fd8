package network

import (
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Ephemeral host ports, as Docker's defaults (the kernel's local port range
// would be /proc/sys/net/ipv4/ip_local_port_range).
const (
	ephemeralLow  = 49153
	ephemeralHigh = 60999
)

// reservations hold published host ports with bound sockets: nothing else
// on the host can take them while a container publishes them, and a port
// already taken is an error at once.
type reservations struct {
	mu   sync.Mutex
	fds  map[string]int
	next uint16
}

func newReservations() *reservations {
	return &reservations{fds: map[string]int{}, next: ephemeralLow}
}

func key(b PortBinding) string {
	return b.Proto + "/" + b.HostIP.String() + ":" + strconv.Itoa(int(b.HostPort))
}

// reserve binds b's host port.
func (r *reservations) reserve(b PortBinding) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reserveLocked(b)
}

func (r *reservations) reserveLocked(b PortBinding) error {
	if b.HostPort == 0 {
		return fmt.Errorf("host port 0: %w", errdefs.ErrInvalidArgument)
	}
	k := key(b)
	if _, held := r.fds[k]; held {
		return portInUse(b, unix.EADDRINUSE)
	}
	fd, err := bindPort(b)
	if err != nil {
		return portInUse(b, err)
	}
	r.fds[k] = fd
	return nil
}

func portInUse(b PortBinding, err error) error {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return fmt.Errorf("driver failed programming external connectivity: Bind for %s:%d failed: port is already allocated (%v): %w", ip, b.HostPort, err, errdefs.ErrConflict)
}

// reserveAny picks the next free ephemeral port.
func (r *reservations) reserveAny(b *PortBinding) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i <= ephemeralHigh-ephemeralLow; i++ {
		p := r.next
		r.next++
		if r.next > ephemeralHigh {
			r.next = ephemeralLow
		}
		b.HostPort = p
		if r.reserveLocked(*b) == nil {
			return nil
		}
	}
	return fmt.Errorf("no free host port in %d-%d: %w", ephemeralLow, ephemeralHigh, errdefs.ErrConflict)
}

// reserveIn takes the first free port of lo..hi.
func (r *reservations) reserveIn(b *PortBinding, lo, hi uint16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := int(lo); p <= int(hi); p++ {
		b.HostPort = uint16(p)
		if r.reserveLocked(*b) == nil {
			return nil
		}
	}
	return fmt.Errorf("no free host port in %d-%d: %w", lo, hi, errdefs.ErrConflict)
}

func (r *reservations) release(b PortBinding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fd, ok := r.fds[key(b)]; ok {
		unix.Close(fd)
		delete(r.fds, key(b))
	}
}

func (r *reservations) releaseAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, fd := range r.fds {
		unix.Close(fd)
		delete(r.fds, k)
	}
}

// bindPort binds (without listening) a socket to the host port: TCP and
// UDP ports are then taken for everyone else. An unspecified host IP binds
// the IPv6 wildcard without IPV6_V6ONLY, which covers IPv4 too.
func bindPort(b PortBinding) (int, error) {
	typ := unix.SOCK_STREAM
	if b.Proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	ip := b.HostIP
	family := unix.AF_INET6
	if ip.IsValid() && ip.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(b.HostPort), Addr: ip.As4()}
	} else {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		var a [16]byte
		if ip.IsValid() && !ip.IsUnspecified() {
			a = ip.As16()
		}
		sa = &unix.SockaddrInet6{Port: int(b.HostPort), Addr: a}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
