package logs

import (
	"time"
	"unicode/utf8"
)

// appendRecord appends one json-file record, newline included, to b. The
// escaping is Docker's (daemon/logger/jsonfilelog/jsonlog): like
// encoding/json with HTML escaping, invalid UTF-8 becomes U+FFFD.
func appendRecord(b []byte, stream string, line []byte, t time.Time) []byte {
	b = append(b, '{')
	if len(line) > 0 {
		b = append(b, `"log":`...)
		b = AppendJSONString(b, line, false)
		b = append(b, ',')
	}
	if stream != "" {
		b = append(b, `"stream":`...)
		b = AppendJSONString(b, []byte(stream), false)
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

const hex = "0123456789abcdef"

// shortEscape is the letter of encoding/json's two-character escapes.
var shortEscape = [...]byte{'\b': 'b', '\t': 't', '\f': 'f'}

// AppendJSONString appends s as a JSON string: HTML-safe, invalid UTF-8 as
// U+FFFD, U+2028/9 escaped. With short, \t \b \f are written so (as
// encoding/json does); without, as \u00XX (as Docker's json-file logs do).
func AppendJSONString(b []byte, s []byte, short bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t', '\b', '\f':
				if short {
					b = append(b, '\\', shortEscape[c])
					break
				}
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
