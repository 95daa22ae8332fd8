package dns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// table holds one network's local names. It is not safe for concurrent
// mutation; Server guards it (lookups may run concurrently with each other:
// the round-robin counter is atomic).
type table struct {
	names map[string]*entry       // key: lower-case FQDN
	byIP  map[netip.Addr][]string // keys of names of an address, in registration order
}

type entry struct {
	name string // as registered, FQDN: what PTR answers
	ips  []netip.Addr
	next atomic.Uint32 // round-robin: where the next answer starts
}

func newTable() *table {
	return &table{names: map[string]*entry{}, byIP: map[netip.Addr][]string{}}
}

// key is the lookup form of a name: lower case, fully qualified.
func key(name string) string { return dns.Fqdn(strings.ToLower(name)) }

// canon makes addresses comparable: IPv4-mapped IPv6 addresses become IPv4.
func canon(ip netip.Addr) netip.Addr { return ip.Unmap().WithZone("") }

func (t *table) empty() bool { return len(t.names) == 0 }

// set makes ips the addresses of name (none removes the name).
func (t *table) set(name string, ips []netip.Addr) {
	k := key(name)
	if k == "." {
		return
	}
	var want []netip.Addr
	for _, ip := range ips {
		if ip = canon(ip); ip.IsValid() && !slices.Contains(want, ip) {
			want = append(want, ip)
		}
	}
	if e := t.names[k]; e != nil {
		for _, ip := range slices.Clone(e.ips) {
			if !slices.Contains(want, ip) {
				t.remove(name, ip)
			}
		}
	}
	for _, ip := range want {
		t.add(name, ip)
	}
}

// add adds ip to name's addresses.
func (t *table) add(name string, ip netip.Addr) {
	k, ip := key(name), canon(ip)
	if k == "." || !ip.IsValid() {
		return
	}
	e := t.names[k]
	if e == nil {
		e = &entry{name: dns.Fqdn(name)}
		t.names[k] = e
	}
	if slices.Contains(e.ips, ip) {
		return
	}
	e.ips = append(e.ips, ip)
	t.byIP[ip] = append(t.byIP[ip], k)
}

// remove removes ip from name's addresses, and the name with its last one.
func (t *table) remove(name string, ip netip.Addr) {
	k, ip := key(name), canon(ip)
	e := t.names[k]
	if e == nil {
		return
	}
	i := slices.Index(e.ips, ip)
	if i < 0 {
		return
	}
	e.ips = slices.Delete(e.ips, i, i+1)
	if len(e.ips) == 0 {
		delete(t.names, k)
	}
	keys := slices.DeleteFunc(t.byIP[ip], func(s string) bool { return s == k })
	if len(keys) == 0 {
		delete(t.byIP, ip)
	} else {
		t.byIP[ip] = keys
	}
}

// removeIP removes ip from every name that has it.
func (t *table) removeIP(ip netip.Addr) {
	ip = canon(ip)
	for _, k := range slices.Clone(t.byIP[ip]) {
		t.remove(k, ip)
	}
}

// lookup returns name's addresses, rotated by one more place each call,
// and whether the name is known.
func (t *table) lookup(name string) ([]netip.Addr, bool) {
	e := t.names[key(name)]
	if e == nil {
		return nil, false
	}
	n := len(e.ips)
	start := int((e.next.Add(1) - 1) % uint32(n))
	out := make([]netip.Addr, 0, n)
	out = append(out, e.ips[start:]...)
	return append(out, e.ips[:start]...), true
}

// ptr returns the first name registered for ip (the engine registers a
// container's name before its aliases), as an FQDN.
func (t *table) ptr(ip netip.Addr) (string, bool) {
	keys := t.byIP[canon(ip)]
	if len(keys) == 0 {
		return "", false
	}
	return t.names[keys[0]].name, true
}

// addrFromPTR parses a reverse-lookup name (d.c.b.a.in-addr.arpa. or the 32
// nibbles of ip6.arpa.).
func addrFromPTR(name string) (netip.Addr, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			if len(l) == 0 || len(l) > 3 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 16, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			// labels[0] is the low nibble of the last byte
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
