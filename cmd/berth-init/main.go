// Command berth-init is the first program that runs in a new container (and
// in each process exec'd into one): berth's runtime.Init and nothing else.
//
// It is built on its own and embedded in berth (see cmd/berth/initexe.go) so
// that a container start pays only for this small program's start-up, not
// for the package initialisation of everything the berth CLI and daemon link.
//
// Called as "docker-init" (what `run --init` mounts at /sbin/docker-init) it
// is instead the container's pid 1 for the user's program: it reaps zombies
// and forwards signals (see reaper.go). Called as "berth shim ..." it is
// a container's supervisor (package shim): the same small program, so that a
// shim costs under a MB, not the whole berth binary's footprint. Once its
// container runs, a shim executes this program again ("berth shim
// --resume"), a fresh image without what creating the container left.
package main

import (
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
)

func main() {
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(reaper(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:], os.Executable))
	}
	runtime.Init()
}
