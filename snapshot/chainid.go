package snapshot

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
)

// ChainIDs returns the chain ID of every prefix of a stack of layers, given
// their diff IDs (the digests of their uncompressed tars) bottom first, as the
// OCI image spec defines them:
//
//	ChainID(L0)          = DiffID(L0)
//	ChainID(L0|...|Ln)   = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))
//
// so ChainIDs(d)[i] names layers 0 to i together, and the last one names the
// whole stack.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	if len(diffIDs) == 0 {
		return nil
	}
	out := make([]digest.Digest, len(diffIDs))
	out[0] = diffIDs[0]
	for i := 1; i < len(diffIDs); i++ {
		out[i] = chainID(out[i-1], diffIDs[i])
	}
	return out
}

// chainID is the chain ID of a layer with diff ID diffID on top of the chain
// parent ("" for a bottom layer).
func chainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.Canonical.FromString(string(parent) + " " + string(diffID))
}

// chainHex checks a chain ID strictly, before anything builds a path from it,
// and returns its hex part: "sha256:" and exactly 64 lowercase hex digits, so
// the result can hold no "/", ".." or anything else a path could be bent with.
func chainHex(id digest.Digest) (string, error) {
	hex, ok := strings.CutPrefix(string(id), "sha256:")
	if !ok || !isHex64(hex) {
		return "", fmt.Errorf("chain ID %q: want sha256: and 64 lowercase hex digits: %w", string(id), errdefs.ErrInvalidArgument)
	}
	return hex, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
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

// checkKey checks an active snapshot's key, which names a directory: 1 to
// 128 of [A-Za-z0-9_.-], starting with a letter or digit (a container ID,
// a name, "build-3").
func checkKey(key string) error {
	ok := len(key) > 0 && len(key) <= 128
	for i := 0; ok && i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '.' || c == '-') && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("snapshot key %q: want 1 to 128 of [A-Za-z0-9_.-], starting with a letter or digit: %w", key, errdefs.ErrInvalidArgument)
	}
	return nil
}
