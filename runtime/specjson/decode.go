// Package specjson decodes JSON into Go values the way encoding/json does,
// for the shapes the OCI runtime-spec uses, without encoding/json's start-up
// cost.
//
// encoding/json builds, the first time a process decodes into a struct type,
// the field tables of that type and an encoder for every type reachable from
// it. For specs.Spec that is about a hundred types, 0.7 ms of CPU in every
// `berth runtime` process, shim and init that reads a config.json, before the
// first byte is decoded. This decoder looks at a struct type only when the
// document has an object for it, and builds no encoders.
//
// Semantics follow encoding/json's Unmarshal: keys match a field's JSON name
// exactly, else case-insensitively; unknown keys are skipped; null leaves
// non-pointer values alone and sets pointers, slices, maps and interfaces to
// nil; a decoded slice reuses its existing elements; maps keep their entries;
// numbers into integer fields must be integers in range; strings keep invalid
// UTF-8 as U+FFFD; anonymous struct fields promote their fields by Go's
// dominance rules; interface{} gets map[string]any, []any, float64, string,
// bool or nil. Errors name what was wrong and where; a document encoding/json
// accepts decodes to the same value, and one it rejects is rejected (the fuzz
// test checks both). Types it does not handle (arrays, non-string map keys,
// Unmarshaler implementations, []byte, non-empty interfaces) are decoded by
// encoding/json instead.
//
// It imports only the standard library and owns nothing else.
package specjson

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// Unmarshal decodes data into the value v points to.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	d := decoder{data: data}
	d.ws()
	if err := d.value(rv.Elem()); err != nil {
		return err
	}
	d.ws()
	if d.pos < len(d.data) {
		return d.syntax("after top-level value")
	}
	return nil
}

type decoder struct {
	data  []byte
	pos   int
	depth int
	buf   []byte // scratch for strings with escapes
}

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset) }

// TypeError is a JSON value that does not fit the Go value at a key path.
type TypeError struct {
	Value  string // "string", "number 1.5", "object", ...
	Type   reflect.Type
	Offset int
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("cannot decode JSON %s into Go value of type %s (at byte %d)", e.Value, e.Type, e.Offset)
}

func (d *decoder) syntax(what string) error {
	if d.pos >= len(d.data) {
		return &SyntaxError{Msg: "unexpected end of JSON input", Offset: d.pos}
	}
	return &SyntaxError{Msg: fmt.Sprintf("invalid character %s %s", quoteChar(d.data[d.pos]), what), Offset: d.pos}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the next JSON value into v (v may be invalid: skip it).
func (d *decoder) value(v reflect.Value) error {
	if d.pos >= len(d.data) {
		return d.syntax("")
	}
	if v.IsValid() && !supported(v.Type()) {
		return d.viaEncodingJSON(v)
	}
	switch c := d.data[d.pos]; c {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		if v.IsValid() {
			switch v.Kind() {
			case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
				v.SetZero()
			}
		}
		return nil
	case '{', '[':
		d.depth++
		if d.depth > maxDepth {
			return &SyntaxError{Msg: "exceeded max depth", Offset: d.pos}
		}
		var err error
		if c == '{' {
			err = d.object(v)
		} else {
			err = d.array(v)
		}
		d.depth--
		return err
	}
	v = indirect(v)
	switch c := d.data[d.pos]; {
	case c == '"':
		start := d.pos
		s, err := d.str()
		if err != nil {
			return err
		}
		if !v.IsValid() {
			return nil
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(string(s))
		case reflect.Interface:
			v.Set(reflect.ValueOf(string(s)))
		default:
			return &TypeError{Value: "string", Type: v.Type(), Offset: start}
		}
		return nil
	case c == 't' || c == 'f':
		start := d.pos
		b := c == 't'
		lit := "false"
		if b {
			lit = "true"
		}
		if err := d.literal(lit); err != nil {
			return err
		}
		if !v.IsValid() {
			return nil
		}
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(b)
		case reflect.Interface:
			v.Set(reflect.ValueOf(b))
		default:
			return &TypeError{Value: "bool", Type: v.Type(), Offset: start}
		}
		return nil
	case c == '-' || c >= '0' && c <= '9':
		start := d.pos
		num, err := d.number()
		if err != nil {
			return err
		}
		if !v.IsValid() {
			return nil
		}
		return setNumber(v, num, start)
	}
	return d.syntax("looking for beginning of value")
}

