package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// Provider is what Write needs of a blob store. *content.Store satisfies it.
type Provider interface {
	// Open opens the blob d for reading from its start.
	Open(d digest.Digest) (io.ReadCloser, error)
}

// BlobStore is what Read needs of a blob store. *content.Store satisfies it.
type BlobStore interface {
	Provider
	// Put stores the size bytes r yields and returns their digest. If
	// expected is not "", the bytes must hash to it (otherwise Put fails and
	// stores nothing). Putting a blob that is already stored succeeds.
	Put(ctx context.Context, r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error)
}

// Archive is what Read found in an archive.
type Archive struct {
	// Images, in the order the archive lists them; each at most once (by
	// config digest), with all the names the archive gives it.
	Images []Image
	// Unreferenced lists the blobs Read wrote to the store that none of
	// Images refers to, in the order they were written. On error it lists
	// every blob Read wrote. They may still be used by images already in the
	// store: see the package documentation.
	Unreferenced []digest.Digest
}

// Image is one image of an archive.
type Image struct {
	// Config is the digest of the image config, the image's ID.
	Config digest.Digest
	// ConfigJSON is the config's bytes (Write reads them from the store if
	// empty).
	ConfigJSON []byte
	// Layers, bottom first.
	Layers []Layer
	// RepoTags are the image's names, familiar and tagged:
	// "busybox:latest", "example.com/app:v1".
	RepoTags []string
	// ManifestDigest is the digest of the image's manifest blob if the
	// archive has one (OCI layouts), else "". Write reuses that manifest,
	// and generates one when it is "".
	ManifestDigest digest.Digest
}

// Layer is one layer blob of an image.
type Layer struct {
	// Blob is the digest of the layer as stored (compressed or not).
	Blob digest.Digest
	// Size is the blob's length in bytes.
	Size int64
	// MediaType is the layer's media type: the manifest's, or for docker
	// save archives application/vnd.oci.image.layer.v1.tar (+gzip, +zstd)
	// after the bytes.
	MediaType string
	// DiffID is the digest of the uncompressed tar, as the config lists it.
	DiffID digest.Digest
}

const (
	// maxJSON bounds every JSON document Read parses (and Write reads):
	// manifests, indexes, configs, manifest.json.
	maxJSON = 32 << 20
	// maxEntries bounds the number of tar entries an archive may have: a
	// docker save of many images has a few per layer.
	maxEntries = 1 << 17
	// maxLinks bounds the symlinks followed to find one file.
	maxLinks = 16
)

// metadataFiles are the top-level files kept in memory rather than stored as
// blobs: they describe the archive and are not part of any image.
var metadataFiles = map[string]bool{
	"manifest.json": true,
	"index.json":    true,
	"oci-layout":    true,
	"repositories":  true,
}

// entry is what Read remembers of one path of the archive.
type entry struct {
	digest  digest.Digest // of the bytes ("" for links and skipped files)
	size    int64
	data    []byte // metadata files only: the bytes, not stored
	link    string // symlinks and hard links: the archive path they name
	skipped bool   // legacy <id>/json and <id>/VERSION: read past, not kept
}

func (e *entry) same(o *entry) bool {
	return e.digest == o.digest && e.link == o.link && e.skipped == o.skipped
}

// reader is the state of one Read.
type reader struct {
	ctx     context.Context
	blobs   BlobStore
	entries map[string]*entry
	written []digest.Digest // each blob Read stored, once, in order
	wrote   map[digest.Digest]bool
	layers  map[digest.Digest]layerInfo // diff IDs computed so far
}

// Read loads an image archive (see the package documentation for the
// formats) from r, which may be gzip- or zstd-compressed, storing its files
// in blobs. It reads r once, to its end, and keeps only small JSON files in
// memory.
//
// The returned Archive is never nil: on error its Unreferenced lists every
// blob written, for the caller to remove (Read removes nothing). Errors about
// the archive's content wrap errdefs.ErrInvalidArgument and name the entry,
// blob or image at fault; xz and bzip2 compression wrap
// errdefs.ErrNotImplemented.
func Read(ctx context.Context, r io.Reader, blobs BlobStore) (*Archive, error) {
	rd := &reader{
		ctx:     ctx,
		blobs:   blobs,
		entries: map[string]*entry{},
		wrote:   map[digest.Digest]bool{},
		layers:  map[digest.Digest]layerInfo{},
	}
	images, err := rd.read(r)
	if err != nil {
		return &Archive{Unreferenced: rd.written}, fmt.Errorf("image archive: %w", err)
	}
	used := map[digest.Digest]bool{}
	for _, img := range images {
		used[img.Config] = true
		used[img.ManifestDigest] = true
		for _, l := range img.Layers {
			used[l.Blob] = true
		}
	}
	a := &Archive{Images: images}
	for _, d := range rd.written {
		if !used[d] {
			a.Unreferenced = append(a.Unreferenced, d)
		}
	}
	return a, nil
}

func (rd *reader) read(r io.Reader) ([]Image, error) {
	if err := rd.scan(r); err != nil {
		return nil, err
	}
	return rd.interpret()
}

// invalid is an error about the archive's content.
func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// streamErr classes an error met while reading the tar: a malformed or
// truncated tar is the archive's fault; anything else (the connection, the
// disk) passes through.
func streamErr(what string, err error) error {
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return invalid("%s: truncated (%v)", what, err)
		}
		return invalid("%s: %v", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// scan is the one pass over the tar.
func (rd *reader) scan(r io.Reader) error {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	for {
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return streamErr("reading the tar", err)
		}
		if err := rd.add(hdr, tr); err != nil {
			return err
		}
	}
	if len(rd.entries) == 0 {
		return invalid("no files in it")
	}
	return nil
}

