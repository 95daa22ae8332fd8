package dns

import (
	"net/netip"
	"testing"
)

// An IPv6 gateway address that is not (or not yet: tentative) usable on the
// host can still be listened on. No traffic is sent to it.
func TestListenIPv6Freebind(t *testing.T) {
	s := newServer(t)
	ap, err := s.ListenAddrPort("v6", netip.MustParseAddrPort("[fd00:b5e7:d45::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	if ap.Port() == 0 {
		t.Fatalf("listening on %v", ap)
	}
	// an IPv4 address the host does not have fails, naming it
	if _, err := s.ListenAddrPort("v4", netip.MustParseAddrPort("192.0.2.53:0")); err == nil {
		t.Fatal("listen on an address the host does not have succeeded")
	} else {
		t.Log(err)
	}
	if err := s.Unlisten("v6"); err != nil {
		t.Fatal(err)
	}
}
