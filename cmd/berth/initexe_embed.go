//go:build embedinit

package main

import (
	_ "embed"
	"hash/crc32"
	"strconv"

	"github.com/berth-dev/berth/runtime"
)

// The Makefile builds cmd/berth-init first and copies it here.
//
//go:embed berth-init
var initBinary []byte

// initHash names the installed copy; the Makefile sets it to a hash of the
// file (-X main.initHash=...).
var initHash string

// initExe installs the embedded init program (once per version) and returns
// its path.
func initExe() (string, error) { return installInit(runtime.DefaultInitDir) }

// installInit installs the embedded init program in dir (the daemon's is
// under its --exec-root).
func installInit(dir string) (string, error) {
	h := initHash
	if h == "" {
		h = strconv.FormatUint(uint64(crc32.Checksum(initBinary, crc32.MakeTable(crc32.Castagnoli))), 16)
	}
	p, err := runtime.InstallInit(dir, "berth-init-"+h, initBinary)
	releasePages(initBinary)
	return p, err
}
