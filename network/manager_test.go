package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth-dev/berth/errdefs"
)

// inNS runs fn on a thread in ns and returns to the caller's namespace.
func inNS(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			t.Error(err)
			return
		}
		fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} // else the thread dies with the goroutine
	}()
	<-done
}

// newNS makes a network namespace with lo up, without moving the caller.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread ends in ns
		h, err := netns.New()
		if err == nil {
			if lo, lerr := netlink.LinkByName("lo"); lerr == nil {
				err = netlink.LinkSetUp(lo)
			}
		}
		ns = h
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func TestManager(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	host := newNS(t)
	dir := t.TempDir()
	var m *Manager
	var err error
	inNS(t, host, func() { m, err = Open(dir, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { inNS(t, host, m.Close) }()

	names := map[string]string{}
	for _, n := range m.List() {
		names[n.Name] = n.Driver
	}
	if names["bridge"] != "bridge" || names["host"] != "host" || names["none"] != "null" {
		t.Fatalf("predefined networks: %v", names)
	}
	def, _ := m.Get("bridge")
	if def.Subnet.String() != "172.17.0.0/16" || def.Gateway.String() != "172.17.0.1" || def.Bridge != DefaultBridge {
		t.Errorf("default network %+v: want 172.17.0.0/16 via 172.17.0.1 on %s", def, DefaultBridge)
	}

	var app *Network
	inNS(t, host, func() { app, err = m.Create(CreateRequest{Name: "app", Subnet: "10.89.0.0/24"}) })
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		req  CreateRequest
		want error
	}{
		{CreateRequest{Name: "app"}, errdefs.ErrConflict},
		{CreateRequest{Name: "over", Subnet: "10.89.0.128/25"}, errdefs.ErrConflict},
		{CreateRequest{Name: "cidr", Subnet: "10.90.0.0/33"}, errdefs.ErrInvalidArgument},
		{CreateRequest{Name: "gw", Subnet: "10.91.0.0/24", Gateway: "10.92.0.1"}, errdefs.ErrInvalidArgument},
		{CreateRequest{Name: "bad/name"}, errdefs.ErrInvalidArgument},
		{CreateRequest{Name: "drv", Driver: "overlay"}, errdefs.ErrInvalidArgument},
	} {
		var err error
		inNS(t, host, func() { _, err = m.Create(bad.req) })
		if !errors.Is(err, bad.want) {
			t.Errorf("create %+v: %v, want %v", bad.req, err, bad.want)
		}
	}

	// Two containers on "app": db (alias database, port 18080 -> 80) and web.
	db, web := newNS(t), newNS(t)
	dbID, webID := strings.Repeat("d", 64), strings.Repeat("e", 64)
	var dbEP *Endpoint
	inNS(t, host, func() {
		dbEP, err = m.Connect("app", ConnectRequest{ContainerID: dbID, Name: "db", Aliases: []string{"database"},
			Ports: []PortRequest{{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80}}})
		if err == nil {
			err = m.Plumb("app", dbID, nsPath(db))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	inNS(t, host, func() {
		_, err = m.Connect("app", ConnectRequest{ContainerID: webID, Name: "web"})
		if err == nil {
			err = m.Plumb("app", webID, nsPath(web))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if dbEP.IP.String() != "10.89.0.2" {
		t.Errorf("db got %v, want the first address 10.89.0.2", dbEP.IP)
	}

	// A server in db; web finds it by name and reaches it over the bridge;
	// the host reaches it through the published port on its loopback.
	var ln net.Listener
	inNS(t, db, func() { ln, err = net.Listen("tcp", ":80") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from db\n")
			c.Close()
		}
	}()
	var addrs []string
	inNS(t, web, func() { addrs, err = lookup(app.Gateway, "database") })
	if err != nil || len(addrs) != 1 || addrs[0] != dbEP.IP.String() {
		t.Fatalf("web resolving database: %v %v, want %v", addrs, err, dbEP.IP)
	}
	for _, who := range []struct {
		name string
		ns   netns.NsHandle
		addr string
	}{{"web -> db", web, net.JoinHostPort(addrs[0], "80")}, {"host -> 127.0.0.1:18080", host, "127.0.0.1:18080"}} {
		var got string
		inNS(t, who.ns, func() { got, err = fetch(who.addr) })
		if err != nil || got != "hello from db\n" {
			t.Errorf("%s: %q %v", who.name, got, err)
		}
	}

	// The host port is taken now; the network has endpoints.
	inNS(t, host, func() {
		_, err = m.Connect("app", ConnectRequest{ContainerID: strings.Repeat("f", 64), Name: "other",
			Ports: []PortRequest{{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80}}})
	})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "port is already allocated") {
		t.Errorf("second use of host port 18080: %v", err)
	}
	inNS(t, host, func() { err = m.Remove("app") })
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove with endpoints: %v", err)
	}
	if err := m.Remove("bridge"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove the default network: %v", err)
	}

	// A restart finds everything again.
	inNS(t, host, func() {
		m.Close()
		m, err = Open(dir, Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if eps := m.Endpoints(app.ID); len(eps) != 2 {
		t.Fatalf("after reopen: %d endpoints, want 2", len(eps))
	}
	inNS(t, web, func() { addrs, err = lookup(app.Gateway, "db") })
	if err != nil || len(addrs) != 1 {
		t.Errorf("DNS after reopen: %v %v", addrs, err)
	}

	// Leaving and removing take everything away.
	inNS(t, host, func() {
		err = m.DisconnectAll(dbID)
		if err == nil {
			err = m.Disconnect("app", webID, false)
		}
		if err == nil {
			err = m.Remove("app")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// DisconnectAll deletes veths in the background: give it a moment.
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		var links []netlink.Link
		inNS(t, host, func() { links, err = netlink.LinkList() })
		left = left[:0]
		for _, l := range links {
			if n := l.Attrs().Name; strings.HasPrefix(n, "veth") || n == app.Bridge {
				left = append(left, n)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("left behind: links %v", left)
	}
	if _, err := m.Get("app"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removed network still there: %v", err)
	}
}

func nsPath(ns netns.NsHandle) string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(ns))
}

func lookup(server netip.Addr, name string) ([]string, error) {
	c := &mdns.Client{Timeout: 2 * time.Second}
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := c.Exchange(q, net.JoinHostPort(server.String(), "53"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range r.Answer {
		if rr, ok := a.(*mdns.A); ok {
			out = append(out, rr.A.String())
		}
	}
	return out, nil
}

func fetch(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}
