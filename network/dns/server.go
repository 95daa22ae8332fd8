// Package dns is berth's embedded DNS server for user-defined networks: the
// counterpart of Docker's resolver at 127.0.0.11.
//
// The daemon runs one Server. For each user-defined network it listens on the
// network's gateway address (UDP and TCP, port 53) on the host side of the
// bridge; a container's resolv.conf names that gateway. A query is answered
// from the records of the network whose address it arrived on:
//
//   - A and AAAA for container names and aliases (case-insensitive; plain
//     names, with or without the trailing dot). Several containers under one
//     name answer round-robin: the order of the addresses rotates by one
//     each query. A known name without an address of the asked family, or
//     asked for another type, answers NOERROR with no records.
//   - PTR (in-addr.arpa, ip6.arpa) for a local address: the first name
//     registered for it, which is the container's name.
//   - Everything else is forwarded to the upstream resolvers (the host's, see
//     UpstreamsFromResolvConf) in order: UDP, retried over TCP when the answer
//     is truncated; the next upstream on an error, a timeout, SERVFAIL or
//     REFUSED; SERVFAIL when none answers.
//
// Names of one network are unknown to clients of another. Answers carry the
// query's ID and flags, with recursion available set. Work is bounded:
// timeouts per upstream query, message sizes, the number of concurrent
// forwards and of TCP connections.
//
// The package owns only DNS. It imports errdefs of berth's packages and
// nothing else of berth's: the engine tells it which names exist.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/miekg/dns"
)

// Options tune a Server. The zero value means the defaults.
type Options struct {
	// Timeout bounds one query to one upstream. Default 2 s.
	Timeout time.Duration
	// TTL of local answers, in seconds. Default 600, like Docker's.
	TTL uint32
}

const (
	defaultTimeout = 2 * time.Second
	defaultTTL     = 600

	maxForwards  = 256  // concurrent forwarded queries; beyond: SERVFAIL
	maxTCPConns  = 128  // concurrent TCP clients per listener
	maxUDPSize   = 4096 // largest UDP message read or sent
	ioTimeout    = 2 * time.Second
	tcpIdle      = 8 * time.Second
	tcpQueries   = 128 // queries per TCP connection
	shutdownWait = 3 * time.Second
)

// Server is an embedded DNS server. It is safe for concurrent use.
type Server struct {
	opts     Options
	forwards chan struct{} // semaphore of concurrent forwards

	mu        sync.RWMutex
	upstreams []netip.AddrPort
	// clients are the upstreams of clients that have their own (a
	// container's --dns), by the client's address.
	clients   map[netip.Addr][]netip.AddrPort
	tables    map[string]*table      // network -> names
	listeners map[string][]*listener // network -> its addresses
	closed    bool
}

type listener struct {
	ap       netip.AddrPort
	udp, tcp *dns.Server
	cancel   context.CancelFunc // of its in-flight forwards
}

// New returns a Server that forwards to upstreams. It serves nothing until
// Listen.
func New(upstreams []netip.AddrPort, opts Options) *Server {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.TTL == 0 {
		opts.TTL = defaultTTL
	}
	return &Server{
		opts:      opts,
		forwards:  make(chan struct{}, maxForwards),
		upstreams: slices.Clone(upstreams),
		clients:   map[netip.Addr][]netip.AddrPort{},
		tables:    map[string]*table{},
		listeners: map[string][]*listener{},
	}
}

// Listen serves network's clients on addr, port 53, UDP and TCP. It is
// idempotent; a network may have several addresses (an IPv4 and an IPv6
// gateway).
func (s *Server) Listen(network string, addr netip.Addr) error {
	_, err := s.ListenAddrPort(network, netip.AddrPortFrom(addr, 53))
	return err
}

// ListenAddrPort is Listen on any port. Port 0 picks a port free for both
// UDP and TCP; the address served is returned.
func (s *Server) ListenAddrPort(network string, ap netip.AddrPort) (netip.AddrPort, error) {
	ap = netip.AddrPortFrom(canon(ap.Addr()).WithZone(ap.Addr().Zone()), ap.Port())
	if !ap.Addr().IsValid() {
		return netip.AddrPort{}, fmt.Errorf("dns: network %q: listen address %v: %w", network, ap, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return netip.AddrPort{}, fmt.Errorf("dns: network %q: listen on %s: server closed: %w", network, ap, errdefs.ErrUnavailable)
	}
	for nw, ls := range s.listeners {
		for _, l := range ls {
			if l.ap.Addr() != ap.Addr() || (ap.Port() != 0 && l.ap.Port() != ap.Port()) {
				continue
			}
			if nw != network {
				return netip.AddrPort{}, fmt.Errorf("dns: network %q: listen on %s: already serving network %q: %w", network, l.ap, nw, errdefs.ErrConflict)
			}
			return l.ap, nil
		}
	}
	l, err := s.start(network, ap)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dns: network %q: listen on %s: %w", network, ap, err)
	}
	s.listeners[network] = append(s.listeners[network], l)
	if s.tables[network] == nil {
		s.tables[network] = newTable()
	}
	return l.ap, nil
}

