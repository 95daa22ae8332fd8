package shim

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/logs"
)

// The shim's side of the protocol without encoding/json: its first use
// costs a supervising shim 60-140 kB of memory for good (the reflection
// caches of each type it codes, measured). Requests, Config and Status are
// flat, so a shim reads and writes them by hand; whatever a hand parser
// does not expect (an exec's process, an escape, a key in other case) goes
// to encoding/json, which decides, so the two always agree. The engine's
// side (client.go) keeps encoding/json.

// decodeRequest decodes a request line; viaJSON reports that it took
// encoding/json.
func decodeRequest(b []byte) (r Request, viaJSON bool, err error) {
	ok := scanObject(b, func(key string, v value) bool {
		switch key {
		case "op":
			return v.str(&r.Op)
		case "stdin":
			return v.bool(&r.Stdin)
		case "stdout":
			return v.bool(&r.Stdout)
		case "stderr":
			return v.bool(&r.Stderr)
		case "execId":
			return v.str(&r.ExecID)
		case "detach":
			return v.bool(&r.Detach)
		case "width":
			return v.uint16(&r.Width)
		case "height":
			return v.uint16(&r.Height)
		}
		return false // "process", or a key not spelt as Request spells it
	})
	if ok {
		return r, false, nil
	}
	r = Request{}
	err = json.Unmarshal(b, &r)
	return r, true, err
}

// decodeConfig decodes shim.json.
func decodeConfig(b []byte) (Config, error) {
	var c Config
	if scanObject(b, func(key string, v value) bool { return decodeConfigMember(&c, key, v) }) {
		return c, nil
	}
	c = Config{}
	err := json.Unmarshal(b, &c)
	return c, err
}

func decodeConfigMember(c *Config, key string, v value) bool {
	switch key {
	case "id":
		return v.str(&c.ID)
	case "bundle":
		return v.str(&c.Bundle)
	case "runtimeRoot":
		return v.str(&c.RuntimeRoot)
	case "logPath":
		return v.str(&c.LogPath)
	case "logMaxSize":
		return v.int64(&c.LogMaxSize)
	case "logMaxFiles":
		return v.int(&c.LogMaxFiles)
	case "tty":
		return v.bool(&c.Tty)
	case "stdin":
		return v.bool(&c.Stdin)
	case "stdinOnce":
		return v.bool(&c.StdinOnce)
	case "loopbackUp":
		return v.bool(&c.LoopbackUp)
	case "seccompCache":
		return v.str(&c.SeccompCache)
	}
	return false
}

// decodeStatus decodes a Status (exit.json, an exec's Exit frame).
func decodeStatus(b []byte) (*Status, error) {
	var st Status
	ok := scanObject(b, func(key string, v value) bool {
		switch key {
		case "exitCode":
			return v.int(&st.ExitCode)
		case "exitedAt":
			var s string
			if !v.str(&s) {
				return false
			}
			if !v.isStr {
				return true
			}
			t, err := time.Parse(time.RFC3339, s)
			st.ExitedAt = t
			return err == nil
		case "oomKilled":
			return v.bool(&st.OOMKilled)
		case "error":
			return v.str(&st.Error)
		}
		return false
	})
	if ok {
		return &st, nil
	}
	st = Status{}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// appendResponse appends r as encoding/json would marshal it.
func appendResponse(b []byte, r Response) []byte {
	b = append(b, '{')
	n := len(b)
	if r.Error != "" {
		b = appendJSONString(append(b, `"error":`...), r.Error)
	}
	if r.Pid != 0 {
		b = strconv.AppendInt(append(comma(b, n), `"pid":`...), int64(r.Pid), 10)
	}
	if r.Running {
		b = append(comma(b, n), `"running":true`...)
	}
	if r.Status != nil {
		b = appendStatus(append(comma(b, n), `"status":`...), *r.Status)
	}
	return append(b, '}')
}

// appendStatus appends st as encoding/json would marshal it.
func appendStatus(b []byte, st Status) []byte {
	b = strconv.AppendInt(append(b, `{"exitCode":`...), int64(st.ExitCode), 10)
	b = append(b, `,"exitedAt":`...)
	t, err := st.ExitedAt.MarshalJSON()
	if err != nil { // a year past 9999: encoding/json would fail too
		t = []byte(`"0001-01-01T00:00:00Z"`)
	}
	b = append(b, t...)
	if st.OOMKilled {
		b = append(b, `,"oomKilled":true`...)
	}
	if st.Error != "" {
		b = appendJSONString(append(b, `,"error":`...), st.Error)
	}
	return append(b, '}')
}

func comma(b []byte, start int) []byte {
	if len(b) > start {
		return append(b, ',')
	}
	return b
}

// appendJSONString quotes s as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	return logs.AppendJSONString(b, []byte(s), true)
}

// value is one member's value in scanObject: a string's bytes (no
// escapes) or a literal (number, true, false, null).
type value struct {
	b     []byte
	isStr bool
}

func (v value) str(p *string) bool {
	switch {
	case v.isStr:
		*p = string(v.b)
	case string(v.b) != "null":
		return false
	}
	return true
}

func (v value) bool(p *bool) bool {
	if v.isStr {
		return false
	}
	switch string(v.b) {
	case "true":
		*p = true
	case "false":
		*p = false
	case "null":
	default:
		return false
	}
	return true
}

func (v value) int64(p *int64) bool {
	if v.isStr {
		return false
	}
	if string(v.b) == "null" {
		return true
	}
	n, err := strconv.ParseInt(string(v.b), 10, 64)
	*p = n
	return err == nil
}

func (v value) int(p *int) bool {
	var n int64
	if !v.int64(&n) || int64(int(n)) != n {
		return false
	}
	if string(v.b) != "null" {
		*p = int(n)
	}
	return true
}

func (v value) uint16(p *uint16) bool {
	var n int64
	if !v.int64(&n) || n < 0 || n > 0xffff {
		return false
	}
	if string(v.b) != "null" {
		*p = uint16(n)
	}
	return true
}

// scanObject calls fn for each member of the JSON object b (surrounding
// whitespace allowed) whose value is a string without escapes, an integer,
// true, false or null. It reports false, having stopped, at anything else
// (a nested value, an escape, a fraction, trailing data) or when fn does.
func scanObject(b []byte, fn func(key string, v value) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		var v value
		if i < len(b) && b[i] == '"' {
			s, j, ok := scanString(b, i)
			if !ok {
				return false
			}
			v, i = value{b: s, isStr: true}, j
		} else {
			j := i
			for j < len(b) && (b[j] == '-' || b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z') {
				j++
			}
			lit := b[i:j]
			switch {
			case string(lit) == "true" || string(lit) == "false" || string(lit) == "null":
			case isInteger(lit):
			default:
				return false
			}
			v, i = value{b: lit}, j
		}
		if !fn(string(key), v) {
			return false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// scanString scans the string starting at b[i] ('"'): its contents, which
// must be valid UTF-8 without escapes or control characters, and the index
// past it.
func scanString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[i+1 : j]
			return s, j + 1, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// isInteger reports whether lit is a JSON number without fraction or
// exponent.
func isInteger(lit []byte) bool {
	if len(lit) > 0 && lit[0] == '-' {
		lit = lit[1:]
	}
	if len(lit) == 0 || len(lit) > 1 && lit[0] == '0' {
		return false
	}
	for _, c := range lit {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