// viaEncodingJSON decodes the next value into v with encoding/json, for a
// type this decoder does not handle itself: the value is scanned (and so
// checked) here, then handed over whole.
func (d *decoder) viaEncodingJSON(v reflect.Value) error {
	start := d.pos
	if err := d.value(reflect.Value{}); err != nil {
		return err
	}
	return json.Unmarshal(d.data[start:d.pos], v.Addr().Interface())
}

// indirect allocates nil pointers on the way to a non-pointer value.
func indirect(v reflect.Value) reflect.Value {
	for v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	return v
}

func setNumber(v reflect.Value, num string, at int) error {
	bad := func() error { return &TypeError{Value: "number " + num, Type: v.Type(), Offset: at} }
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return bad()
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return bad()
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(num, v.Type().Bits())
		if err != nil || v.OverflowFloat(f) {
			return bad()
		}
		v.SetFloat(f)
	case reflect.Interface:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad()
		}
		v.Set(reflect.ValueOf(f))
	default:
		return bad()
	}
	return nil
}

func (d *decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != lit[i] {
			return d.syntax("in literal " + lit)
		}
		d.pos++
	}
	return nil
}

// number scans a JSON number and returns its text.
func (d *decoder) number() (string, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case digits() == 0:
		return "", d.syntax("in numeric literal")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return "", d.syntax("after decimal point in numeric literal")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return "", d.syntax("in exponent of numeric literal")
		}
	}
	return string(d.data[start:d.pos]), nil
}

// str scans a JSON string and returns its decoded bytes (valid until the
// next call).
func (d *decoder) str() ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes, all ASCII or valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	d.buf = append(d.buf[:0], d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.buf, nil
		case c < 0x20:
			return nil, d.syntax("in string literal")
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				return nil, d.syntax("")
			}
			e := d.data[d.pos]
			switch e {
			case '"', '\\', '/':
				d.buf = append(d.buf, e)
			case 'b':
				d.buf = append(d.buf, '\b')
			case 'f':
				d.buf = append(d.buf, '\f')
			case 'n':
				d.buf = append(d.buf, '\n')
			case 'r':
				d.buf = append(d.buf, '\r')
			case 't':
				d.buf = append(d.buf, '\t')
			case 'u':
				r, bad := d.hex4(d.pos + 1)
				if bad >= 0 {
					d.pos = bad
					return nil, d.syntax("in \\u hexadecimal character escape")
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					// A pair only when a valid low surrogate follows.
					if d.pos+6 < len(d.data) && d.data[d.pos+1] == '\\' && d.data[d.pos+2] == 'u' {
						if r2, bad := d.hex4(d.pos + 3); bad < 0 {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								d.buf = utf8.AppendRune(d.buf, dec)
								d.pos += 7
								continue
							}
						}
					}
					r = unicode.ReplacementChar
				}
				d.buf = utf8.AppendRune(d.buf, r)
			default:
				return nil, d.syntax("in string escape code")
			}
			d.pos++
		case c < utf8.RuneSelf:
			d.buf = append(d.buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			d.pos += size
			d.buf = utf8.AppendRune(d.buf, r) // RuneError for an invalid byte
		}
	}
	return nil, d.syntax("")
}

// hex4 reads the four hex digits of a \u escape at i; bad is the offset of
// the first byte that is not one (or len(data)), -1 when all four are.
func (d *decoder) hex4(i int) (r rune, bad int) {
	for j := i; j < i+4; j++ {
		if j >= len(d.data) {
			return 0, len(d.data)
		}
		c := d.data[j]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, j
		}
		r = r*16 + rune(c)
	}
	return r, -1
}

