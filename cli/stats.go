package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

// statsRow is one container's line of docker stats, computed from the
// daemon's stats JSON as the docker CLI does (cgroup v1 and v2).
type statsRow struct {
	Container, Name, ID                            string
	CPUPercentage, Memory, MemoryLimit, MemPercent float64
	NetRx, NetTx, BlockRead, BlockWrite            float64
	PidsCurrent                                    uint64
	IsInvalid                                      bool
	trunc                                          bool
}

func computeStats(name string, v *container.StatsResponse) statsRow {
	r := statsRow{Container: name, Name: strings.TrimPrefix(v.Name, "/"), ID: v.ID}
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	online := float64(v.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		r.CPUPercentage = cpuDelta / sysDelta * online * 100
	}
	mem := v.MemoryStats
	r.Memory = float64(mem.Usage)
	if v, v1 := mem.Stats["total_inactive_file"]; v1 && v < mem.Usage {
		r.Memory = float64(mem.Usage - v) // cgroup v1
	} else if v := mem.Stats["inactive_file"]; v < mem.Usage {
		r.Memory = float64(mem.Usage - v) // cgroup v2
	}
	r.MemoryLimit = float64(mem.Limit)
	if r.MemoryLimit != 0 {
		r.MemPercent = r.Memory / r.MemoryLimit * 100
	}
	for _, e := range v.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			r.BlockRead += float64(e.Value)
		case "write":
			r.BlockWrite += float64(e.Value)
		}
	}
	for _, n := range v.Networks {
		r.NetRx += float64(n.RxBytes)
		r.NetTx += float64(n.TxBytes)
	}
	r.PidsCurrent = v.PidsStats.Current
	return r
}

// Template fields, as docker's stats context.
func (r *statsRow) templ() map[string]string {
	id := r.ID
	if r.trunc {
		id = shortID(id, false)
	}
	m := map[string]string{"Container": r.Container, "Name": r.Name, "ID": id,
		"CPUPerc": "--", "MemUsage": "-- / --", "MemPerc": "--", "NetIO": "--", "BlockIO": "--", "PIDs": "--"}
	if r.Name == "" {
		m["Name"] = "--"
	}
	if !r.IsInvalid {
		m["CPUPerc"] = fmt.Sprintf("%.2f%%", r.CPUPercentage)
		m["MemUsage"] = units.BytesSize(r.Memory) + " / " + units.BytesSize(r.MemoryLimit)
		m["MemPerc"] = fmt.Sprintf("%.2f%%", r.MemPercent)
		m["NetIO"] = units.HumanSizeWithPrecision(r.NetRx, 3) + " / " + units.HumanSizeWithPrecision(r.NetTx, 3)
		m["BlockIO"] = units.HumanSizeWithPrecision(r.BlockRead, 3) + " / " + units.HumanSizeWithPrecision(r.BlockWrite, 3)
		m["PIDs"] = fmt.Sprint(r.PidsCurrent)
	}
	return m
}

var statsTitles = map[string]string{"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID",
	"CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
	"BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

func statsCmd(g *globals) *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			bg, cancel := context.WithCancel(ctx(cmd))
			defer cancel()
			c, err := g.client(bg)
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				q := url.Values{}
				if all {
					q.Set("all", "1")
				}
				var list []container.Summary
				if err := c.do(bg, "GET", "/containers/json", q, nil, &list); err != nil {
					return err
				}
				for _, s := range list {
					names = append(names, s.ID[:12])
				}
			}
			if format == "" {
				format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
			}
			var mu sync.Mutex
			rows := make([]statsRow, len(names))
			var wg sync.WaitGroup
			var errs []string
			for i, name := range names {
				rows[i] = statsRow{Container: name, ID: name, IsInvalid: true, trunc: !noTrunc}
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := url.Values{"stream": {"0"}}
					if !noStream {
						q.Set("stream", "1")
					}
					resp, err := c.send(bg, "GET", "/containers/"+name+"/stats", q, nil)
					if err != nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
						return
					}
					defer resp.Body.Close()
					dec := json.NewDecoder(resp.Body)
					for {
						var v container.StatsResponse
						if err := dec.Decode(&v); err != nil {
							return
						}
						r := computeStats(name, &v)
						r.trunc = !noTrunc
						mu.Lock()
						rows[i] = r
						mu.Unlock()
						if noStream {
							return
						}
					}
				}()
			}
			out := cmd.OutOrStdout()
			print := func(clear bool) error {
				mu.Lock()
				defer mu.Unlock()
				if clear {
					fmt.Fprint(out, "\033[2J\033[H")
				}
				p, err := newRowPrinter(format, "")
				if err != nil {
					return err
				}
				p.setOutput(out)
				if err := p.headerRow(statsTitles); err != nil {
					return err
				}
				for i := range rows {
					if err := p.row(rows[i].templ()); err != nil {
						return err
					}
				}
				return p.flush()
			}
			if noStream {
				wg.Wait()
				if len(errs) > 0 && len(errs) == len(names) {
					return errorList(errs)
				}
				return print(false)
			}
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for {
				select {
				case <-tick.C:
					if err := print(true); err != nil {
						return err
					}
				case <-done:
					if len(errs) > 0 {
						return errorList(errs)
					}
					return nil
				case <-bg.Done():
					return nil
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	return cmd
}
