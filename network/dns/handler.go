package dns

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// handler answers queries that arrive on one of network's addresses.
func (s *Server) handler(ctx context.Context, network string, tcp bool) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		var client netip.Addr
		switch a := w.RemoteAddr().(type) {
		case *net.UDPAddr:
			client, _ = netip.AddrFromSlice(a.IP)
		case *net.TCPAddr:
			client, _ = netip.AddrFromSlice(a.IP)
		}
		resp := s.answer(ctx, network, tcp, client, q)
		if resp == nil {
			return
		}
		resp.Truncate(replySize(q, tcp))
		w.WriteMsg(resp)
	})
}

// replySize is the largest reply the client takes.
func replySize(q *dns.Msg, tcp bool) int {
	if tcp {
		return dns.MaxMsgSize
	}
	size := dns.MinMsgSize
	if opt := q.IsEdns0(); opt != nil {
		size = max(size, min(int(opt.UDPSize()), maxUDPSize))
	}
	return size
}

func (s *Server) answer(ctx context.Context, network string, tcp bool, client netip.Addr, q *dns.Msg) *dns.Msg {
	if q.Response {
		return nil
	}
	if q.Opcode != dns.OpcodeQuery {
		return s.reply(q, dns.RcodeNotImplemented)
	}
	if len(q.Question) != 1 {
		return s.reply(q, dns.RcodeFormatError)
	}
	if resp := s.local(network, q); resp != nil {
		return resp
	}
	return s.forward(ctx, tcp, client, q)
}

// reply is an empty answer to q with rcode.
func (s *Server) reply(q *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg).SetRcode(q, rcode)
	m.RecursionAvailable = true
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(maxUDPSize, false)
	}
	return m
}

// local answers q from network's records, or returns nil if the name is not
// local.
func (s *Server) local(network string, q *dns.Msg) *dns.Msg {
	qn := q.Question[0]
	if qn.Qclass != dns.ClassINET {
		return nil
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: qn.Name, Rrtype: t, Class: dns.ClassINET, Ttl: s.opts.TTL}
	}
	if qn.Qtype == dns.TypePTR {
		ip, ok := addrFromPTR(qn.Name)
		if !ok {
			return nil
		}
		name, ok := s.lookupPTR(network, ip)
		if !ok {
			return nil
		}
		m := s.reply(q, dns.RcodeSuccess)
		m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: name})
		return m
	}
	ips, ok := s.lookup(network, qn.Name)
	if !ok {
		return nil
	}
	m := s.reply(q, dns.RcodeSuccess)
	m.Compress = true
	for _, ip := range ips {
		switch {
		case ip.Is4() && (qn.Qtype == dns.TypeA || qn.Qtype == dns.TypeANY):
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.IP(ip.AsSlice())})
		case ip.Is6() && (qn.Qtype == dns.TypeAAAA || qn.Qtype == dns.TypeANY):
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.IP(ip.AsSlice())})
		}
	}
	return m
}

// forward asks the upstreams in turn; SERVFAIL if none answers.
func (s *Server) forward(ctx context.Context, tcp bool, client netip.Addr, q *dns.Msg) *dns.Msg {
	select {
	case s.forwards <- struct{}{}:
		defer func() { <-s.forwards }()
	default:
		return s.reply(q, dns.RcodeServerFailure)
	}
	for _, up := range s.forwardTargets(client) {
		if ctx.Err() != nil {
			break
		}
		r := s.exchange(ctx, tcp, q, up)
		if r == nil || r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
			continue
		}
		r.Id = q.Id
		return r
	}
	return s.reply(q, dns.RcodeServerFailure)
}

// exchange sends q to one upstream over the client's protocol; a truncated
// UDP answer is asked again over TCP (and kept if that fails).
func (s *Server) exchange(ctx context.Context, tcp bool, q *dns.Msg, up netip.AddrPort) *dns.Msg {
	m := q.Copy()
	m.Id = dns.Id()
	if !tcp {
		r, err := s.exchangeOnce(ctx, "udp", m, up)
		if err != nil || !r.Truncated {
			return r
		}
		if rt, err := s.exchangeOnce(ctx, "tcp", m, up); err == nil {
			return rt
		}
		return r
	}
	r, _ := s.exchangeOnce(ctx, "tcp", m, up)
	return r
}

// exchangeOnce is one query to one upstream, bounded by the timeout and
// abandoned when ctx is cancelled (the listener stops).
func (s *Server) exchangeOnce(ctx context.Context, network string, m *dns.Msg, up netip.AddrPort) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: s.opts.Timeout, UDPSize: maxUDPSize}
	co, err := c.DialContext(ctx, up.String())
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() }) // unblocks the read
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// limitListener bounds the number of open connections it has accepted.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
