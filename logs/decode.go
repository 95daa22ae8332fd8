package logs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// decode parses one json-file line. Records as Docker and berth write them
// ({"log":...,"stream":...,"time":...} in that order) take a fast path; any
// other shape goes through encoding/json. The returned log text is a new
// slice.
func decode(line []byte) (stream string, log []byte, t time.Time, ok bool) {
	if stream, log, t, ok := decodeFast(line); ok {
		return stream, log, t, true
	}
	var rec record
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &rec) != nil {
		return "", nil, time.Time{}, false
	}
	return rec.Stream, []byte(rec.Log), rec.Time, true
}

// record is a json-file line. "attrs" is ignored.
type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func decodeFast(b []byte) (stream string, log []byte, t time.Time, ok bool) {
	b, ok = bytes.CutPrefix(b, []byte(`{"log":`))
	if !ok {
		return
	}
	if log, b, ok = unquote(b); !ok {
		return
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"stream":`)); !ok {
		return
	}
	var s []byte
	if s, b, ok = unquote(b); !ok {
		return
	}
	switch string(s) { // no allocation for the usual two
	case "stdout":
		stream = "stdout"
	case "stderr":
		stream = "stderr"
	default:
		stream = string(s)
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"time":"`)); !ok {
		return
	}
	i := bytes.IndexByte(b, '"')
	if i < 0 || string(b[i:]) != `"}` {
		return "", nil, time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:i]))
	if err != nil {
		return "", nil, time.Time{}, false
	}
	return stream, log, t, true
}

// unquote decodes the JSON string at the start of b into a new slice and
// returns the rest of b. It refuses (ok false) what encoding/json would
// decode differently or not at all: invalid UTF-8, raw control characters.
func unquote(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	b = b[1:]
	// The common case: no escapes.
	end := -1
	for i, c := range b {
		if c == '"' {
			end = i
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	if end >= 0 {
		if !utf8.Valid(b[:end]) {
			return nil, nil, false
		}
		return bytes.Clone(b[:end]), b[end+1:], true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, nil, false
			}
			return out, b[i+1:], true
		case c < 0x20:
			return nil, nil, false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return nil, nil, false
			}
			i += 6
			if utf16Surrogate(r) {
				// A pair, or encoding/json's replacement character.
				if r2, ok := hex4(b[min(i+2, len(b)):]); ok && r < 0xdc00 && bytes.HasPrefix(b[i:], []byte(`\u`)) && r2 >= 0xdc00 && r2 < 0xe000 {
					r = (r-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, nil, false
		}
		i += 2
	}
	return nil, nil, false
}

func utf16Surrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n), err == nil
}
