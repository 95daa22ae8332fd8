package berthtest

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

// BusyboxTar writes a root filesystem tarball (bin/, etc/, tmp/) with
// Debian's static busybox and a link for each applet named, the offline
// image the end-to-end tests build on, and returns its path.
func BusyboxTar(t testing.TB, applets ...string) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("need /bin/busybox from busybox-static (make deps): %v", err)
	}
	p := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, d := range []string{"bin/", "etc/", "tmp/"} {
		_ = tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	_, _ = tw.Write(bb)
	for _, a := range applets {
		_ = tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}
