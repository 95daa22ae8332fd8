// Package reference parses and normalises image references the way Docker
// does: "busybox" is "docker.io/library/busybox:latest", "localhost:5000/a/b"
// keeps its registry, and a reference may carry a tag, a digest or both.
//
// It is a hand-written parser of the distribution reference grammar, without
// regular expressions: every berth process (including each container's init)
// runs package initialisation, so compiling the grammar's large regexps at
// start-up would tax every container start.
//
// Imports: nothing of berth's.
package reference

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// DefaultDomain is the registry of names without one.
	DefaultDomain = "docker.io"
	// DefaultTag is the tag of a name given without tag or digest.
	DefaultTag  = "latest"
	legacyHost  = "index.docker.io"
	officialNS  = "library/"
	maxNameLen  = 255
	maxTagLen   = 128
	minHexChars = 32
)

// ErrFormat is the class of every parse error.
var ErrFormat = errors.New("invalid reference format")

// Ref is a parsed, normalised reference.
type Ref struct {
	Domain string // registry host[:port], e.g. "docker.io"
	Path   string // repository path, e.g. "library/busybox"
	Tag    string // "" when absent
	Digest string // "algorithm:hex", "" when absent
}

// Name is the full repository name: "docker.io/library/busybox".
func (r Ref) Name() string { return r.Domain + "/" + r.Path }

// String is the full reference: "docker.io/library/busybox:latest".
func (r Ref) String() string { return r.Name() + r.suffix() }

// FamiliarName is the name as Docker prints it: "busybox", "user/app",
// "localhost:5000/app".
func (r Ref) FamiliarName() string {
	if r.Domain != DefaultDomain {
		return r.Name()
	}
	return strings.TrimPrefix(r.Path, officialNS)
}

// Familiar is the reference as Docker prints it: "busybox:latest".
func (r Ref) Familiar() string { return r.FamiliarName() + r.suffix() }

func (r Ref) suffix() string {
	s := ""
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDefaultTag adds "latest" to a reference with neither tag nor digest.
func (r Ref) WithDefaultTag() Ref {
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r
}

func formatErr(s, why string) error {
	return fmt.Errorf("%w: %q: %s", ErrFormat, s, why)
}

// Parse parses and normalises s. It does not add a default tag.
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, formatErr(s, "empty")
	}
	rest := s
	var r Ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := ValidateDigest(r.Digest); err != nil {
			return Ref{}, formatErr(s, err.Error())
		}
	}
	// A tag follows the last ':' after the last '/'.
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(r.Tag) {
			return Ref{}, formatErr(s, "tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
		}
	}
	if rest == "" {
		return Ref{}, formatErr(s, "no repository name")
	}
	if len(rest) > maxNameLen {
		// Counted as written, before normalisation (as distribution does).
		return Ref{}, formatErr(s, "repository name is longer than 255 characters")
	}
	domain, path := splitDomain(rest)
	if domain != "" && !validDomain(domain) {
		return Ref{}, formatErr(s, "bad registry host "+domain)
	}
	if domain == "" || domain == legacyHost {
		domain = DefaultDomain
	}
	if domain == DefaultDomain && !strings.Contains(path, "/") {
		path = officialNS + path
	}
	if path != strings.ToLower(path) {
		return Ref{}, formatErr(s, "repository name must be lowercase")
	}
	if !validPath(path) {
		return Ref{}, formatErr(s, "repository name components are [a-z0-9] separated by '.', '_', '__' or '-'")
	}
	if domain == DefaultDomain && isHex64(strings.TrimPrefix(path, officialNS)) {
		return Ref{}, formatErr(s, "repository name must not be a 64-byte hex value (an image id?)")
	}
	r.Domain, r.Path = domain, path
	return r, nil
}

// splitDomain separates "host[:port]/" from the path. The first component is
// a domain when it has a '.' or ':', is "localhost", or has upper case.
func splitDomain(name string) (domain, path string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	first := name[:i]
	if !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		return "", name
	}
	return first, name[i+1:]
}

func isAlnumLower(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isAlnumLower(c) || c >= 'A' && c <= 'Z' }

// validPath checks path components: [a-z0-9]+ runs joined by '.', '_', '__'
// or one or more '-'.
func validPath(path string) bool {
	for _, comp := range strings.Split(path, "/") {
		if comp == "" || !isAlnumLower(comp[0]) || !isAlnumLower(comp[len(comp)-1]) {
			return false
		}
		for i := 0; i < len(comp); {
			c := comp[i]
			if isAlnumLower(c) {
				i++
				continue
			}
			// A separator between two alnum runs.
			j := i
			switch c {
			case '.':
				j++
			case '_':
				j++
				if j < len(comp) && comp[j] == '_' {
					j++
				}
			case '-':
				for j < len(comp) && comp[j] == '-' {
					j++
				}
			default:
				return false
			}
			if j >= len(comp) || !isAlnumLower(comp[j]) {
				return false
			}
			i = j
		}
	}
	return true
}

// validDomain checks host[:port]: DNS labels, or an IPv6 address in brackets.
func validDomain(d string) bool {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 {
			return false
		}
		host, port = d[1:end], strings.TrimPrefix(d[end+1:], ":")
		if d[end+1:] != "" && !strings.HasPrefix(d[end+1:], ":") {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !(c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		if host == "" {
			return false
		}
	} else {
		if i := strings.LastIndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i+1:]
			if port == "" {
				return false
			}
		}
		for _, label := range strings.Split(host, ".") {
			if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
				return false
			}
			for i := 0; i < len(label); i++ {
				if !isAlnum(label[i]) && label[i] != '-' {
					return false
				}
			}
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func validTag(t string) bool {
	if t == "" || len(t) > maxTagLen || !(isAlnum(t[0]) || t[0] == '_') {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(isAlnum(c) || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateDigest checks "algorithm:hex": sha256 (64 hex) or sha512 (128 hex),
// lower-case, the only algorithms berth stores.
func ValidateDigest(d string) error {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return errors.New("digest must be algorithm:hex")
	}
	want := 0
	switch alg {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	default:
		return fmt.Errorf("digest algorithm %q is not supported (sha256, sha512)", alg)
	}
	if len(hex) != want || !isLowerHex(hex) {
		return fmt.Errorf("%s digest must be %d lower-case hex characters", alg, want)
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func isHex64(s string) bool { return len(s) == 64 && isLowerHex(s) }

// IsFullID reports whether s is a 64-hex image or container id (with or
// without "sha256:").
func IsFullID(s string) bool { return isHex64(strings.TrimPrefix(s, "sha256:")) }
