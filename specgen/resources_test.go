package specgen

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func p64(v int64) *int64 { return &v }

// asJSON compares resource blocks without following pointers by hand.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResources(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		in   Resources
		mem  string // JSON of linux.resources.memory, "null" for none
		cpu  string
		pids string
		blk  string
	}{
		{"none", Resources{}, "null", "null", "null", "null"},
		{"memory doubles as swap", Resources{Memory: 512 * mib}, `{"limit":536870912,"swap":1073741824}`, "null", "null", "null"},
		{"memory and swap", Resources{Memory: 512 * mib, MemorySwap: 768 * mib}, `{"limit":536870912,"swap":805306368}`, "null", "null", "null"},
		{"unlimited swap", Resources{Memory: 512 * mib, MemorySwap: -1}, `{"limit":536870912,"swap":-1}`, "null", "null", "null"},
		{"swap -1 alone", Resources{MemorySwap: -1}, `{"swap":-1}`, "null", "null", "null"},
		{"reservation, swappiness, oom", Resources{MemoryReservation: 64 * mib, MemorySwappiness: p64(10), OomKillDisable: true},
			`{"reservation":67108864,"swappiness":10,"disableOOMKiller":true}`, "null", "null", "null"},
		{"swappiness -1 is unset", Resources{MemorySwappiness: p64(-1)}, "null", "null", "null", "null"},
		{"cpus", Resources{NanoCPUs: 1_500_000_000}, "null", `{"quota":150000,"period":100000}`, "null", "null"},
		{"small cpus", Resources{NanoCPUs: 10_000_000}, "null", `{"quota":1000,"period":100000}`, "null", "null"},
		{"period and quota", Resources{CPUPeriod: 50000, CPUQuota: 25000}, "null", `{"quota":25000,"period":50000}`, "null", "null"},
		{"quota -1", Resources{CPUQuota: -1}, "null", `{"quota":-1}`, "null", "null"},
		{"shares and cpuset", Resources{CPUShares: 512, CpusetCpus: "0-3,6", CpusetMems: "0"}, "null", `{"shares":512,"cpus":"0-3,6","mems":"0"}`, "null", "null"},
		{"shares clamped low", Resources{CPUShares: -5}, "null", `{"shares":2}`, "null", "null"},
		{"shares clamped high", Resources{CPUShares: 1 << 20}, "null", `{"shares":262144}`, "null", "null"},
		{"pids", Resources{PidsLimit: p64(100)}, "null", "null", `{"limit":100}`, "null"},
		{"pids 0 is unlimited", Resources{PidsLimit: p64(0)}, "null", "null", "null", "null"},
		{"pids -1 is unlimited", Resources{PidsLimit: p64(-1)}, "null", "null", "null", "null"},
		{"blkio weight", Resources{BlkioWeight: 300}, "null", "null", "null", `{"weight":300}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := generate(t, func(o *Options) { o.Resources = tc.in }).Linux.Resources
			for _, c := range []struct {
				what string
				v    any
				want string
			}{{"memory", r.Memory, tc.mem}, {"cpu", r.CPU, tc.cpu}, {"pids", r.Pids, tc.pids}, {"blockIO", r.BlockIO, tc.blk}} {
				if got := asJSON(t, c.v); got != c.want {
					t.Errorf("%s = %s, want %s", c.what, got, c.want)
				}
			}
		})
	}
}

func TestResourceErrors(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		in   Resources
		want string
	}{
		{"memory below 6MB", Resources{Memory: 4 * mib}, "Minimum memory limit allowed is 6MB"},
		{"negative memory", Resources{Memory: -1}, "memory limit"},
		{"swap below memory", Resources{Memory: 512 * mib, MemorySwap: 256 * mib}, "Minimum memoryswap limit should be larger than memory limit"},
		{"swap without memory", Resources{MemorySwap: 256 * mib}, "You should always set the Memory limit when using Memoryswap limit"},
		{"swap -2", Resources{Memory: 512 * mib, MemorySwap: -2}, "memory+swap"},
		{"reservation below 6MB", Resources{MemoryReservation: mib}, "Minimum memory reservation allowed is 6MB"},
		{"reservation above limit", Resources{Memory: 64 * mib, MemoryReservation: 128 * mib}, "Minimum memory limit can not be less than memory reservation limit"},
		{"swappiness", Resources{MemorySwappiness: p64(101)}, "valid memory swappiness range is 0-100"},
		{"cpus and period", Resources{NanoCPUs: 1e9, CPUPeriod: 100000}, "Nano CPUs and CPU Period cannot both be set"},
		{"cpus and quota", Resources{NanoCPUs: 1e9, CPUQuota: 50000}, "Nano CPUs and CPU Quota cannot both be set"},
		{"negative cpus", Resources{NanoCPUs: -1}, "--cpus"},
		{"too few cpus", Resources{NanoCPUs: 1e6}, "--cpus 0.001: the minimum is 0.01"},
		{"period too small", Resources{CPUPeriod: 999}, "CPU cfs period can not be less than 1ms"},
		{"period too large", Resources{CPUPeriod: 1000001}, "CPU cfs period"},
		{"quota too small", Resources{CPUQuota: 999}, "CPU cfs quota can not be less than 1ms"},
		{"cpuset syntax", Resources{CpusetCpus: "0-"}, "Invalid value 0- for --cpuset-cpus"},
		{"cpuset range", Resources{CpusetMems: "3-1"}, "--cpuset-mems"},
		{"blkio low", Resources{BlkioWeight: 9}, "blkio weight 9"},
		{"blkio high", Resources{BlkioWeight: 1001}, "from 10 to 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			o.Resources = tc.in
			_, err := Generate(o)
			wantInvalid(t, err, tc.want)
		})
	}
}

func TestUlimits(t *testing.T) {
	s := generate(t, func(o *Options) {
		o.Ulimits = []Ulimit{
			{Name: "nofile", Soft: 1024, Hard: 4096},
			{Name: "nproc", Soft: -1, Hard: -1},
			{Name: "core", Soft: 0, Hard: 0},
			{Name: "NOFILE", Soft: 2048, Hard: 2048}, // a later setting wins
		}
	})
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 2048, Hard: 2048},
		{Type: "RLIMIT_NPROC", Soft: ^uint64(0), Hard: ^uint64(0)},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
	}
	if !reflect.DeepEqual(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v", s.Process.Rlimits)
	}
	for _, tc := range []struct {
		u    Ulimit
		want string
	}{
		{Ulimit{Name: "files", Soft: 1, Hard: 1}, `ulimit "files": unknown resource`},
		{Ulimit{Name: "nofile", Soft: 10, Hard: 5}, "soft limit 10 must be less than or equal to hard limit 5"},
		{Ulimit{Name: "nofile", Soft: -1, Hard: 5}, "soft limit -1"},
		{Ulimit{Name: "stack", Soft: -2, Hard: 5}, "-1 (unlimited)"},
	} {
		o := base()
		o.Ulimits = []Ulimit{tc.u}
		_, err := Generate(o)
		wantInvalid(t, err, tc.want)
	}
}
