package content

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"

	"github.com/berth-dev/berth/errdefs"
	"github.com/opencontainers/go-digest"
)

// algorithm is a digest algorithm the store accepts.
type algorithm struct {
	name   string // as in a digest, and the directory under blobs/
	hexLen int
	new    func() hash.Hash
}

// algorithms the store accepts; sha256 first, as it is by far the commonest.
var algorithms = []algorithm{
	{name: "sha256", hexLen: 64, new: sha256.New},
	{name: "sha512", hexLen: 128, new: sha512.New},
}

func lookupAlgorithm(name string) (algorithm, bool) {
	for _, a := range algorithms {
		if a.name == name {
			return a, true
		}
	}
	return algorithm{}, false
}

// validHex reports whether s is lowercase hex of the algorithm's length.
func (a algorithm) validHex(s string) bool {
	if len(s) != a.hexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validate checks dgst strictly, before anything builds a path from it, and
// returns its algorithm and hex parts. Only sha256 and sha512 are accepted,
// with exactly the right number of lowercase hex digits, so the parts can
// contain no "/", "..", NUL or anything else a path could be bent with.
func validate(dgst digest.Digest) (alg, hex string, err error) {
	name, hex, ok := strings.Cut(string(dgst), ":")
	if !ok {
		return "", "", fmt.Errorf("digest %q: not of the form algorithm:hex: %w", string(dgst), errdefs.ErrInvalidArgument)
	}
	a, ok := lookupAlgorithm(name)
	if !ok {
		return "", "", fmt.Errorf("digest %q: algorithm %q is not supported (only sha256 and sha512): %w", string(dgst), name, errdefs.ErrInvalidArgument)
	}
	if !a.validHex(hex) {
		return "", "", fmt.Errorf("digest %q: want %d lowercase hex digits after %q: %w", string(dgst), a.hexLen, name+":", errdefs.ErrInvalidArgument)
	}
	return name, hex, nil
}

// newHash returns a hash for a validated digest's algorithm.
func newHash(alg digest.Algorithm) hash.Hash {
	a, ok := lookupAlgorithm(string(alg))
	if !ok {
		panic("content: newHash of unvalidated algorithm " + string(alg))
	}
	return a.new()
}
