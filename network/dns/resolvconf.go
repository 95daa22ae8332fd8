package dns

import (
	"bufio"
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// UpstreamsFromResolvConf returns the nameservers of a resolv.conf, in order,
// on port 53, without duplicates. Lines that do not parse are skipped.
//
// Loopback addresses (127.0.0.53 of systemd-resolved) are kept: the server
// forwards from the daemon's network namespace, where they are reachable,
// unlike from inside a container.
func UpstreamsFromResolvConf(b []byte) []netip.AddrPort {
	var out []netip.AddrPort
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(ip.Unmap(), 53)
		if !slices.Contains(out, ap) {
			out = append(out, ap)
		}
	}
	return out
}
