//go:build linux && cgo

// Debian's libseccomp.a is compiled against glibc with _FORTIFY_SOURCE, so
// its text exporter (seccomp_export_pfc) calls glibc's __fprintf_chk. berth
// links with musl by default (see the Makefile: glibc's static start-up costs
// about 0.5 ms per process here), which has no fortified functions; this
// supplies the one libseccomp needs. Its formats are constants, so there is
// nothing for the check to catch. With glibc, glibc's own is used.
#include <stdarg.h>
#include <stdio.h>

#ifndef __GLIBC__
int __fprintf_chk(FILE *f, int flag, const char *format, ...) {
	(void)flag;
	va_list ap;
	va_start(ap, format);
	int n = vfprintf(f, format, ap);
	va_end(ap);
	return n;
}
#endif
