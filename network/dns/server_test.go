package dns

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// All traffic in these tests stays on loopback addresses: the servers under
// test listen on 127.0.53.x, the fake upstreams on 127.0.54.x, ports chosen
// by the kernel.

var extIP = netip.MustParseAddr("192.0.2.80") // what the fake upstream answers for ext.example.

type upstreamMode int

const (
	answering  upstreamMode = iota // A for ext.example., NXDOMAIN otherwise
	refusing                       // REFUSED
	truncating                     // TC over UDP, the full answer over TCP
)

type upstream struct {
	ap      netip.AddrPort
	udpHits atomic.Int32
	tcpHits atomic.Int32
}

// newUpstream starts a fake upstream resolver on addr.
func newUpstream(t *testing.T, addr string, mode upstreamMode) *upstream {
	t.Helper()
	u := &upstream{}
	h := func(tcp bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, q *dns.Msg) {
			if tcp {
				u.tcpHits.Add(1)
			} else {
				u.udpHits.Add(1)
			}
			m := new(dns.Msg).SetReply(q)
			m.RecursionAvailable = true
			switch {
			case mode == refusing:
				m.Rcode = dns.RcodeRefused
			case mode == truncating && !tcp:
				m.Truncated = true
			case strings.EqualFold(q.Question[0].Name, "ext.example.") && q.Question[0].Qtype == dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IP(extIP.AsSlice()),
				})
			default:
				m.Rcode = dns.RcodeNameError
			}
			w.WriteMsg(m)
		}
	}
	pc, ln, err := bind(netip.AddrPortFrom(netip.MustParseAddr(addr), 0))
	if err != nil {
		t.Fatal(err)
	}
	u.ap = netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(pc.LocalAddr().(*net.UDPAddr).Port))
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h(false)}, {Listener: ln, Handler: h(true)}} {
		if err := serve(srv); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return u
}

