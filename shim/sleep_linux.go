package shim

// The sleeper (sleep.c) is a C constructor: it runs, for "berth shim
// --sleep ...", before the Go runtime starts.

// #cgo CFLAGS: -Wall -Wextra -O2
import "C"
