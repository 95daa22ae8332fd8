package cli

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// ramInBytes parses a size with binary units ("512m", "1.5GiB", "100"), as
// docker/go-units RAMInBytes does (the docker CLI's --memory, --shm-size...).
func ramInBytes(s string) (int64, error) {
	sep := strings.LastIndexAny(s, "01234567890. ")
	if sep == -1 {
		return -1, fmt.Errorf("invalid size: '%s'", s)
	}
	num, sfx := s[:sep+1], s[sep+1:]
	if s[sep] == ' ' {
		num = s[:sep]
	}
	size, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return -1, err
	}
	if size < 0 {
		return -1, fmt.Errorf("invalid size: '%s'", s)
	}
	if sfx == "" {
		return int64(size), nil
	}
	bad := fmt.Errorf("invalid suffix: '%s'", strings.ToLower(sfx))
	if len(sfx) > 3 {
		return -1, fmt.Errorf("invalid suffix: '%s'", sfx)
	}
	sfx = strings.ToLower(sfx)
	if sfx[0] == 'b' {
		if len(sfx) > 1 {
			return -1, bad
		}
		return int64(size), nil
	}
	i := strings.IndexByte("kmgtp", sfx[0])
	if i < 0 {
		return -1, bad
	}
	size *= float64(int64(1) << (10 * (i + 1)))
	if len(sfx) == 2 && sfx[1] != 'b' || len(sfx) == 3 && sfx[1:] != "ib" {
		return -1, bad
	}
	return int64(size), nil
}

// memBytes is a pflag value of a size in bytes (docker's opts.MemBytes).
type memBytes int64

func (m *memBytes) String() string {
	if *m == 0 {
		return "0"
	}
	return strconv.FormatInt(int64(*m), 10)
}
func (m *memBytes) Type() string { return "bytes" }
func (m *memBytes) Set(s string) error {
	v, err := ramInBytes(s)
	*m = memBytes(v)
	return err
}

// memSwapBytes is memBytes that also takes -1 (unlimited swap).
type memSwapBytes int64

func (m *memSwapBytes) String() string { return strconv.FormatInt(int64(*m), 10) }
func (m *memSwapBytes) Type() string   { return "bytes" }
func (m *memSwapBytes) Set(s string) error {
	if s == "-1" {
		*m = -1
		return nil
	}
	v, err := ramInBytes(s)
	*m = memSwapBytes(v)
	return err
}

// nanoCPUs is --cpus: a decimal number of CPUs, sent in units of 1e-9 CPUs.
type nanoCPUs int64

func (c *nanoCPUs) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}
func (c *nanoCPUs) Type() string { return "decimal" }
func (c *nanoCPUs) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", s)
	}
	n := r.Mul(r, big.NewRat(1e9, 1))
	if !n.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*c = nanoCPUs(n.Num().Int64())
	return nil
}

var ulimitNames = map[string]bool{"core": true, "cpu": true, "data": true, "fsize": true, "locks": true,
	"memlock": true, "msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true,
	"rtprio": true, "rttime": true, "sigpending": true, "stack": true}

// parseUlimit parses "nofile=1024[:2048]" as docker/go-units ParseUlimit.
func parseUlimit(val string) (*container.Ulimit, error) {
	name, limits, ok := strings.Cut(val, "=")
	if !ok {
		return nil, fmt.Errorf("invalid ulimit argument: %s", val)
	}
	if !ulimitNames[name] {
		return nil, fmt.Errorf("invalid ulimit type: %s", name)
	}
	var soft, hard int64
	parts := strings.Split(limits, ":")
	if len(parts) > 2 {
		return nil, fmt.Errorf("too many limit value arguments - %s, can only have up to two, `soft[:hard]`", limits)
	}
	var err error
	if soft, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return nil, err
	}
	hard = soft
	if len(parts) == 2 {
		if hard, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
			return nil, err
		}
	}
	if hard != -1 {
		if soft == -1 {
			return nil, fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: %d", hard)
		}
		if soft > hard {
			return nil, fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
		}
	}
	return &container.Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}