func (d *decoder) object(v reflect.Value) error {
	start := d.pos
	d.pos++ // '{'
	v = indirect(v)
	var st *structInfo
	var typeErr error
	if v.IsValid() {
		switch v.Kind() {
		case reflect.Struct:
			st = structOf(v.Type())
		case reflect.Map:
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
		case reflect.Interface:
			m := map[string]any{}
			if err := d.members(func(key []byte) error {
				var x any
				if err := d.value(reflect.ValueOf(&x).Elem()); err != nil {
					return err
				}
				m[string(key)] = x
				return nil
			}); err != nil {
				return err
			}
			v.Set(reflect.ValueOf(m))
			return nil
		default:
			typeErr = &TypeError{Value: "object", Type: v.Type(), Offset: start}
			v = reflect.Value{}
		}
	}
	err := d.members(func(key []byte) error {
		switch {
		case !v.IsValid():
			return d.value(reflect.Value{})
		case st != nil:
			f := st.lookup(key)
			if f == nil {
				return d.value(reflect.Value{})
			}
			return d.value(fieldByIndex(v, f.index))
		default:
			e := reflect.New(v.Type().Elem()).Elem()
			k := reflect.New(v.Type().Key()).Elem()
			k.SetString(string(key))
			if err := d.value(e); err != nil {
				return err
			}
			v.SetMapIndex(k, e)
			return nil
		}
	})
	if err != nil {
		return err
	}
	return typeErr
}

// members walks an object's members after its '{', calling fn with each key
// (valid until fn returns) positioned at the member's value.
func (d *decoder) members(fn func(key []byte) error) error {
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.syntax("looking for beginning of object key string")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		key = append([]byte(nil), key...) // d.buf is reused by the value
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.syntax("after object key")
		}
		d.pos++
		d.ws()
		if err := fn(key); err != nil {
			return err
		}
		d.ws()
		if d.pos >= len(d.data) {
			return d.syntax("")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.ws()
		case '}':
			d.pos++
			return nil
		default:
			return d.syntax("after object key:value pair")
		}
	}
}

func (d *decoder) array(v reflect.Value) error {
	start := d.pos
	d.pos++ // '['
	v = indirect(v)
	var typeErr error
	var list []any
	if v.IsValid() {
		switch v.Kind() {
		case reflect.Slice:
		case reflect.Interface:
			list = []any{}
		default:
			typeErr = &TypeError{Value: "array", Type: v.Type(), Offset: start}
			v = reflect.Value{}
		}
	}
	i := 0
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
	} else {
		for {
			var err error
			switch {
			case !v.IsValid():
				err = d.value(reflect.Value{})
			case list != nil:
				var x any
				err = d.value(reflect.ValueOf(&x).Elem())
				list = append(list, x)
			default:
				// Grown like encoding/json: capacity beyond the length
				// is reused as it is.
				if i >= v.Cap() {
					v.Grow(1)
				}
				if i >= v.Len() {
					v.SetLen(i + 1)
				}
				err = d.value(v.Index(i))
			}
			if err != nil {
				return err
			}
			i++
			d.ws()
			if d.pos >= len(d.data) {
				return d.syntax("")
			}
			if d.data[d.pos] == ']' {
				d.pos++
				break
			}
			if d.data[d.pos] != ',' {
				return d.syntax("after array element")
			}
			d.pos++
			d.ws()
		}
	}
	switch {
	case list != nil:
		v.Set(reflect.ValueOf(list))
	case v.IsValid() && i == 0:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	case v.IsValid() && i < v.Len():
		v.SetLen(i)
	}
	return typeErr
}

// fieldByIndex walks to a (possibly promoted) field, allocating nil embedded
// pointers on the way.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for n, i := range index {
		if n > 0 {
			v = indirect(v)
		}
		v = v.Field(i)
	}
	return v
}

// field is one decodable struct field.
type field struct {
	name   string
	index  []int
	tagged bool
}

// structInfo is a struct type's decodable fields, in index order. The
// case-insensitive match, which documents rarely need, is a scan.
type structInfo struct {
	fields []*field
	byName map[string]*field
}

func (s *structInfo) lookup(key []byte) *field {
	if f := s.byName[string(key)]; f != nil {
		return f
	}
	// A folded name belongs to the first field in index order.
	folded := foldName(key)
	for _, f := range s.fields {
		if foldName([]byte(f.name)) == folded {
			return f
		}
	}
	return nil
}

var structs sync.Map // reflect.Type → *structInfo

