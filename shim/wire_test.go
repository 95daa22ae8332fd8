package shim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The hand-written codec must agree with encoding/json on every input:
// what it does not take itself, encoding/json decodes.

func TestDecodeRequestAgreesWithJSON(t *testing.T) {
	for _, c := range []struct {
		in   string
		fast bool // decoded without encoding/json
	}{
		{`{"op":"state"}`, true},
		{`{"op":"wait"}`, true},
		{` { "op" : "attach" , "stdin":true,"stdout":true,"stderr":false } `, true},
		{`{"op":"resize","execId":"abc","width":80,"height":24}`, true},
		{`{"op":"resize","width":65535,"height":0}`, true},
		{`{"op":"execState","execId":"e1","detach":null}`, true},
		{`{"op":"exec","execId":"e2","process":{"args":["sh","-c","echo hi"],"cwd":"/","terminal":true},"stdin":true}`, false},
		{`{"op":"st\u0061te"}`, false},         // an escape: encoding/json decides
		{`{"OP":"state"}`, false},              // other case: encoding/json matches it
		{`{"op":"state","future":1.5}`, false}, // an unknown key
		{`{"op":"state","op":"wait"}`, true},   // the last one wins
		{`{"op":"resize","width":70000}`, false},
		{`{"op":"resize","width":-1}`, false},
		{`{"op":"resize","width":1e2}`, false},
		{`{"op":"resize","width":"80"}`, false},
		{`{"op":"attach","stdin":"true"}`, false},
		{`{"op":"wait"} x`, false},
		{`{"op":"wait",}`, false},
		{`{}`, true},
		{`[]`, false},
		{``, false},
		{"{\"op\":\"\xff\"}", false},
	} {
		got, viaJSON, gotErr := decodeRequest([]byte(c.in))
		var want Request
		wantErr := json.Unmarshal([]byte(c.in), &want)
		if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v; encoding/json %+v, %v", c.in, got, gotErr, want, wantErr)
		}
		if viaJSON == c.fast {
			t.Errorf("%s: through encoding/json %v, want %v", c.in, viaJSON, !c.fast)
		}
	}
}

func TestDecodeConfigAgreesWithJSON(t *testing.T) {
	full := Config{ID: "c1", Bundle: "/b", RuntimeRoot: "/r", LogPath: "/l/x-json.log", LogMaxSize: 10 << 20,
		LogMaxFiles: 3, Tty: true, Stdin: true, StdinOnce: true, LoopbackUp: true, SeccompCache: "/s"}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	// Every field of Config: a field added to it but not to decodeConfig
	// would be decoded by encoding/json (correct, but not what a shim
	// wants to pay for).
	var seen int
	ok := scanObject(b, func(key string, v value) bool { seen++; return true })
	if !ok || seen != reflect.TypeOf(full).NumField() {
		t.Fatalf("scanObject of a full Config: ok %v, %d members", ok, seen)
	}
	if c, err := decodeConfig(b); err != nil || c != full {
		t.Fatalf("decodeConfig(%s) = %+v, %v", b, c, err)
	}
	if !scanObject(b, func(key string, v value) bool {
		var c Config
		return decodeConfigMember(&c, key, v)
	}) {
		t.Errorf("decodeConfig leaves a member of %s to encoding/json", b)
	}
	for _, in := range []string{`{"id":"x","logMaxSize":-1,"tty":false}`, `{"id":"a&b"}`, `{"logMaxFiles":1.0}`, `{"ID":"x"}`} {
		got, gotErr := decodeConfig([]byte(in))
		var want Config
		wantErr := json.Unmarshal([]byte(in), &want)
		if (gotErr != nil) != (wantErr != nil) || got != want {
			t.Errorf("%s: got %+v, %v; encoding/json %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

func TestAppendResponseIsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 11, 24, 20, 0, 0, 123456789, time.UTC)
	for _, r := range []Response{
		{},
		{Error: "container has exited"},
		{Error: "bad \"quote\" \\ <tag> & \n\t\r\b\f \x01 \u2028 \xff é"},
		{Pid: 42, Running: true},
		{Pid: -1},
		{Status: &Status{}},
		{Status: &Status{ExitCode: 137, ExitedAt: at, OOMKilled: true, Error: "killed"}},
		{Error: "x", Pid: 1, Running: true, Status: &Status{ExitCode: -1, ExitedAt: at.In(time.FixedZone("x", 3600))}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendResponse(nil, r); string(got) != string(want) {
			t.Errorf("appendResponse(%+v)\n got %s\nwant %s", r, got, want)
		}
	}
}

func TestDecodeStatusRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 20, 0, 0, 5, time.UTC)
	for _, st := range []Status{{}, {ExitCode: 3, ExitedAt: at}, {ExitCode: 255, ExitedAt: at, OOMKilled: true, Error: "shim: \"x\" <y>"}} {
		got, err := decodeStatus(appendStatus(nil, st))
		if err != nil || !got.ExitedAt.Equal(st.ExitedAt) || got.ExitCode != st.ExitCode || got.OOMKilled != st.OOMKilled || got.Error != st.Error {
			t.Errorf("decodeStatus(appendStatus(%+v)) = %+v, %v", st, got, err)
		}
	}
	if _, err := decodeStatus([]byte(`{"exitCode":"x"}`)); err == nil {
		t.Error("decodeStatus of a string exit code: no error")
	}
}

func TestHandoverRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	h := handover{Pid: 1234, Listener: 5, Console: 0, Stdin: 6, Outs: []int{7, 8}, StdinUse: true,
		Waiters:  []int{9, 10},
		Attached: []attachState{{Fd: 11, Stdout: true}, {Fd: 12, Stderr: true}, {Fd: 13}},
		Execs:    []execState{{ID: "e1", Pid: 1240}, {ID: "e 2\n\"", Pid: 1241, Status: &Status{ExitCode: 1, ExitedAt: at, Error: "a b"}}},
		Sent:     []string{"e 2\n\"", "e0"},
	}
	var got handover
	if err := got.unmarshal(h.marshal()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, h)
	}
	for _, bad := range []string{"", "pid 1\n", "pid 1\nln 2\nout\n", "pid 1\nln 2\nsomething 3\n", "pid 1\nln 2\nexec x 3\n", "pid 1\nln 2\nsent x\n"} {
		var h handover
		if err := h.unmarshal([]byte(bad)); err == nil {
			t.Errorf("unmarshal(%q): no error", bad)
		}
	}
}

// An exec request's process goes through encoding/json, whole.
func TestDecodeRequestProcess(t *testing.T) {
	in := Request{Op: "exec", ExecID: "x", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"}, Detach: true}
	b, _ := json.Marshal(in)
	got, viaJSON, err := decodeRequest(b)
	if err != nil || !viaJSON || !reflect.DeepEqual(got, in) {
		t.Fatalf("decodeRequest(%s) = %+v, %v, %v", b, got, viaJSON, err)
	}
}

// FuzzDecodeRequest: whatever the bytes, decodeRequest and encoding/json
// agree.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"op":"wait"}`, `{"op":"resize","width":80,"height":24}`, `{"op":"attach","stdin":true,"stdout":false}`, `{"execId":"x","detach":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, gotErr := decodeRequest(b)
		var want Request
		wantErr := json.Unmarshal(b, &want)
		if (gotErr != nil) != (wantErr != nil) || (wantErr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: got %+v, %v; encoding/json %+v, %v", b, got, gotErr, want, wantErr)
		}
	})
}
