package logs

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The fast path agrees with encoding/json wherever it answers.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"hello\n", "", "a\"b\\c\t<&>\r\x01\n", "bad \xff \u2028 é 😀",
	} {
		f.Add(appendRecord(nil, "stdout", []byte(s), t0))
	}
	for _, s := range []string{
		`{"log":"\ud83d\ude00 \ud800 x \udc00 \u00e9\/\b\f","stream":"stderr","time":"2026-11-24T20:00:00Z"}`,
		`{"log":"x","stream":"stdout","attrs":{"a":"b"},"time":"2026-11-24T20:00:00Z"}`,
		`{"log":"x","stream":"other","time":"2026-11-24T20:00:00.5+01:00"}`,
		`{"log":"x\q","stream":"stdout","time":"2026-11-24T20:00:00Z"}`,
		`{"log":"x","stream":"stdout","time":"yesterday"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		stream, log, tm, ok := decodeFast(line)
		if !ok {
			return
		}
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%q: fast path took what encoding/json refuses: %v", line, err)
		}
		if stream != rec.Stream || !bytes.Equal(log, []byte(rec.Log)) || !tm.Equal(rec.Time) {
			t.Fatalf("%q: fast %q %q %v, encoding/json %q %q %v", line, stream, log, tm, rec.Stream, rec.Log, rec.Time)
		}
	})
}

func TestDecodeFastTakesOwnRecords(t *testing.T) {
	for _, s := range []string{"hello\n", "a\"b\\c\t<&>\r\x01\n", "é 😀\u2028"} { // "" has no "log": encoding/json reads it
		rec := bytes.TrimSuffix(appendRecord(nil, "stderr", []byte(s), t0), []byte("\n"))
		stream, log, tm, ok := decodeFast(rec)
		if !ok || stream != "stderr" || string(log) != s || !tm.Equal(t0) {
			t.Errorf("%q: got %v %q %q %v", rec, ok, stream, log, tm)
		}
	}
}
