//go:build cgo

package seccomp

// Importing "C" compiles fortify.c: the one fortified libc function that
// Debian's libseccomp.a needs when berth is linked with musl.

import "C"
