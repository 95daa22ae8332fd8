//go:build !embedinit

package main

// Without the embedded init program (a plain "go build"), containers start
// with this binary itself as "berth init".
var initExe func() (string, error)
