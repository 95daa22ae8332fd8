package specjson

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// richSpec sets at least one field of most runtime-spec types.
func richSpec() *specs.Spec {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	b := func(v bool) *bool { return &v }
	adj := -500
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true, ConsoleSize: &specs.Box{Height: 24, Width: 80},
			User: specs.User{UID: 1000, GID: 1000, Umask: func() *uint32 { v := uint32(0o22); return &v }(), AdditionalGids: []uint32{5, 6}},
			Args: []string{"sh", "-c", "echo \"hi\" \u00e9\t"}, Env: []string{"PATH=/bin", "X=é"}, Cwd: "/",
			Capabilities:    &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Ambient: []string{}},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true, ApparmorProfile: "p", OOMScoreAdj: &adj, SelinuxLabel: "l",
			Scheduler:       &specs.Scheduler{Policy: "SCHED_OTHER", Nice: -1},
			IOPriority:      &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE", Priority: 4},
			ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "0-1"},
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "h", Domainname: "d",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=65536k"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}},
		},
		Hooks: &specs.Hooks{
			Poststop: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}, Env: []string{"A=1"}, Timeout: func() *int { v := 3; return &v }()}},
		},
		Annotations: map[string]string{"a": "b", "": "empty"},
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
			Sysctl:      map[string]string{"net.ipv4.ip_forward": "1"},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(-1), Swappiness: u64(10), DisableOOMKiller: b(false)},
				CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0-1", Mems: "0"},
				Pids:    &specs.LinuxPids{Limit: i64(100)},
				BlockIO: &specs.LinuxBlockIO{
					Weight:                u16(500),
					WeightDevice:          []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(100)}},
					ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 1}, Rate: 1 << 20}},
				},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
				Unified:        map[string]string{"memory.high": "max"},
			},
			CgroupsPath: "/berth/x",
			Namespaces:  []specs.LinuxNamespace{{Type: "pid"}, {Type: "network", Path: "/run/netns/x"}},
			Devices:     []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: func() *os.FileMode { v := os.FileMode(0o666); return &v }()}},
			Seccomp: &specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno, DefaultErrnoRet: func() *uint { v := uint(1); return &v }(),
				Architectures: []specs.Arch{specs.ArchX86_64}, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
					Args: []specs.LinuxSeccompArg{{Index: 1, Value: 2, ValueTwo: 3, Op: specs.OpEqualTo}}}},
			},
			RootfsPropagation: "rprivate",
			MaskedPaths:       []string{"/proc/kcore"},
			ReadonlyPaths:     []string{"/proc/sys"},
			MountLabel:        "m",
			Personality:       &specs.LinuxPersonality{Domain: "LINUX32"},
			TimeOffsets:       map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}},
		},
		Windows: &specs.Windows{CredentialSpec: map[string]any{"x": []any{1.5, "s", true, nil}}},
	}
}

// Odd is a test type for the shapes the spec barely uses.
type Odd struct {
	Embedded
	*Ptr
	Name     string      `json:"name"`
	Fold     int         `json:"FoLd"`
	Any      any         `json:"any"`
	F32      float32     `json:"f32"`
	I8       int8        `json:"i8"`
	U8       uint8       `json:"u8"`
	Named    NamedString `json:"named"`
	NamedMap map[NamedString]NamedString
	Nested   [][]*int `json:"nested"`
	Skip     string   `json:"-"`
	Dash     string   `json:"-,"`
	Untagged string
	unexp    string
	Kelvin   string            `json:"k"`
	Map      map[string]*Inner `json:"map"`
	// decoded by encoding/json
	Arr    [2]int          `json:"arr"`
	When   *time.Time      `json:"when"`
	IntMap map[int]string  `json:"intMap"`
	Raw    json.RawMessage `json:"raw"`
	Bytes  []byte          `json:"bytes"`
	Quoted int             `json:"quoted,string"`
	PArr   *[1]string      `json:"parr"`
}

type NamedString string

type Embedded struct {
	Name     string `json:"name"` // shadowed by Odd.Name
	Promoted int    `json:"promoted"`
}

type Ptr struct {
	PtrField string `json:"ptrField"`
}

type Inner struct {
	A []string `json:"a"`
	B *Inner   `json:"b"`
}

