// Command berth-init is the first program that runs in a new container (and
// in each process exec'd into one): berth's runtime.Init and nothing else.
//
// It is built on its own and embedded in berth (see cmd/berth/initexe.go) so
// that a container start pays only for this small program's start-up, not
// for the package initialisation of everything the berth CLI and daemon link.
package main

import "github.com/berth-dev/berth/runtime"

func main() { runtime.Init() }
