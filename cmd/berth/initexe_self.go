//go:build !embedinit

package main

// Without the embedded init program (a plain "go build"), containers start
// with this binary itself as "berth init".
var initExe func() (string, error)

// installInit is nil too: the daemon then has no init for --init and runs
// shims as "<self> shim".
var installInit func(dir string) (string, error)
