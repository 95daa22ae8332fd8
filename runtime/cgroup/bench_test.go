package cgroup

import (
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkCreateSteps times the steps of a container cgroup's life as the
// runtime takes them (New, Apply(-1), Set with the default device rules,
// TaskFiles, Destroy), each reported as ns per container.
func BenchmarkCreateSteps(b *testing.B) {
	if testing.Short() {
		b.Skip("real cgroups")
	}
	parent := "/berth-bench-" + time.Now().Format("150405.000000")
	var d [5]time.Duration
	res := benchResources()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		c, err := New(parent+"/c", "x", res)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := c.Apply(-1); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := c.Set(res); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		fs, err := c.TaskFiles()
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			f.Close()
		}
		t4 := time.Now()
		if err := c.Destroy(); err != nil {
			b.Fatal(err)
		}
		t5 := time.Now()
		for j, x := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4)} {
			d[j] += x
		}
	}
	n := float64(b.N)
	for j, name := range []string{"new", "apply", "set", "taskfiles", "destroy"} {
		b.ReportMetric(float64(d[j].Nanoseconds())/n, name+"-ns/op")
	}
	c, _ := New(parent, "x", &specs.LinuxResources{})
	_ = c.Destroy()
}

func benchResources() *specs.LinuxResources {
	i := func(v int64) *int64 { return &v }
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}} {
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i(d[0]), Minor: i(d[1]), Access: "rwm"})
	}
	return r
}
