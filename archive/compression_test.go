package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-dev/berth/errdefs"
)

func compress(t testing.TB, c Compression, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := compressor(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func sampleLayer(t testing.TB) []byte {
	return mkTar(t, dirEntry("a/"), reg("a/f", strings.Repeat("hello layer ", 10000)), reg("b", "b"))
}

func TestDecompress(t *testing.T) {
	plain := sampleLayer(t)
	bzName := mkTar(t, reg("BZh91AY&SY-is-the-bzip2-magic", "x"))
	for _, tc := range []struct {
		name string
		in   []byte
		want Compression
		out  []byte
	}{
		{"plain", plain, Uncompressed, plain},
		{"gzip", compress(t, Gzip, plain), Gzip, plain},
		{"zstd", compress(t, Zstd, plain), Zstd, plain},
		{"stdlib-compatible multistream gzip", append(compress(t, Gzip, plain[:1024]), compress(t, Gzip, plain[1024:])...), Gzip, plain},
		{"empty", nil, Uncompressed, nil},
		{"plain tar whose first name starts with BZh", bzName, Uncompressed, bzName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, c, err := Decompress(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || c != tc.want || !bytes.Equal(got, tc.out) {
				t.Errorf("got %v, %d bytes, %v; want %v, %d bytes", c, len(got), err, tc.want, len(tc.out))
			}
		})
	}
}

func TestDecompressUnsupported(t *testing.T) {
	for name, in := range map[string][]byte{
		"bzip2": []byte("BZh91AY&SY\x00\x00\x00\x00"),
		"xz":    []byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"),
	} {
		_, _, err := Decompress(bytes.NewReader(in))
		if !errors.Is(err, errdefs.ErrNotImplemented) || !strings.Contains(err.Error(), name+"-compressed layers are not supported") {
			t.Errorf("%s: %v", name, err)
		}
		_, err = Apply(context.Background(), t.TempDir(), bytes.NewReader(in), ApplyOptions{Whiteouts: WhiteoutsApply})
		if !errors.Is(err, errdefs.ErrNotImplemented) {
			t.Errorf("Apply %s: %v", name, err)
		}
	}
}

// TestApplyBroken feeds Apply damaged layers: each must fail with a clear,
// classed error, never succeed.
func TestApplyBroken(t *testing.T) {
	plain := sampleLayer(t)
	gz := compress(t, Gzip, plain)
	zs := compress(t, Zstd, plain)
	corruptZstd := bytes.Clone(zs)
	for i := len(zs) / 2; i < len(zs)/2+16; i++ {
		corruptZstd[i] ^= 0x5a
	}
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff // in the CRC32 trailer
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"truncated gzip", string(gz[:len(gz)/2]), "archive: "},
		{"truncated gzip trailer", string(gz[:len(gz)-4]), "unexpected EOF"},
		{"gzip checksum", string(badCRC), "gzip: invalid checksum"},
		{"truncated gzip header", string(gz[:5]), "archive: gzip: unexpected EOF"},
		{"truncated tar in a file's data", string(plain[:2000]), "archive: entry \"a/f\": reading layer (uncompressed) at byte 2000: unexpected EOF"},
		{"truncated tar in a header", string(plain[:1024+(120000+511)/512*512+100]), "archive: reading layer (uncompressed) at byte 121444: unexpected EOF"},
		{"truncated gzip in a file's data", string(compress(t, Gzip, plain[:2000])), "archive: entry \"a/f\": reading layer (gzip) at byte 2000: unexpected EOF"},
		{"corrupt zstd", string(corruptZstd), "zstd"},
		{"truncated zstd", string(zs[:len(zs)-10]), "unexpected EOF"},
		{"garbage", strings.Repeat("not a tar ", 100), "archive: reading layer (uncompressed) at byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(context.Background(), t.TempDir(), strings.NewReader(tc.in), ApplyOptions{Whiteouts: WhiteoutsApply})
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("Apply: %v\nwant %q and ErrInvalidArgument", err, tc.want)
			}
		})
	}
}

// The encoders are the ones any gzip or zstd reader understands.
func TestCompressorsInterop(t *testing.T) {
	plain := sampleLayer(t)
	zr, err := gzip.NewReader(bytes.NewReader(compress(t, Gzip, plain)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, plain) {
		t.Error("gzip round trip")
	}
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	if got, err := d.DecodeAll(compress(t, Zstd, plain), nil); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("zstd round trip: %v", err)
	}
}
