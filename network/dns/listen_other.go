//go:build !linux

package dns

import (
	"net/netip"
	"syscall"
)

func control(netip.AddrPort) func(network, address string, c syscall.RawConn) error { return nil }
