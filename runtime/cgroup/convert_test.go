package cgroup

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestConvertResources(t *testing.T) {
	tests := []struct {
		name string
		in   *specs.LinuxResources
		want *cgroups.Resources
	}{
		{name: "nil", in: nil, want: &cgroups.Resources{}},
		{name: "empty", in: &specs.LinuxResources{}, want: &cgroups.Resources{}},
		{
			name: "devices",
			in: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "mwr"},
				{Allow: true, Type: "b", Major: ptr[int64](8), Access: "rr"},
				{Allow: true, Type: "c", Major: ptr[int64](-1), Minor: ptr[int64](-1), Access: "m"},
			}},
			want: &cgroups.Resources{Devices: []*devconfig.Rule{
				{Type: devconfig.WildcardDevice, Major: -1, Minor: -1, Permissions: "rwm", Allow: false},
				{Type: devconfig.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},
				{Type: devconfig.BlockDevice, Major: 8, Minor: -1, Permissions: "r", Allow: true},
				{Type: devconfig.CharDevice, Major: -1, Minor: -1, Permissions: "m", Allow: true},
			}},
		},
		{
			name: "memory",
			in: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit:             ptr[int64](1 << 30),
				Reservation:       ptr[int64](1 << 29),
				Swap:              ptr[int64](2 << 30),
				Kernel:            ptr[int64](1 << 20), //nolint:staticcheck // deprecated, must be ignored
				KernelTCP:         ptr[int64](1 << 20),
				Swappiness:        ptr[uint64](60),
				DisableOOMKiller:  ptr(true),
				UseHierarchy:      ptr(true),
				CheckBeforeUpdate: ptr(true),
			}},
			want: &cgroups.Resources{
				Memory:                  1 << 30,
				MemoryReservation:       1 << 29,
				MemorySwap:              2 << 30,
				MemorySwappiness:        ptr[uint64](60),
				OomKillDisable:          true,
				MemoryCheckBeforeUpdate: true,
			},
		},
		{
			name: "memory unlimited and swappiness -1",
			in: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: ptr[int64](-1), Swap: ptr[int64](-1), Swappiness: ptr[uint64](math.MaxUint64),
			}},
			want: &cgroups.Resources{Memory: -1, MemorySwap: -1},
		},
		{
			name: "cpu",
			in: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares:          ptr[uint64](1024),
				Quota:           ptr[int64](50000),
				Burst:           ptr[uint64](10000),
				Period:          ptr[uint64](100000),
				RealtimeRuntime: ptr[int64](950000),
				RealtimePeriod:  ptr[uint64](1000000),
				Cpus:            "0-1,3",
				Mems:            "0",
				Idle:            ptr[int64](1),
			}},
			want: &cgroups.Resources{
				CpuShares:    1024,
				CpuWeight:    cgroups.ConvertCPUSharesToCgroupV2Value(1024),
				CpuQuota:     50000,
				CpuBurst:     ptr[uint64](10000),
				CpuPeriod:    100000,
				CpuRtRuntime: 950000,
				CpuRtPeriod:  1000000,
				CpusetCpus:   "0-1,3",
				CpusetMems:   "0",
				CPUIdle:      ptr[int64](1),
			},
		},
		{
			name: "cpu zero shares and period mean unset, quota -1 unlimited",
			in: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](0), Period: ptr[uint64](0), Quota: ptr[int64](-1),
			}},
			want: &cgroups.Resources{CpuQuota: -1},
		},
		{
			name: "pids",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](32)}},
			want: &cgroups.Resources{PidsLimit: ptr[int64](32)},
		},
		{
			name: "pids without limit",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{}},
			want: &cgroups.Resources{},
		},
		{
			name: "blockIO",
			in: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:     ptr[uint16](500),
				LeafWeight: ptr[uint16](300),
				WeightDevice: []specs.LinuxWeightDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](600)},
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, LeafWeight: ptr[uint16](20)},
				},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 3}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 4}},
			}},
			want: &cgroups.Resources{
				BlkioWeight:     500,
				BlkioLeafWeight: 300,
				BlkioWeightDevice: []*cgroups.WeightDevice{
					cgroups.NewWeightDevice(8, 0, 600, 0),
					cgroups.NewWeightDevice(8, 16, 0, 20),
				},
				BlkioThrottleReadBpsDevice:   []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 1)},
				BlkioThrottleWriteBpsDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 2)},
				BlkioThrottleReadIOPSDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 3)},
				BlkioThrottleWriteIOPSDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 4)},
			},
		},
		{
			name: "hugepages",
			in: &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{
				{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 2 << 30}, {Pagesize: "64KB", Limit: 0},
			}},
			want: &cgroups.Resources{HugetlbLimit: []*cgroups.HugepageLimit{
				{Pagesize: "2MB", Limit: 1 << 30}, {Pagesize: "1GB", Limit: 2 << 30}, {Pagesize: "64KB", Limit: 0},
			}},
		},
		{
			name: "network",
			in: &specs.LinuxResources{Network: &specs.LinuxNetwork{
				ClassID:    ptr[uint32](0x100001),
				Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 10}, {Name: "eth0", Priority: 30}},
			}},
			want: &cgroups.Resources{
				NetClsClassid:    0x100001,
				NetPrioIfpriomap: []*cgroups.IfPrioMap{{Interface: "lo", Priority: 10}, {Interface: "eth0", Priority: 30}},
			},
		},
		{
			name: "rdma",
			in: &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
				"mlx5_1": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](10000)},
				"mlx4_0": {HcaHandles: ptr[uint32](1)},
			}},
			want: &cgroups.Resources{Rdma: map[string]cgroups.LinuxRdma{
				"mlx5_1": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](10000)},
				"mlx4_0": {HcaHandles: ptr[uint32](1)},
			}},
		},
		{
			name: "unified",
			in:   &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G", "io.weight": "default 100"}},
			want: &cgroups.Resources{Unified: map[string]string{"memory.high": "1G", "io.weight": "default 100"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConvertResources(tc.in)
			if err != nil {
				t.Fatalf("ConvertResources: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConvertResourcesCopies(t *testing.T) {
	in := &specs.LinuxResources{
		Unified: map[string]string{"pids.max": "10"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
		CPU:     &specs.LinuxCPU{Burst: ptr[uint64](5000)},
	}
	got, err := ConvertResources(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Unified["pids.max"] = "20"
	*in.Pids.Limit = 20
	*in.CPU.Burst = 1
	if got.Unified["pids.max"] != "10" || *got.PidsLimit != 10 || *got.CpuBurst != 5000 {
		t.Errorf("result aliases the input: %+v", got)
	}
}

func TestConvertResourcesErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      *specs.LinuxResources
		wantErr string // prefix
	}{
		{"device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}},
			"linux.resources.devices[0].type: "},
		{"device type p", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "r"}, {Type: "p", Access: "r"}}},
			"linux.resources.devices[1].type: "},
		{"device major", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Major: ptr[int64](-2), Access: "r"}}},
			"linux.resources.devices[0].major: "},
		{"device minor", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Minor: ptr[int64](-5), Access: "r"}}},
			"linux.resources.devices[0].minor: "},
		{"device empty access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false}}},
			"linux.resources.devices[0].access: "},
		{"device bad access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwx"}}},
			"linux.resources.devices[0].access: "},
		{"memory limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}},
			"linux.resources.memory.limit: "},
		{"memory reservation", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr[int64](-3)}},
			"linux.resources.memory.reservation: "},
		{"memory swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](-3)}},
			"linux.resources.memory.swap: "},
		{"memory swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 << 20), Swap: ptr[int64](1 << 20)}},
			"linux.resources.memory.swap: "},
		{"memory kernelTCP", &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr[int64](-7)}},
			"linux.resources.memory.kernelTCP: "},
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}},
			"linux.resources.memory.swappiness: "},
		{"shares low", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}},
			"linux.resources.cpu.shares: "},
		{"shares high", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262145)}},
			"linux.resources.cpu.shares: "},
		{"quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-2)}},
			"linux.resources.cpu.quota: "},
		{"quota tiny", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](999)}},
			"linux.resources.cpu.quota: "},
		{"period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](999)}},
			"linux.resources.cpu.period: "},
		{"period high", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](1000001)}},
			"linux.resources.cpu.period: "},
		{"rt runtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](-2)}},
			"linux.resources.cpu.realtimeRuntime: "},
		{"cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-"}},
			"linux.resources.cpu.cpus: "},
		{"cpus reversed", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}},
			"linux.resources.cpu.cpus: "},
		{"mems", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "a"}},
			"linux.resources.cpu.mems: "},
		{"idle", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](2)}},
			"linux.resources.cpu.idle: "},
		{"blkio weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}},
			"linux.resources.blockIO.weight: "},
		{"blkio leaf weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](1001)}},
			"linux.resources.blockIO.leafWeight: "},
		{"blkio weight device", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Weight: ptr[uint16](2000)}}}},
			"linux.resources.blockIO.weightDevice[0].weight: "},
		{"blkio weight device major", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -1}, Weight: ptr[uint16](200)}}}},
			"linux.resources.blockIO.weightDevice[0].major: "},
		{"blkio throttle minor", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: -1}, Rate: 1}}}},
			"linux.resources.blockIO.throttleWriteIOPSDevice[0].minor: "},
		{"hugepage size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}},
			"linux.resources.hugepageLimits[0].pageSize: "},
		{"net prio name", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: ""}}}},
			"linux.resources.network.priorities[0].name: "},
		{"rdma name", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"": {}}},
			"linux.resources.rdma: "},
		{"unified key", &specs.LinuxResources{Unified: map[string]string{"../cgroup.procs": "1"}},
			`linux.resources.unified["../cgroup.procs"]: `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConvertResources(tc.in)
			if err == nil {
				t.Fatalf("want error starting with %q, got nil", tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want a single line starting with %q", err, tc.wantErr)
			}
		})
	}
}

func TestResolvePath(t *testing.T) {
	tests := []struct {
		path, id, want, wantErr string
	}{
		{"", "abc", "/berth/abc", ""},
		{"", "", "", "invalid container id"},
		{"", "a/b", "", "invalid container id"},
		{"/foo/bar", "x", "/foo/bar", ""},
		{"/foo/../bar/", "x", "/bar", ""},
		{"foo/bar", "x", "foo/bar", ""},
		{"../../foo", "x", "foo", ""},
		{"/", "x", "", "root cgroup"},
		{"/..", "x", "", "root cgroup"},
		{".", "x", "", "own cgroup"},
		{"system.slice:docker:abc", "x", "", "systemd cgroups"},
		{":berth:abc", "x", "", "systemd cgroups"},
	}
	for _, tc := range tests {
		got, err := resolvePath(tc.path, tc.id)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("resolvePath(%q, %q): err %v, want %q", tc.path, tc.id, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("resolvePath(%q, %q) = %q, %v; want %q", tc.path, tc.id, got, err, tc.want)
		}
	}
}
