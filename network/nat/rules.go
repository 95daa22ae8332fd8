package nat

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The table, in nft's words (B a berth bridge, S one of its subnets, C:c a
// published port's container address and port, H:h its host address and port):
//
//	table inet berth {
//	  set bridges { type ifname; elements = { every B } }
//	  chain guard { type filter hook prerouting priority raw
//	    iifname B ip saddr 127.0.0.0/8 drop         # non-internal B: they have
//	    iifname B ip daddr 127.0.0.0/8 drop }       #   route_localnet=1
//	  chain prerouting { type nat hook prerouting priority dstnat
//	    fib daddr type local jump published }
//	  chain output { type nat hook output priority -100
//	    fib daddr type local jump published }       # 127.0.0.1:h from the host
//	  chain published {                             # each port of a non-internal network
//	    [ip daddr H] meta l4proto tcp th dport h dnat ip to C:c }
//	  chain postrouting { type nat hook postrouting priority srcnat
//	    ip saddr S oifname != B masquerade          # outbound, non-internal B
//	    ip saddr S oifname B ct status dnat masquerade   # hairpin
//	    ip saddr 127.0.0.0/8 oifname B masquerade }      # from the host's loopback
//	  chain forward { type filter hook forward priority filter; policy accept
//	    ct state established,related accept
//	    oifname B ip daddr C meta l4proto tcp th dport c ct status dnat accept
//	    iifname B oifname B accept                  # each B
//	    iifname B drop; oifname B drop              # internal B
//	    iifname B oifname @bridges drop             # isolation, non-internal B
//	    iifname B accept                            # outbound
//	    oifname B drop }                            # unpublished ports from outside
//	}
//
// Published ports are reachable from every interface, other berth bridges
// included (Docker's default userland proxy gives the same reach). A drop is
// final for the packet; an accept only ends berth's chain, and another
// table's chain on the same hook (a FORWARD policy of drop, say) can still
// drop the packet.
const (
	chainGuard       = "guard"
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPublished   = "published"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	setBridges       = "bridges"
)

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// build queues on c the messages that fill the (just created) table tbl with s.
func build(c *nftables.Conn, tbl *nftables.Table, s State) error {
	accept := nftables.ChainPolicyAccept
	chain := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio nftables.ChainPriority) *nftables.Chain {
		ch := &nftables.Chain{Name: name, Table: tbl}
		if hook != nil {
			ch.Type, ch.Hooknum, ch.Priority, ch.Policy = typ, hook, &prio, &accept
		}
		return c.AddChain(ch)
	}
	guard := chain(chainGuard, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, *nftables.ChainPriorityRaw)
	pre := chain(chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, *nftables.ChainPriorityNATDest)
	out := chain(chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, *nftables.ChainPriorityNATDest)
	pub := chain(chainPublished, "", nil, 0)
	post := chain(chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, *nftables.ChainPriorityNATSource)
	fwd := chain(chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, *nftables.ChainPriorityFilter)

	bridges := &nftables.Set{Table: tbl, Name: setBridges, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	var elems []nftables.SetElement
	for _, n := range s.Networks {
		elems = append(elems, nftables.SetElement{Key: ifname(n.Bridge)})
	}
	if err := c.AddSet(bridges, elems); err != nil {
		return fmt.Errorf("nftables set %q: %w", setBridges, err)
	}

	add := func(ch *nftables.Chain, comment string, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: all,
			UserData: userdata.AppendString(nil, userdata.TypeComment, comment)})
	}

	// DNAT of published ports, for packets to one of the host's addresses.
	add(pre, "published ports", fibDaddrLocal(), jump(chainPublished))
	add(out, "published ports, from the host", fibDaddrLocal(), jump(chainPublished))
	internal := map[string]bool{}
	for _, n := range s.Networks {
		internal[n.Bridge] = n.Internal
	}
	for _, p := range s.Ports {
		if internal[p.Bridge] {
			continue
		}
		cip := p.ContainerIP.Unmap()
		match := [][]expr.Any{nfproto(cip)}
		if h, all := p.hostIP(); !all {
			match = append(match, addr(false, netip.PrefixFrom(h, h.BitLen())))
		}
		match = append(match, l4proto(p.Proto), dport(p.HostPort), dnat(cip, p.ContainerPort))
		add(pub, p.String(), match...)
	}

	// Source NAT.
	for _, n := range s.Networks {
		if n.Internal {
			continue
		}
		for _, sub := range n.Subnets {
			add(post, "outbound from "+n.Bridge, nfproto(sub.Addr()), addr(true, sub),
				iface(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), masq())
		}
		for _, sub := range n.Subnets {
			add(post, "hairpin on "+n.Bridge, nfproto(sub.Addr()), addr(true, sub),
				iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), ctStatusDNAT(), masq())
		}
		add(post, "from the host's loopback to "+n.Bridge, nfproto(loopback4.Addr()), addr(true, loopback4),
			iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), masq())
		// route_localnet is on for this bridge: nothing from a container
		// may reach the host's loopback addresses or claim to come from them.
		add(guard, "no loopback from "+n.Bridge, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge),
			nfproto(loopback4.Addr()), addr(true, loopback4), verdict(expr.VerdictDrop))
		add(guard, "no loopback from "+n.Bridge, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge),
			nfproto(loopback4.Addr()), addr(false, loopback4), verdict(expr.VerdictDrop))
	}

	// Forwarding.
	add(fwd, "replies", ctStateEstablished(), verdict(expr.VerdictAccept))
	for _, p := range s.Ports {
		if internal[p.Bridge] {
			continue
		}
		cip := p.ContainerIP.Unmap()
		add(fwd, p.String(), iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, p.Bridge), nfproto(cip),
			addr(false, netip.PrefixFrom(cip, cip.BitLen())), l4proto(p.Proto), dport(p.ContainerPort),
			ctStatusDNAT(), verdict(expr.VerdictAccept))
	}
	for _, n := range s.Networks {
		b := n.Bridge
		add(fwd, "within "+b, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, b),
			iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, b), verdict(expr.VerdictAccept))
		if n.Internal {
			add(fwd, "internal "+b, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, b), verdict(expr.VerdictDrop))
			add(fwd, "internal "+b, iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, b), verdict(expr.VerdictDrop))
			continue
		}
		add(fwd, "isolation of "+b, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, b),
			inSet(expr.MetaKeyOIFNAME, bridges), verdict(expr.VerdictDrop))
		add(fwd, "outbound from "+b, iface(expr.MetaKeyIIFNAME, expr.CmpOpEq, b), verdict(expr.VerdictAccept))
		add(fwd, "unpublished "+b, iface(expr.MetaKeyOIFNAME, expr.CmpOpEq, b), verdict(expr.VerdictDrop))
	}
	return nil
}

