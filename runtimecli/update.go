package runtimecli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func updateCmd(g *globals) *cobra.Command {
	var (
		resources                   string
		cpuset, mems                string
		memory, reservation, swap   string
		shares, period, rtPeriod    uint64
		quota, rtRuntime, pidsLimit int64
		blkioWeight                 uint16
	)
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "Change the resource limits of a running container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &specs.LinuxResources{}
			if resources != "" {
				var r io.Reader = os.Stdin
				if resources != "-" {
					f, err := os.Open(resources)
					if err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer f.Close()
					r = f
				}
				if err := json.NewDecoder(r).Decode(res); err != nil {
					return fmt.Errorf("--resources: malformed JSON: %w", err)
				}
			}
			f := cmd.Flags()
			mem := func() *specs.LinuxMemory {
				if res.Memory == nil {
					res.Memory = &specs.LinuxMemory{}
				}
				return res.Memory
			}
			cpu := func() *specs.LinuxCPU {
				if res.CPU == nil {
					res.CPU = &specs.LinuxCPU{}
				}
				return res.CPU
			}
			for _, m := range []struct {
				flag string
				val  string
				dst  func() **int64
			}{
				{"memory", memory, func() **int64 { return &mem().Limit }},
				{"memory-reservation", reservation, func() **int64 { return &mem().Reservation }},
				{"memory-swap", swap, func() **int64 { return &mem().Swap }},
			} {
				if !f.Changed(m.flag) {
					continue
				}
				v, err := parseBytes(m.val)
				if err != nil {
					return fmt.Errorf("--%s %q: %w", m.flag, m.val, err)
				}
				*m.dst() = &v
			}
			if f.Changed("cpu-share") {
				cpu().Shares = &shares
			}
			if f.Changed("cpu-period") {
				cpu().Period = &period
			}
			if f.Changed("cpu-quota") {
				cpu().Quota = &quota
			}
			if f.Changed("cpu-rt-period") {
				cpu().RealtimePeriod = &rtPeriod
			}
			if f.Changed("cpu-rt-runtime") {
				cpu().RealtimeRuntime = &rtRuntime
			}
			if f.Changed("cpuset-cpus") {
				cpu().Cpus = cpuset
			}
			if f.Changed("cpuset-mems") {
				cpu().Mems = mems
			}
			if f.Changed("pids-limit") {
				res.Pids = &specs.LinuxPids{Limit: &pidsLimit}
			}
			if f.Changed("blkio-weight") {
				res.BlockIO = &specs.LinuxBlockIO{Weight: &blkioWeight}
			}
			return g.runtime().Update(args[0], res)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&resources, "resources", "r", "", "path to a runtime-spec LinuxResources JSON file, or - for stdin")
	f.StringVar(&memory, "memory", "", "memory limit (bytes, or with k/m/g suffix; -1 for none)")
	f.StringVar(&reservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&swap, "memory-swap", "", "memory + swap limit (-1 for unlimited swap)")
	f.Uint64Var(&shares, "cpu-share", 0, "CPU shares (relative weight)")
	f.Uint64Var(&period, "cpu-period", 0, "CPU CFS period in microseconds")
	f.Int64Var(&quota, "cpu-quota", 0, "CPU CFS quota in microseconds (-1 for none)")
	f.Uint64Var(&rtPeriod, "cpu-rt-period", 0, "CPU realtime period in microseconds")
	f.Int64Var(&rtRuntime, "cpu-rt-runtime", 0, "CPU realtime runtime in microseconds")
	f.StringVar(&cpuset, "cpuset-cpus", "", "CPUs the container may use (0-3, 0,1)")
	f.StringVar(&mems, "cpuset-mems", "", "memory nodes the container may use")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "maximum number of processes (-1 for none)")
	f.Uint16Var(&blkioWeight, "blkio-weight", 0, "block IO weight (10-1000)")
	return cmd
}

// parseBytes reads "512", "64k", "1.5g" (binary units) or "-1".
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := float64(1)
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a size")
	}
	return int64(v * mult), nil
}
