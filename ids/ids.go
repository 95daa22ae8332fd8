// Package ids makes object ids and checks object names, as Docker does for
// containers and networks.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a fresh id: 64 hex digits (256 random bits), like Docker's.
func New() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// ValidName reports whether s follows Docker's rule for object names,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, with at least min characters.
func ValidName(s string, min int) bool {
	if len(s) < min || len(s) == 0 {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || (r != '_' && r != '.' && r != '-')) {
			return false
		}
	}
	return true
}