// ifname is an interface name as the kernel loads it: IFNAMSIZ bytes,
// NUL-padded.
func ifname(name string) []byte {
	b := make([]byte, ifNameSize)
	copy(b, name)
	return b
}

func iface(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

func inSet(key expr.MetaKey, s *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	}
}

// nfproto matches the family of a (in an inet table, a prerequisite of
// reading the network header).
func nfproto(a netip.Addr) []expr.Any {
	fam := byte(unix.NFPROTO_IPV4)
	if !a.Unmap().Is4() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}},
	}
}

// addr matches the source (src) or destination address against p, whose
// family nfproto has checked.
func addr(src bool, p netip.Prefix) []expr.Any {
	a := p.Addr().Unmap()
	var off uint32
	switch {
	case a.Is4() && src:
		off = 12
	case a.Is4():
		off = 16
	case src:
		off = 8
	default:
		off = 24
	}
	n := uint32(a.BitLen() / 8)
	exprs := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}}
	if p.Bits() < a.BitLen() {
		m := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		exprs = append(exprs, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: m, Xor: make([]byte, n)})
	}
	return append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().Unmap().AsSlice()})
}

func l4proto(proto string) []expr.Any {
	n := byte(unix.IPPROTO_TCP)
	if strings.EqualFold(proto, "udp") {
		n = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{n}},
	}
}

// dport matches the transport header's destination port (tcp and udp alike).
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func dnat(a netip.Addr, port uint16) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	if !a.Is4() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

// fibDaddrLocal matches packets addressed to one of the host's addresses.
func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// ctStatusDNAT matches connections whose destination was translated.
func ctStatusDNAT() []expr.Any {
	const ipsDstNAT = 1 << 5 // IPS_DST_NAT
	return ctBits(expr.CtKeySTATUS, ipsDstNAT)
}

func ctStateEstablished() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

func ctBits(key expr.CtKey, mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }
