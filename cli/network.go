package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

// networkCmd is "network" and its verbs, with docker 28's flags, requests,
// output and exit statuses (1 for a daemon's error, 125 for a bad flag).
func networkCmd(g *globals) *cobra.Command {
	noun := &cobra.Command{Use: "network", Short: "Manage networks", RunE: nounHelp}
	noun.AddCommand(networkCreateCmd(g), networkLsCmd(g), networkInspectCmd(g), networkRmCmd(g),
		networkPruneCmd(g), networkConnectCmd(g), networkDisconnectCmd(g))
	return noun
}

// nounHelp is what docker does for a bare noun ("docker network"): its
// short help on stderr, exit status 0; with an unknown verb, an error and 1
// (its usage line is the noun's: "volume COMMAND" says COMMAND).
func nounHelp(cmd *cobra.Command, args []string) error {
	path := cmd.CommandPath()
	if len(args) > 0 {
		return &statusError{Code: 1, Status: fmt.Sprintf("%s: unknown command: %s %s\n\nUsage:  %s\n\nRun '%s --help' for more information",
			rootName(cmd), path, args[0], cmd.UseLine(), path)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:  %s COMMAND\n\n%s\n\nCommands:\n", path, cmd.Short)
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			fmt.Fprintf(&b, "  %-*s %s\n", max(11, sub.NamePadding()), sub.Name(), sub.Short)
		}
	}
	fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for more information on a command.\n", path)
	_, err := io.WriteString(cmd.ErrOrStderr(), b.String())
	return err
}

// ipamFlags are network create's address flags, one entry per subnet.
type ipamFlags struct {
	driver                      string
	subnets, ipRanges, gateways []string
	aux, opts                   mapOpts
}

func networkCreateCmd(g *globals) *cobra.Command {
	var (
		req        createBody
		ipv4, ipv6 bool
		driverOpts mapOpts
		labels     = newListOpts(validateLabel)
		ipam       ipamFlags
		configFrom string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Ingress {
				return errors.New("--ingress is not supported: berth has no swarm mode, so no routing-mesh network")
			}
			req.Name = args[0]
			if cmd.Flags().Changed("ipv4") {
				req.EnableIPv4 = &ipv4
			}
			if cmd.Flags().Changed("ipv6") {
				req.EnableIPv6 = &ipv6
			}
			var err error
			if req.IPAM, err = ipam.config(); err != nil {
				return err
			}
			if configFrom != "" {
				req.ConfigFrom = &network.ConfigReference{Network: configFrom}
			}
			req.Options = driverOpts.all()
			req.Labels = kvMap(labels.values)
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var resp network.CreateResponse
			if err := c.do(ctx(cmd), "POST", "/networks/create", nil, &req, &resp); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&req.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	fl.VarP(&driverOpts, "opt", "o", "Set driver specific options")
	fl.Var(labels, "label", "Set metadata on a network")
	fl.BoolVar(&req.Internal, "internal", false, "Restrict external access to the network")
	fl.BoolVar(&ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	fl.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	fl.BoolVar(&req.Attachable, "attachable", false, "Enable manual container attachment")
	fl.BoolVar(&req.Ingress, "ingress", false, "Create swarm routing-mesh network (not supported by berth)")
	fl.StringVar(&req.Scope, "scope", "", "Control the network's scope")
	fl.BoolVar(&req.ConfigOnly, "config-only", false, "Create a configuration only network")
	fl.StringVar(&configFrom, "config-from", "", "The network from which to copy the configuration")
	fl.StringVar(&ipam.driver, "ipam-driver", "default", "IP Address Management Driver")
	fl.StringSliceVar(&ipam.subnets, "subnet", []string{}, "Subnet in CIDR format that represents a network segment")
	fl.StringSliceVar(&ipam.ipRanges, "ip-range", []string{}, "Allocate container ip from a sub-range")
	fl.StringSliceVar(&ipam.gateways, "gateway", []string{}, "IPv4 or IPv6 Gateway for the master subnet")
	fl.Var(&ipam.aux, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	fl.Var(&ipam.opts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

// createBody is POST /networks/create's body: network.CreateRequest with
// the IPAM section as the docker CLI sends it.
type createBody struct {
	network.CreateRequest
	IPAM *ipamBody // hides CreateRequest.IPAM, whose addresses are parsed types
}

type ipamBody struct {
	Driver  string
	Options map[string]string
	Config  []ipamConfig
}

// ipamConfig is one subnet's entry as the docker CLI sends it (strings,
// so that the daemon, not the CLI, judges an odd subnet).
type ipamConfig struct {
	Subnet     string            `json:",omitempty"`
	IPRange    string            `json:",omitempty"`
	Gateway    string            `json:",omitempty"`
	AuxAddress map[string]string `json:"AuxiliaryAddresses,omitempty"`
}

// config groups the ranges, gateways and auxiliary addresses by the subnet
// that holds them, with the docker CLI's checks and messages.
func (f *ipamFlags) config() (*ipamBody, error) {
	if len(f.subnets) < len(f.ipRanges) || len(f.subnets) < len(f.gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	bySubnet := map[string]*ipamConfig{}
	for _, s := range f.subnets {
		for k := range bySubnet {
			in1, err := subnetHolds(s, k)
			if err != nil {
				return nil, err
			}
			in2, err := subnetHolds(k, s)
			if err != nil {
				return nil, err
			}
			if in1 || in2 {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		bySubnet[s] = &ipamConfig{Subnet: s, AuxAddress: map[string]string{}}
	}
	// place puts a range or gateway (what) into the one subnet that holds it
	// ("cannot configure multiple ranges (...) on the same subnet" for a second).
	place := func(what, prep, v string, field func(*ipamConfig) *string) error {
		match := false
		for _, s := range f.subnets {
			ok, err := subnetHolds(s, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			p := field(bySubnet[s])
			if *p != "" {
				return fmt.Errorf("cannot configure multiple %ss (%s, %s) %s the same subnet (%s)", what, v, *p, prep, s)
			}
			*p, match = v, true
		}
		if !match {
			return fmt.Errorf("no matching subnet for %s %s", what, v)
		}
		return nil
	}
	for _, r := range f.ipRanges {
		if _, _, err := net.ParseCIDR(r); err != nil {
			return nil, err
		}
		if err := place("range", "on", r, func(c *ipamConfig) *string { return &c.IPRange }); err != nil {
			return nil, err
		}
	}
	for _, gw := range f.gateways {
		if err := place("gateway", "for", gw, func(c *ipamConfig) *string { return &c.Gateway }); err != nil {
			return nil, err
		}
	}
	for key, a := range f.aux.all() {
		match := false
		for _, s := range f.subnets {
			ok, err := subnetHolds(s, a)
			if err != nil {
				return nil, err
			}
			if ok {
				bySubnet[s].AuxAddress[key] = a
				match = true
			}
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", a)
		}
	}
	configs := make([]ipamConfig, 0, len(f.subnets))
	for _, s := range f.subnets {
		configs = append(configs, *bySubnet[s])
	}
	return &ipamBody{Driver: f.driver, Options: f.opts.all(), Config: configs}, nil
}

// subnetHolds reports whether subnet holds the address (or the network
// address of the CIDR) in data.
func subnetHolds(subnet, data string) (bool, error) {
	_, s, err := net.ParseCIDR(subnet)
	if err != nil {
		return false, fmt.Errorf("invalid subnet: %w", err)
	}
	var ip net.IP
	if strings.Contains(data, "/") {
		if ip, _, err = net.ParseCIDR(data); err != nil {
			return false, err
		}
	} else {
		ip = net.ParseIP(data)
	}
	return s.Contains(ip), nil
}

// filterOpts is a repeatable --filter name=value, checked as it is parsed
// (a bad one is a flag error, exit status 125), as the docker CLI's
// opts.FilterOpt.
type filterOpts struct{ values map[string][]string }

func (o *filterOpts) String() string { return "" }
func (o *filterOpts) Type() string   { return "filter" }
func (o *filterOpts) Set(v string) error {
	if v == "" {
		return nil
	}
	name, val, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("bad format of filter (expected name=value)")
	}
	if o.values == nil {
		o.values = map[string][]string{}
	}
	name = strings.ToLower(strings.TrimSpace(name))
	o.values[name] = append(o.values[name], strings.TrimSpace(val))
	return nil
}

// query is the filters parameter, or none without filters.
func (o *filterOpts) query() url.Values {
	q := url.Values{}
	if len(o.values) > 0 {
		q.Set("filters", encodeFilters(o.values))
	}
	return q
}

func networkLsCmd(g *globals) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters filterOpts
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var list []network.Summary
			if err := c.do(ctx(cmd), "GET", "/networks", filters.query(), nil, &list); err != nil {
				return err
			}
			sort.SliceStable(list, func(i, j int) bool { return naturalLess(list[i].Name, list[j].Name) })
			return printList(cmd.OutOrStdout(), format, quiet, networkLs, list,
				func(n *network.Summary) any { return &networkRow{n: n, trunc: !noTrunc} })
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fl.VarP(&filters, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}

// networkLs is network ls's output: docker's table (NETWORK ID, NAME,
// DRIVER, SCOPE), the IDs alone with -q, or a template over networkRow's
// fields.
var networkLs = listFormat{table: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", quiet: "{{.ID}}",
	titles: listTitles{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
		"IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}}

// networkRow is what network ls --format templates see, as docker's
// network context.
type networkRow struct {
	n     *network.Summary
	trunc bool
}

func (r *networkRow) ID() string {
	if !r.trunc {
		return r.n.ID
	}
	id := r.n.ID
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	return id[:min(len(id), 12)]
}
func (r *networkRow) Name() string             { return r.n.Name }
func (r *networkRow) Driver() string           { return r.n.Driver }
func (r *networkRow) Scope() string            { return r.n.Scope }
func (r *networkRow) IPv4() string             { return fmt.Sprint(r.n.EnableIPv4) }
func (r *networkRow) IPv6() string             { return fmt.Sprint(r.n.EnableIPv6) }
func (r *networkRow) Internal() string         { return fmt.Sprint(r.n.Internal) }
func (r *networkRow) CreatedAt() string        { return r.n.Created.String() }
func (r *networkRow) Labels() string           { return joinLabels(r.n.Labels) }
func (r *networkRow) Label(name string) string { return r.n.Labels[name] }

// MarshalJSON is network ls --format json: the template fields by name.
func (r *networkRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"ID": r.ID(), "Name": r.Name(), "Driver": r.Driver(), "Scope": r.Scope(),
		"IPv4": r.IPv4(), "IPv6": r.IPv6(), "Internal": r.Internal(), "Labels": r.Labels(), "CreatedAt": r.CreatedAt()})
}

// naturalLess orders names as docker's network ls: runs of digits by
// their value ("net2" before "net10"), the rest byte by byte.
func naturalLess(a, b string) bool {
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	for a != "" && b != "" {
		if !isDigit(a[0]) || !isDigit(b[0]) {
			if a[0] != b[0] {
				return a[0] < b[0]
			}
			a, b = a[1:], b[1:]
			continue
		}
		i, j := 0, 0
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
		if len(na) != len(nb) {
			return len(na) < len(nb)
		}
		if na != nb {
			return na < nb
		}
		if i != j { // same value: fewer leading zeros first
			return i < j
		}
		a, b = a[i:], b[j:]
	}
	return len(a) < len(b)
}

func networkInspectCmd(g *globals) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if verbose {
				q.Set("verbose", "true")
			}
			return inspectAll(cmd, format, args, func(name string) ([]byte, error) {
				return getBody(cmd, c, "/networks/"+url.PathEscape(name), q)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

const ingressWarning = "WARNING! Before removing the routing-mesh network, " +
	"make sure all the nodes in your swarm run the same berth engine version. " +
	"Otherwise, removal may not be effective and functionality of newly create " +
	"ingress networks will be impaired."

func networkRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args {
				// As docker: look first, to ask before removing an ingress network.
				if raw, err := getBody(cmd, c, "/networks/"+url.PathEscape(name), nil); err == nil {
					var n network.Inspect
					if json.Unmarshal(raw, &n) == nil && n.Ingress && !confirm(cmd.InOrStdin(), ingressWarning) {
						continue
					}
				}
				if err := c.do(ctx(cmd), "DELETE", "/networks/"+url.PathEscape(name), nil, nil, nil); err != nil {
					var ae *apiError
					if force && errors.As(err, &ae) && ae.Status == 404 {
						continue
					}
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if failed {
				return &statusError{Code: 1, Status: "exit status 1"}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func networkPruneCmd(g *globals) *cobra.Command {
	var force bool
	var filters filterOpts
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(cmd.InOrStdin(), "WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var rep network.PruneReport
			if err := c.do(ctx(cmd), "POST", "/networks/prune", filters.query(), nil, &rep); err != nil {
				return err
			}
			printDeleted(cmd.OutOrStdout(), "Deleted Networks:", rep.NetworksDeleted)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// connectBody is POST /networks/{id}/connect's body as the docker CLI
// sends it: addresses as strings, for the daemon to judge.
type connectBody struct {
	Container      string
	EndpointConfig *endpointBody `json:",omitempty"`
}

type endpointBody struct {
	IPAMConfig *endpointIPAM
	Links      []string
	Aliases    []string
	DriverOpts map[string]string
	GwPriority int `json:",omitempty"`
}

type endpointIPAM struct {
	IPv4Address  string   `json:",omitempty"`
	IPv6Address  string   `json:",omitempty"`
	LinkLocalIPs []string `json:",omitempty"`
}

func networkConnectCmd(g *globals) *cobra.Command {
	var ip, ip6 string
	var aliases, linkLocal, driverOpts []string
	links := newListOpts(validateLink)
	var gwPriority int
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(links.values) > 0 {
				return errors.New("--link is not supported by berth: containers on a user-defined network reach each other by name; use --alias for another name")
			}
			opts := make(map[string]string, len(driverOpts))
			for _, o := range driverOpts {
				k, v, ok := strings.Cut(o, "=")
				if k = strings.TrimSpace(k); !ok || k == "" {
					return errors.New("invalid key/value pair format in driver options")
				}
				opts[k] = strings.TrimSpace(v)
			}
			body := connectBody{Container: args[1], EndpointConfig: &endpointBody{
				IPAMConfig: &endpointIPAM{IPv4Address: ip, IPv6Address: ip6, LinkLocalIPs: linkLocal},
				Links:      links.values, Aliases: aliases, DriverOpts: opts, GwPriority: gwPriority,
			}}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			return c.do(ctx(cmd), "POST", "/networks/"+url.PathEscape(args[0])+"/connect", nil, &body, nil)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&ip, "ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	fl.StringVar(&ip6, "ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	fl.Var(links, "link", "Add link to another container (not supported by berth)")
	fl.StringSliceVar(&aliases, "alias", []string{}, "Add network-scoped alias for the container")
	fl.StringSliceVar(&linkLocal, "link-local-ip", []string{}, "Add a link-local address for the container")
	fl.StringSliceVar(&driverOpts, "driver-opt", []string{}, "driver options for the network")
	fl.IntVar(&gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

func networkDisconnectCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			body := network.DisconnectRequest{Container: args[1], Force: force}
			return c.do(ctx(cmd), "POST", "/networks/"+url.PathEscape(args[0])+"/disconnect", nil, &body, nil)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