// start binds ap (UDP and TCP on one port) and serves it.
func (s *Server) start(network string, ap netip.AddrPort) (*listener, error) {
	pc, ln, err := bind(ap)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		ap:     netip.AddrPortFrom(ap.Addr(), uint16(pc.LocalAddr().(*net.UDPAddr).Port)),
		cancel: cancel,
	}
	l.udp = &dns.Server{
		PacketConn:   pc,
		Handler:      s.handler(ctx, network, false),
		UDPSize:      maxUDPSize,
		ReadTimeout:  ioTimeout,
		WriteTimeout: ioTimeout,
	}
	l.tcp = &dns.Server{
		Listener:      newLimitListener(ln, maxTCPConns),
		Handler:       s.handler(ctx, network, true),
		ReadTimeout:   ioTimeout,
		WriteTimeout:  ioTimeout,
		IdleTimeout:   func() time.Duration { return tcpIdle },
		MaxTCPQueries: tcpQueries,
	}
	for i, srv := range []*dns.Server{l.udp, l.tcp} {
		if err := serve(srv); err != nil {
			cancel()
			if i == 1 {
				l.udp.Shutdown()
			} else {
				pc.Close()
			}
			ln.Close()
			return nil, err
		}
	}
	return l, nil
}

// bind opens UDP and TCP sockets on one port of ap's address; with port 0,
// one free for both.
func bind(ap netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	tries := 1
	if ap.Port() == 0 {
		tries = 20
	}
	lc := net.ListenConfig{Control: control(ap)}
	ctx := context.Background()
	var err error
	for range tries {
		var c net.PacketConn
		c, err = lc.ListenPacket(ctx, "udp", ap.String())
		if err != nil {
			return nil, nil, err
		}
		pc := c.(*net.UDPConn)
		port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
		var l net.Listener
		l, err = lc.Listen(ctx, "tcp", netip.AddrPortFrom(ap.Addr(), port).String())
		if err == nil {
			return pc, l.(*net.TCPListener), nil
		}
		pc.Close()
	}
	return nil, nil, err
}

// serve starts srv and returns once it serves, or its error.
func serve(srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-errc:
		if err == nil {
			err = errors.New("server stopped")
		}
		return err
	}
}

// Unlisten stops serving network and forgets its names. Unknown networks
// are not an error.
func (s *Server) Unlisten(network string) error {
	s.mu.Lock()
	ls := s.listeners[network]
	delete(s.listeners, network)
	delete(s.tables, network)
	s.mu.Unlock()
	return stop(network, ls)
}

func stop(network string, ls []*listener) error {
	var errs []error
	for _, l := range ls {
		l.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		for _, srv := range []*dns.Server{l.udp, l.tcp} {
			if err := srv.ShutdownContext(ctx); err != nil {
				errs = append(errs, fmt.Errorf("dns: network %q: stop serving %s: %w", network, l.ap, err))
			}
		}
		cancel()
	}
	return errors.Join(errs...)
}

// Close stops serving every network. The Server cannot listen again.
func (s *Server) Close() error {
	s.mu.Lock()
	all := s.listeners
	s.listeners = map[string][]*listener{}
	s.tables = map[string]*table{}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for nw, ls := range all {
		errs = append(errs, stop(nw, ls))
	}
	return errors.Join(errs...)
}

// Set makes ips the addresses of name on network; no ips removes the name.
// name is a container name or an alias; for several containers under one
// alias use Add and Remove.
func (s *Server) Set(network, name string, ips []netip.Addr) {
	s.mutate(network, func(t *table) { t.set(name, ips) })
}

// Add adds ip to the addresses of name on network.
func (s *Server) Add(network, name string, ip netip.Addr) {
	s.mutate(network, func(t *table) { t.add(name, ip) })
}

// Remove removes ip from the addresses of name on network.
func (s *Server) Remove(network, name string, ip netip.Addr) {
	s.mutate(network, func(t *table) { t.remove(name, ip) })
}

// RemoveIP removes ip from every name on network: a container leaving it.
func (s *Server) RemoveIP(network string, ip netip.Addr) {
	s.mutate(network, func(t *table) { t.removeIP(ip) })
}

func (s *Server) mutate(network string, f func(*table)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[network]
	if t == nil {
		t = newTable()
		s.tables[network] = t
	}
	f(t)
	if t.empty() && len(s.listeners[network]) == 0 {
		delete(s.tables, network)
	}
}

// SetUpstreams replaces the resolvers that names not known locally are
// forwarded to.
func (s *Server) SetUpstreams(upstreams []netip.AddrPort) {
	s.mu.Lock()
	s.upstreams = slices.Clone(upstreams)
	s.mu.Unlock()
}

// SetClientUpstreams makes the names client (an address) asks for, and
// that are not known locally, go to upstreams instead of the server's
// (Docker's per-container --dns); no upstreams forgets the client's.
func (s *Server) SetClientUpstreams(client netip.Addr, upstreams []netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(upstreams) == 0 {
		delete(s.clients, canon(client))
		return
	}
	s.clients[canon(client)] = slices.Clone(upstreams)
}

// lookup answers a name from network's table: its addresses (rotated) and
// whether it is known.
func (s *Server) lookup(network, name string) ([]netip.Addr, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.tables[network]; t != nil {
		return t.lookup(name)
	}
	return nil, false
}

func (s *Server) lookupPTR(network string, ip netip.Addr) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.tables[network]; t != nil {
		return t.ptr(ip)
	}
	return "", false
}

// forwardTargets returns the upstreams of client (its own, or the
// server's), without the server's own addresses (a loop).
func (s *Server) forwardTargets(client netip.Addr) []netip.AddrPort {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ups, own := s.clients[canon(client)]
	if !own {
		ups = s.upstreams
	}
	out := make([]netip.AddrPort, 0, len(ups))
next:
	for _, up := range ups {
		for _, ls := range s.listeners {
			for _, l := range ls {
				if l.ap == netip.AddrPortFrom(canon(up.Addr()), up.Port()) {
					continue next
				}
			}
		}
		out = append(out, up)
	}
	return out
}