// structOf is t's field table. It is built the first time a document has an
// object for t, in every process that decodes one: kept cheap for the
// common shape (no embedded structs, no two fields of one name).
func structOf(t reflect.Type) *structInfo {
	if s, ok := structs.Load(t); ok {
		return s.(*structInfo)
	}
	fields, flat := collectFields(t)
	s := &structInfo{byName: make(map[string]*field, len(fields))}
	for _, f := range fields {
		if _, dup := s.byName[f.name]; dup {
			flat = false
			break
		}
		s.byName[f.name] = f
	}
	if flat {
		s.fields = fields
	} else {
		s.fields = dominant(fields)
		clear(s.byName)
		for _, f := range s.fields {
			s.byName[f.name] = f
		}
	}
	got, _ := structs.LoadOrStore(t, s)
	return got.(*structInfo)
}

// dominant applies Go's dominance rule per name: the shallowest field; among
// equals, the one tagged; still tied, none. The result is in index order.
func dominant(fields []*field) []*field {
	best := map[string][]*field{}
	var order []string
	for _, f := range fields {
		if _, seen := best[f.name]; !seen {
			order = append(order, f.name)
		}
		best[f.name] = append(best[f.name], f)
	}
	var chosen []*field
	for _, name := range order {
		fs := best[name]
		depth := len(fs[0].index)
		for _, f := range fs {
			depth = min(depth, len(f.index))
		}
		var top []*field
		for _, f := range fs {
			if len(f.index) == depth {
				top = append(top, f)
			}
		}
		if len(top) > 1 {
			var tagged []*field
			for _, f := range top {
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
			top = tagged
		}
		if len(top) == 1 {
			chosen = append(chosen, top[0])
		}
	}
	slices.SortFunc(chosen, func(a, b *field) int { return slices.Compare(a.index, b.index) })
	return chosen
}

// collectFields lists t's fields and those promoted from anonymous struct
// fields, breadth first, in the order encoding/json considers them. flat
// says none was promoted (all are t's own, in index order).
func collectFields(t reflect.Type) (out []*field, flat bool) {
	type item struct {
		t     reflect.Type
		index []int
	}
	current := []item{{t: t}}
	var visited, count map[reflect.Type]int // set from the second level on
	for depth := 0; len(current) > 0; depth++ {
		var next []item
		if depth > 0 {
			if visited == nil {
				visited = map[reflect.Type]int{t: 1}
			}
			count = map[reflect.Type]int{}
			for _, it := range current {
				count[it.t]++
			}
		}
		for _, it := range current {
			if depth > 0 {
				if visited[it.t] > 0 {
					continue
				}
				visited[it.t] = 1
			}
			for i := 0; i < it.t.NumField(); i++ {
				sf := it.t.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(append(make([]int, 0, len(it.index)+1), it.index...), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					f := &field{name: name, index: index, tagged: tagged}
					out = append(out, f)
					if count[it.t] > 1 {
						// Reached twice at this depth: the copies tie
						// and the name is dropped, as encoding/json does.
						out = append(out, f)
					}
					continue
				}
				next = append(next, item{t: ft, index: index})
			}
		}
		if depth == 0 {
			flat = len(next) == 0
		}
		current = next
	}
	return out, flat
}

// validTag is encoding/json's rule for a usable tag name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// foldName is a key's case-folded form: ASCII letters upper-cased, other
// runes mapped to the upper case of their lower case.
func foldName(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
		i += n
	}
	return string(out)
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	supportedTypes      sync.Map // reflect.Type → bool
)

// supported reports whether this decoder handles values of type t itself
// exactly as encoding/json does; types it does not (arrays, non-string map
// keys, []byte, non-empty interfaces, Unmarshaler implementations, structs
// with ",string" fields) go to encoding/json. Only the type itself is looked
// at: its element and field types are checked when the document reaches
// them.
func supported(t reflect.Type) bool {
	if ok, done := supportedTypes.Load(t); done {
		return ok.(bool)
	}
	ok := checkSupported(t)
	supportedTypes.Store(t, ok)
	return ok
}

func checkSupported(t reflect.Type) bool {
	if t.Kind() != reflect.Interface && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Pointer:
		return supported(t.Elem()) // value() looks through pointers itself
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	case reflect.Map:
		return t.Key().Kind() == reflect.String
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if strings.Contains(t.Field(i).Tag.Get("json"), ",string") {
				return false
			}
		}
		return true
	}
	return false
}
