// Package netdev owns the link level of Docker-style bridge networking: the
// bridge device with its gateway addresses, and the veth pair that plugs a
// container's network namespace into it.
//
// Everything goes through netlink (github.com/vishvananda/netlink); nothing
// runs ip(8). Bridge operations, Detach, LinkExists and HostRoutes act on the
// network namespace of the calling thread (the host's, in the daemon). Attach
// configures the container's side through a netlink socket opened inside the
// container's namespace (see handleAt); the calling thread never changes
// namespace.
//
// Lifecycle of one network and its containers:
//
//	EnsureBridge -> the bridge exists, has its MTU and gateway addresses and is
//	                up. Idempotent: the daemon re-runs it at every start.
//	Attach       -> a veth pair: the host end (HostIf) is a port of the bridge
//	                and up; the peer is born in the container's namespace as
//	                IfName with its MAC, addresses and default routes, and lo
//	                is up. On failure nothing is left behind.
//	Detach       -> the pair is gone (deleting the host end deletes the peer).
//	DeleteBridge -> the bridge is gone.
//
// What it does not own: address allocation (network/ipam: HostRoutes is its
// input), NAT, forwarding and port publishing (network/nat), DNS, and the
// records of which container has which endpoint.
//
// Imports: netlink, netns, x/sys and errdefs only.
package netdev