// add takes one tar entry.
func (rd *reader) add(hdr *tar.Header, tr io.Reader) error {
	name, err := cleanPath(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	case tar.TypeSymlink:
		if strings.HasPrefix(hdr.Linkname, "/") {
			return invalid("entry %q: symlink to the absolute path %q", hdr.Name, hdr.Linkname)
		}
		target, err := cleanPath(path.Join(path.Dir(name), hdr.Linkname))
		if err != nil {
			return invalid("entry %q: symlink to %q, outside the archive", hdr.Name, hdr.Linkname)
		}
		return rd.put(name, &entry{link: target})
	case tar.TypeLink:
		target, err := cleanPath(hdr.Linkname)
		if err != nil {
			return err
		}
		return rd.put(name, &entry{link: target})
	case tar.TypeReg:
	default:
		return invalid("entry %q: type %q, where only files, directories and links belong", hdr.Name, hdr.Typeflag)
	}
	if name == "" {
		return invalid("entry %q: a file without a name", hdr.Name)
	}
	if isSparse(hdr) {
		// A sparse entry's bytes may be far more than the archive's.
		return invalid("entry %q: a sparse file, which image archives do not have", hdr.Name)
	}
	if metadataFiles[name] {
		if hdr.Size > maxJSON {
			return invalid("entry %q: %d bytes, over the limit of %d", name, hdr.Size, maxJSON)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return streamErr(fmt.Sprintf("entry %q", name), err)
		}
		return rd.put(name, &entry{digest: digest.FromBytes(data), size: int64(len(data)), data: data})
	}
	if isLegacyMetadata(name) {
		// Docker < 25 writes <v1-id>/json and <v1-id>/VERSION beside each
		// layer.tar; nothing refers to them. tar.Reader skips the bytes.
		return rd.put(name, &entry{skipped: true, size: hdr.Size})
	}
	expected, err := blobPathDigest(name)
	if err != nil {
		return err
	}
	d, n, err := rd.blobs.Put(rd.ctx, tr, expected, hdr.Size)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
			return streamErr(fmt.Sprintf("entry %q", name), err)
		}
		return fmt.Errorf("entry %q: %w", name, err)
	}
	rd.recordWritten(d)
	return rd.put(name, &entry{digest: d, size: n})
}

func (rd *reader) recordWritten(d digest.Digest) {
	if !rd.wrote[d] {
		rd.wrote[d] = true
		rd.written = append(rd.written, d)
	}
}

// put remembers name; a second entry of the same name must say the same.
func (rd *reader) put(name string, e *entry) error {
	if old, ok := rd.entries[name]; ok {
		if !old.same(e) {
			return invalid("entry %q appears twice, with different content", name)
		}
		return nil
	}
	if len(rd.entries) >= maxEntries {
		return invalid("more than %d entries", maxEntries)
	}
	rd.entries[name] = e
	return nil
}

// cleanPath turns a tar name into the archive path used as a map key:
// "./a//b" is "a/b". Absolute names and ".." components are refused; no path
// of an archive is ever used on the filesystem, but such names have no
// business in an image archive.
func cleanPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", invalid("entry %q: an absolute path", name)
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", invalid("entry %q: a path with \"..\"", name)
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, "/"), nil
}

// isLegacyMetadata reports whether name is a Docker v1 image's json or
// VERSION file: "<id>/json", "<id>/VERSION".
func isLegacyMetadata(name string) bool {
	dir, file := path.Split(name)
	return strings.Count(dir, "/") == 1 && (file == "json" || file == "VERSION")
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// blobPathDigest returns the digest a path under blobs/ names, "" for any
// other path.
func blobPathDigest(name string) (digest.Digest, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return "", nil
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	if err := d.Validate(); err != nil {
		return "", invalid("entry %q is in blobs/ but does not name a digest: %v", name, err)
	}
	return d, nil
}

// blobPath is where an OCI layout keeps the blob d.
func blobPath(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}

// lookup finds the file at p, following links.
func (rd *reader) lookup(p string) (string, *entry, error) {
	name := p
	for range maxLinks {
		e, ok := rd.entries[name]
		if !ok {
			if name != p {
				return "", nil, invalid("%q (a link to %q) is not in the archive", p, name)
			}
			return "", nil, invalid("%q is not in the archive", p)
		}
		if e.link == "" {
			if e.skipped {
				return "", nil, invalid("%q is a legacy metadata file, not an image's config or layer", p)
			}
			return name, e, nil
		}
		name = e.link
	}
	return "", nil, invalid("%q: more than %d links deep", p, maxLinks)
}

// stored returns the blob at archive path p, storing it first if it was a
// metadata file kept in memory.
func (rd *reader) stored(p string) (*entry, error) {
	_, e, err := rd.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.data != nil && !rd.wrote[e.digest] {
		if _, _, err := rd.blobs.Put(rd.ctx, bytes.NewReader(e.data), e.digest, e.size); err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
		rd.recordWritten(e.digest)
	}
	return e, nil
}

// json returns the bytes of the file at p, which must be small.
func (rd *reader) json(p string) ([]byte, error) {
	_, e, err := rd.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.data != nil {
		return e.data, nil
	}
	if e.size > maxJSON {
		return nil, invalid("%q: %d bytes, over the limit of %d for a JSON document", p, e.size, maxJSON)
	}
	rc, err := rd.blobs.Open(e.digest)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", p, err)
	}
	if int64(len(b)) != e.size {
		return nil, fmt.Errorf("%q: the store has %d bytes of blob %s, expected %d", p, len(b), e.digest, e.size)
	}
	return b, nil
}