// silentUpstream reads queries and never answers.
func silentUpstream(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// closedUpstream is an address where nothing listens (ICMP port unreachable).
func closedUpstream(t *testing.T, addr string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		t.Fatal(err)
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

func newServer(t *testing.T, upstreams ...netip.AddrPort) *Server {
	t.Helper()
	s := New(upstreams, Options{Timeout: 300 * time.Millisecond})
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func listen(t *testing.T, s *Server, network, addr string) netip.AddrPort {
	t.Helper()
	ap, err := s.ListenAddrPort(network, netip.AddrPortFrom(netip.MustParseAddr(addr), 0))
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func query(t *testing.T, ap netip.AddrPort, proto, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, qtype)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(q, ap.String())
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, name, dns.TypeToString[qtype], err)
	}
	if r.Id != q.Id || !r.Response || !r.RecursionDesired {
		t.Fatalf("%s: reply header %+v does not match the query's", name, r.MsgHdr)
	}
	return r
}

// answers lists the addresses or names of r's answer section.
func answers(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.PTR:
			out = append(out, rr.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

func expect(t *testing.T, r *dns.Msg, rcode int, want ...string) {
	t.Helper()
	if r.Rcode != rcode || !slices.Equal(answers(r), want) {
		t.Fatalf("%s: got %s %v, want %s %v", r.Question[0].Name, dns.RcodeToString[r.Rcode], answers(r),
			dns.RcodeToString[rcode], want)
	}
}

func TestLocalNames(t *testing.T) {
	up := newUpstream(t, "127.0.54.1", answering)
	s := newServer(t, up.ap)
	ap := listen(t, s, "front", "127.0.53.1")
	s.Set("front", "web", addrs("10.0.0.2", "fd00::2"))
	s.Add("front", "www", netip.MustParseAddr("10.0.0.2"))
	s.Set("front", "v4only", addrs("10.0.0.3"))

	for _, proto := range []string{"udp", "tcp"} {
		r := query(t, ap, proto, "web.", dns.TypeA)
		expect(t, r, dns.RcodeSuccess, "10.0.0.2")
		if !r.RecursionAvailable || r.Answer[0].Header().Ttl != defaultTTL {
			t.Fatalf("RA %v, TTL %d", r.RecursionAvailable, r.Answer[0].Header().Ttl)
		}
		expect(t, query(t, ap, proto, "web.", dns.TypeAAAA), dns.RcodeSuccess, "fd00::2")
		r = query(t, ap, proto, "WwW.", dns.TypeA)
		expect(t, r, dns.RcodeSuccess, "10.0.0.2")
		if r.Answer[0].Header().Name != "WwW." {
			t.Fatalf("answer names %q, not the name asked", r.Answer[0].Header().Name)
		}
		// a known name without an address of the family, or asked another type: NODATA
		expect(t, query(t, ap, proto, "v4only.", dns.TypeAAAA), dns.RcodeSuccess)
		expect(t, query(t, ap, proto, "web.", dns.TypeMX), dns.RcodeSuccess)
		expect(t, query(t, ap, proto, "2.0.0.10.in-addr.arpa.", dns.TypePTR), dns.RcodeSuccess, "web.")
		expect(t, query(t, ap, proto, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR),
			dns.RcodeSuccess, "web.")
	}
	if n := up.udpHits.Load() + up.tcpHits.Load(); n != 0 {
		t.Fatalf("local names reached the upstream %d times", n)
	}
	// not local: forwarded
	expect(t, query(t, ap, "udp", "9.9.0.10.in-addr.arpa.", dns.TypePTR), dns.RcodeNameError)
	expect(t, query(t, ap, "udp", "db.", dns.TypeA), dns.RcodeNameError)
	if up.udpHits.Load() != 2 {
		t.Fatalf("upstream saw %d queries, want 2", up.udpHits.Load())
	}
}

func TestRoundRobin(t *testing.T) {
	s := newServer(t)
	ap := listen(t, s, "back", "127.0.53.2")
	for _, ip := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		s.Add("back", "svc", netip.MustParseAddr(ip))
	}
	firsts := map[string]bool{}
	for range 3 {
		got := answers(query(t, ap, "udp", "svc.", dns.TypeA))
		sorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(sorted, []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"}) {
			t.Fatalf("answer %v", got)
		}
		firsts[got[0]] = true
	}
	if len(firsts) != 3 {
		t.Fatalf("three queries led with %v, want each address once", firsts)
	}
}

func TestForward(t *testing.T) {
	up := newUpstream(t, "127.0.54.2", answering)
	s := newServer(t, up.ap)
	ap := listen(t, s, "front", "127.0.53.3")
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
	expect(t, query(t, ap, "tcp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
	if up.udpHits.Load() != 1 || up.tcpHits.Load() != 1 {
		t.Fatalf("upstream hits udp %d tcp %d, want the client's protocol", up.udpHits.Load(), up.tcpHits.Load())
	}

	s.SetUpstreams(nil)
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
	// the server itself as an upstream is skipped, not a loop
	s.SetUpstreams([]netip.AddrPort{ap})
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
}

func TestFallback(t *testing.T) {
	good := newUpstream(t, "127.0.54.3", answering)
	refused := newUpstream(t, "127.0.54.4", refusing)
	silent := silentUpstream(t, "127.0.54.5")
	closed := closedUpstream(t, "127.0.54.6")
	s := newServer(t)
	ap := listen(t, s, "front", "127.0.53.4")

	for _, tc := range []struct {
		name  string
		first netip.AddrPort
	}{{"timeout", silent}, {"refused", refused.ap}, {"port closed", closed}} {
		s.SetUpstreams([]netip.AddrPort{tc.first, good.ap})
		start := time.Now()
		expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s: fallback took %v", tc.name, d)
		}
	}

	s.SetUpstreams([]netip.AddrPort{silent, refused.ap, closed})
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
	expect(t, query(t, ap, "tcp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
}

func TestTruncation(t *testing.T) {
	up := newUpstream(t, "127.0.54.7", truncating)
	s := newServer(t, up.ap)
	ap := listen(t, s, "front", "127.0.53.5")

	// a truncated UDP answer from upstream is asked again over TCP
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
	if up.udpHits.Load() != 1 || up.tcpHits.Load() != 1 {
		t.Fatalf("upstream hits udp %d tcp %d, want 1 and 1", up.udpHits.Load(), up.tcpHits.Load())
	}

	// a local answer too large for a UDP client is truncated; TCP has it all
	for i := range 100 {
		s.Add("front", "many", netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}))
	}
	q := new(dns.Msg).SetQuestion("many.", dns.TypeA)
	r, _, err := (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(q, ap.String())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) >= 100 {
		t.Fatalf("UDP answer of %d records, truncated %v", len(r.Answer), r.Truncated)
	}
	if r := query(t, ap, "tcp", "many.", dns.TypeA); r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("TCP answer of %d records, truncated %v", len(r.Answer), r.Truncated)
	}
	// with EDNS the client takes more over UDP
	q.SetEdns0(4096, false)
	r, _, err = (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(q, ap.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Fatalf("EDNS UDP answer of %d records, truncated %v, OPT %v", len(r.Answer), r.Truncated, r.IsEdns0())
	}
}

func TestIsolation(t *testing.T) {
	up := newUpstream(t, "127.0.54.8", answering)
	s := newServer(t, up.ap)
	a := listen(t, s, "a", "127.0.53.6")
	b := listen(t, s, "b", "127.0.53.7")
	s.Set("a", "web", addrs("10.0.0.2"))
	s.Set("b", "web", addrs("10.9.0.2"))
	s.Set("a", "only-a", addrs("10.0.0.3"))

	expect(t, query(t, a, "udp", "web.", dns.TypeA), dns.RcodeSuccess, "10.0.0.2")
	expect(t, query(t, b, "udp", "web.", dns.TypeA), dns.RcodeSuccess, "10.9.0.2")
	expect(t, query(t, b, "udp", "only-a.", dns.TypeA), dns.RcodeNameError) // forwarded
	expect(t, query(t, b, "tcp", "3.0.0.10.in-addr.arpa.", dns.TypePTR), dns.RcodeNameError)

	// Unlisten stops serving b and forgets its names, a is untouched
	if err := s.Unlisten("b"); err != nil {
		t.Fatal(err)
	}
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("web.", dns.TypeA), b.String()); err == nil {
		t.Fatal("b still answers after Unlisten")
	}
	expect(t, query(t, a, "udp", "web.", dns.TypeA), dns.RcodeSuccess, "10.0.0.2")
	b2 := listen(t, s, "b", "127.0.53.7")
	expect(t, query(t, b2, "udp", "web.", dns.TypeA), dns.RcodeNameError)
	if err := s.Unlisten("nonexistent"); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	up := newUpstream(t, "127.0.54.9", answering)
	s := newServer(t, up.ap)
	ap := listen(t, s, "front", "127.0.53.8")
	c1, c2 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	s.Set("front", "one", []netip.Addr{c1})
	s.Set("front", "two", []netip.Addr{c2})
	s.Add("front", "svc", c1)
	s.Add("front", "svc", c2)

	s.Remove("front", "svc", c1)
	expect(t, query(t, ap, "udp", "svc.", dns.TypeA), dns.RcodeSuccess, "10.0.0.3")
	expect(t, query(t, ap, "udp", "one.", dns.TypeA), dns.RcodeSuccess, "10.0.0.2")

	s.RemoveIP("front", c2)
	expect(t, query(t, ap, "udp", "svc.", dns.TypeA), dns.RcodeNameError)
	expect(t, query(t, ap, "udp", "two.", dns.TypeA), dns.RcodeNameError)
	expect(t, query(t, ap, "udp", "3.0.0.10.in-addr.arpa.", dns.TypePTR), dns.RcodeNameError)

	s.Set("front", "one", nil)
	expect(t, query(t, ap, "udp", "one.", dns.TypeA), dns.RcodeNameError)
}

func TestListen(t *testing.T) {
	s := newServer(t)
	ap := listen(t, s, "front", "127.0.53.9")
	// idempotent, with the port or without
	for _, again := range []netip.AddrPort{ap, netip.AddrPortFrom(ap.Addr(), 0)} {
		got, err := s.ListenAddrPort("front", again)
		if err != nil || got != ap {
			t.Fatalf("ListenAddrPort(%v) again = %v, %v; want %v", again, got, err, ap)
		}
	}
	if _, err := s.ListenAddrPort("back", ap); err == nil || !strings.Contains(err.Error(), ap.String()) {
		t.Fatalf("a second network on %v: %v", ap, err)
	}
	// a second address for one network (an IPv6 gateway, say)
	ap2 := listen(t, s, "front", "127.0.53.10")
	s.Add("front", "web", netip.MustParseAddr("10.0.0.2"))
	expect(t, query(t, ap2, "udp", "web.", dns.TypeA), dns.RcodeSuccess, "10.0.0.2")

	// a port taken by someone else: the error names the address
	other := New(nil, Options{})
	defer other.Close()
	if _, err := other.ListenAddrPort("x", ap); err == nil || !strings.Contains(err.Error(), ap.String()) {
		t.Fatalf("listen on a taken port: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListenAddrPort("front", ap); err == nil {
		t.Fatal("listen after Close succeeded")
	}
}

func TestConcurrent(t *testing.T) {
	up := newUpstream(t, "127.0.54.10", answering)
	s := newServer(t, up.ap)
	ap := listen(t, s, "front", "127.0.53.11")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				ip := netip.AddrFrom4([4]byte{10, 0, byte(w), byte(i)})
				name := fmt.Sprintf("c%d-%d", w, i)
				s.Set("front", name, []netip.Addr{ip})
				s.Add("front", "svc", ip)
				if i%3 == 0 {
					s.RemoveIP("front", ip)
				}
				if i%10 == 0 {
					s.SetUpstreams([]netip.AddrPort{up.ap})
				}
			}
		})
	}
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Go(func() {
			proto := []string{"udp", "tcp"}[w%2]
			c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
			for i := range 25 {
				name := []string{"svc.", "ext.example.", fmt.Sprintf("c%d-%d.", w%4, i)}[i%3]
				r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), ap.String())
				if err != nil {
					errs <- fmt.Errorf("%s %s: %w", proto, name, err)
					return
				}
				if r.Rcode == dns.RcodeServerFailure {
					errs <- fmt.Errorf("%s %s: SERVFAIL", proto, name)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBounds(t *testing.T) {
	silent := silentUpstream(t, "127.0.54.11")
	s := New([]netip.AddrPort{silent}, Options{Timeout: 10 * time.Second})
	ap, err := s.ListenAddrPort("front", netip.MustParseAddrPort("127.0.53.12:0"))
	if err != nil {
		t.Fatal(err)
	}

	// all forward slots taken: SERVFAIL at once
	for range cap(s.forwards) {
		s.forwards <- struct{}{}
	}
	start := time.Now()
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("SERVFAIL with no forward slot took %v", d)
	}
	for range cap(s.forwards) {
		<-s.forwards
	}

	// Close does not wait out a forward in flight
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		c.Exchange(new(dns.Msg).SetQuestion("ext.example.", dns.TypeA), ap.String())
	}()
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v with a forward in flight", d)
	}
	<-done
}

func TestClientUpstreams(t *testing.T) {
	up := newUpstream(t, "127.0.54.7", answering)
	s := newServer(t) // no upstreams of its own
	ap := listen(t, s, "front", "127.0.53.7")
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
	// The test's queries come from 127.0.0.1: that client has its own.
	s.SetClientUpstreams(netip.MustParseAddr("127.0.0.1"), []netip.AddrPort{up.ap})
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
	expect(t, query(t, ap, "tcp", "ext.example.", dns.TypeA), dns.RcodeSuccess, extIP.String())
	s.SetClientUpstreams(netip.MustParseAddr("127.0.0.2"), []netip.AddrPort{up.ap})
	s.SetClientUpstreams(netip.MustParseAddr("127.0.0.1"), nil)
	expect(t, query(t, ap, "udp", "ext.example.", dns.TypeA), dns.RcodeServerFailure)
}