func seeds(t testing.TB) [][]byte {
	rich, err := json.Marshal(richSpec())
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{
		rich,
		[]byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"}}`),
		[]byte(`{"name":"a","fold":1,"FOLD":2,"promoted":3,"ptrField":"p","any":{"x":[1,2.5e3,"\u00e9\ud83d\ude00",null,false]},"f32":1.5,"i8":-128,"u8":255}`),
		[]byte(`{"named":"n","NamedMap":{"k":"v"},"nested":[[1,null],[],null],"-":"dash","Skip":"no","Untagged":"u","unexp":"x","K":"kelvin"}`),
		[]byte(`{"map":{"x":{"a":["1"],"b":{"a":[]}},"y":null},"map":{"z":{}}}`),
		[]byte(`{"i8":128}`), []byte(`{"u8":-1}`), []byte(`{"f32":1e40}`), []byte(`{"i8":1.0}`), []byte(`{"i8":"1"}`),
		[]byte(`{"name":"\ud800\u0041\udc00 \x"}`), []byte(`{"name":"a` + "\x01" + `"}`), []byte("{\"name\":\"\xff\xfe\"}"),
		[]byte(`[1,2]`), []byte(`{"nested":[[1],[2]],"nested":[[3]]}`), []byte(`  {"name" : "x" , "any":[]}  `),
		[]byte(`{"name":"x",}`), []byte(`{"name":01}`), []byte(`{"any":-}`), []byte(`{"any":1.}`), []byte(`{"any":1e+}`),
		[]byte(`{"arr":[1,2,3],"when":"2026-11-25T01:02:03Z","intMap":{"1":"a"},"raw":{"x": [1]},"bytes":"aGk=","quoted":"5","parr":["z"]}`),
		[]byte(`{"arr":{},"when":"yesterday"}`), []byte(`{"intMap":{"x":"a"}}`), []byte(`{"raw":[1,}`), []byte(`{"when":null,"arr":null}`),
		[]byte(`null`), []byte(``), []byte(`{"a":tru}`), []byte(`{"any":1e400}`),
	}
}

// same decodes data with encoding/json and with Unmarshal into fresh values
// of T and fails unless both accept with equal results or both reject.
func same[T any](t *testing.T, data []byte) {
	t.Helper()
	var want, got T
	werr := json.Unmarshal(data, &want)
	gerr := Unmarshal(data, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%T from %q: encoding/json error %v, ours %v", want, data, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%T from %q:\nencoding/json %#v\nours          %#v", want, data, want, got)
	}
}

func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds(t) {
		same[specs.Spec](t, s)
		same[Odd](t, s)
		same[any](t, s)
		same[map[string]any](t, s)
		same[[]*Inner](t, s)
	}
}

func TestErrorsSayWhere(t *testing.T) {
	for in, want := range map[string]string{
		`{"process":{"user":{"uid":-1}}}`: "cannot decode JSON number -1 into Go value of type uint32 (at byte 26)",
		`{"hostname":5}`:                  "cannot decode JSON number 5 into Go value of type string",
		`{"mounts":{}}`:                   "cannot decode JSON object into Go value of type []specs.Mount",
		`{"hostname":"x"`:                 "unexpected end of JSON input",
		`{"hostname" "x"}`:                "invalid character '\"' after object key (at byte 12)",
		`{"hostname":"x"} x`:              "invalid character 'x' after top-level value",
	} {
		var s specs.Spec
		err := Unmarshal([]byte(in), &s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", in, err, want)
		}
	}
}

// Unsupported types (here []byte, base64 in JSON) go to encoding/json.
func TestUnsupportedFallsBack(t *testing.T) {
	var v struct {
		B []byte `json:"b"`
	}
	if err := Unmarshal([]byte(`{"b":"aGk="}`), &v); err != nil || string(v.B) != "hi" {
		t.Fatalf("got %q, %v", v.B, err)
	}
	if err := Unmarshal([]byte(`{}`), v); err == nil {
		t.Fatal("a non-pointer target was accepted")
	}
}

func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		same[specs.Spec](t, data)
		same[Odd](t, data)
		same[any](t, data)
	})
}

// The point of the package: a spec decoded without building encoding/json's
// tables. Compare with BenchmarkEncodingJSONFirstDecode's per-process cost.
func BenchmarkSpec(b *testing.B) {
	data, _ := json.Marshal(richSpec())
	for b.Loop() {
		var s specs.Spec
		if err := Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// A process's first decode: the type tables built from nothing, as in every
// `berth runtime` process (the caches are emptied each time).
func BenchmarkSpecFirst(b *testing.B) {
	data, _ := json.Marshal(richSpec())
	for b.Loop() {
		structs.Clear()
		supportedTypes.Clear()
		var s specs.Spec
		if err := Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}
