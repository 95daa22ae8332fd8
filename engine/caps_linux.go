package engine

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/specgen"
)

var (
	boundingOnce sync.Once
	bounding     map[string]bool // the daemon's bounding set, by name
)

// daemonBounding reads this process's capability bounding set (CapBnd).
func daemonBounding() map[string]bool {
	boundingOnce.Do(func() {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			v, ok := strings.CutPrefix(sc.Text(), "CapBnd:")
			if !ok {
				continue
			}
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return
			}
			bounding = map[string]bool{}
			for i, name := range specgen.AllCapabilities() {
				if i < 64 && mask&(1<<uint(i)) != 0 {
					bounding[name] = true
				}
			}
		}
	})
	return bounding
}

// limitCaps keeps only the capabilities the daemon itself has: a container
// cannot be given more (--privileged, --cap-add ALL, exec --privileged get
// the daemon's set, as with Docker, instead of failing to start).
func limitCaps(c *specs.LinuxCapabilities) {
	b := daemonBounding()
	if c == nil || b == nil {
		return
	}
	keep := func(in []string) []string {
		out := in[:0:0]
		for _, n := range in {
			if b[n] {
				out = append(out, n)
			}
		}
		return out
	}
	c.Bounding, c.Effective, c.Permitted = keep(c.Bounding), keep(c.Effective), keep(c.Permitted)
	c.Inheritable, c.Ambient = keep(c.Inheritable), keep(c.Ambient)
}
