//go:build cgo

package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cacheKey names cfg's compiled program in the cache: the SHA-256 of the
// tag (how programs are compiled: a cache made by an older berth is not
// used) and of every field of cfg, each string and list prefixed by its
// length so that no two profiles encode alike. It replaces json.Marshal,
// whose first use in a process (a shim's create) built encoders for the
// profile's types and took 0.15-0.2 ms of every container start.
// TestCacheKeyCoversEveryField fails when runtime-spec grows a field that
// this does not write.
func cacheKey(cfg *specs.LinuxSeccomp) string {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	num := func(n uint64) { buf = binary.AppendUvarint(buf, n) }
	opt := func(p *uint) {
		if p == nil {
			num(0)
			return
		}
		num(1)
		num(uint64(*p))
	}
	str(programTag)
	str(string(cfg.DefaultAction))
	opt(cfg.DefaultErrnoRet)
	num(uint64(len(cfg.Architectures)))
	for _, a := range cfg.Architectures {
		str(string(a))
	}
	num(uint64(len(cfg.Flags)))
	for _, f := range cfg.Flags {
		str(string(f))
	}
	str(cfg.ListenerPath)
	str(cfg.ListenerMetadata)
	num(uint64(len(cfg.Syscalls)))
	for _, sc := range cfg.Syscalls {
		num(uint64(len(sc.Names)))
		for _, n := range sc.Names {
			str(n)
		}
		str(string(sc.Action))
		opt(sc.ErrnoRet)
		num(uint64(len(sc.Args)))
		for _, a := range sc.Args {
			num(uint64(a.Index))
			num(a.Value)
			num(a.ValueTwo)
			str(string(a.Op))
		}
		if len(buf) > 4096 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}
