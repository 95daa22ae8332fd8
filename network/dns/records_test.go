package dns

import (
	"net/netip"
	"slices"
	"testing"
)

func TestAddrFromPTR(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for no address
	}{
		{"4.3.2.10.in-addr.arpa.", "10.2.3.4"},
		{"4.3.2.10.IN-ADDR.ARPA", "10.2.3.4"},
		{"255.0.0.127.in-addr.arpa.", "127.0.0.255"},
		{"256.0.0.127.in-addr.arpa.", ""},
		{"3.2.10.in-addr.arpa.", ""},
		{"a.3.2.10.in-addr.arpa.", ""},
		{"-1.3.2.10.in-addr.arpa.", ""},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::2"},
		{"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.", "4321:0:1:2:3:4:567:89ab"},
		{"0.0.0.ip6.arpa.", ""},
		{"example.com.", ""},
	} {
		got, ok := addrFromPTR(tc.name)
		if tc.want == "" {
			if ok {
				t.Errorf("addrFromPTR(%q) = %v, want none", tc.name, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tc.want) {
			t.Errorf("addrFromPTR(%q) = %v %v, want %s", tc.name, got, ok, tc.want)
		}
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestTable(t *testing.T) {
	tb := newTable()
	tb.set("Web", addrs("10.0.0.2", "::ffff:10.0.0.3", "10.0.0.2"))
	tb.add("db", netip.MustParseAddr("10.0.0.2"))
	tb.add("svc", netip.MustParseAddr("10.0.0.2"))
	tb.add("svc", netip.MustParseAddr("10.0.0.4"))

	if got, ok := tb.lookup("web."); !ok || !slices.Equal(got, addrs("10.0.0.2", "10.0.0.3")) {
		t.Fatalf("lookup web = %v %v", got, ok)
	}
	if got, _ := tb.lookup("WEB"); !slices.Equal(got, addrs("10.0.0.3", "10.0.0.2")) {
		t.Fatalf("second lookup of web not rotated: %v", got)
	}
	if name, ok := tb.ptr(netip.MustParseAddr("10.0.0.2")); !ok || name != "Web." {
		t.Fatalf("ptr 10.0.0.2 = %q %v, want the first name", name, ok)
	}

	tb.set("web", addrs("10.0.0.5"))
	if got, _ := tb.lookup("web"); !slices.Equal(got, addrs("10.0.0.5")) {
		t.Fatalf("after set: %v", got)
	}
	if name, _ := tb.ptr(netip.MustParseAddr("10.0.0.2")); name != "db." {
		t.Fatalf("ptr after set = %q, want db.", name)
	}
	if _, ok := tb.ptr(netip.MustParseAddr("10.0.0.3")); ok {
		t.Fatal("10.0.0.3 still has a name")
	}

	tb.removeIP(netip.MustParseAddr("10.0.0.2"))
	if _, ok := tb.lookup("db"); ok {
		t.Fatal("db survived RemoveIP of its only address")
	}
	if got, _ := tb.lookup("svc"); !slices.Equal(got, addrs("10.0.0.4")) {
		t.Fatalf("svc after removeIP: %v", got)
	}
	tb.remove("svc", netip.MustParseAddr("10.0.0.4"))
	tb.set("web", nil)
	if !tb.empty() || len(tb.byIP) != 0 {
		t.Fatalf("table not empty: %v %v", tb.names, tb.byIP)
	}
	tb.add("", netip.MustParseAddr("10.0.0.9"))
	tb.add("x", netip.Addr{})
	if !tb.empty() {
		t.Fatal("empty name or invalid address stored")
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	conf := `# generated
nameserver 127.0.0.53
nameserver 10.1.2.3 # office
; nameserver 10.9.9.9
nameserver   2001:db8::53
nameserver fe80::1%eth0
nameserver bogus
nameserver 10.1.2.3
search example.com
options edns0 trust-ad
`
	var got []string
	for _, ap := range UpstreamsFromResolvConf([]byte(conf)) {
		got = append(got, ap.String())
	}
	want := []string{"127.0.0.53:53", "10.1.2.3:53", "[2001:db8::53]:53", "[fe80::1%eth0]:53"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
