// Package content owns digest-addressed blobs: image layers, configs,
// manifests and indexes, stored on disk by the digest of their bytes. It knows
// nothing of images, media types or references; those belong to package image,
// which keeps its own metadata and decides which blobs are still wanted.
//
// # Layout
//
//	<root>/blobs/sha256/<hex>   committed blobs: immutable, mode 0444
//	<root>/blobs/sha512/<hex>   (only if a sha512 blob was ever written)
//	<root>/ingest/<random>      writes in progress, private to one Writer
//
// # Guarantees
//
// A blob is visible under blobs/ only once its size and digest have been
// checked and its bytes fsynced; it appears there by a single link(2), so a
// reader never sees a partial blob, and a crash at any instant (even SIGKILL
// mid-write, or power loss after Commit returned) leaves the store either
// without the blob or with all of it. What a crash can leave behind is an
// ingest file, and Open removes those.
//
// Digests are validated strictly (sha256 or sha512, lowercase hex of the
// right length) before any path is built from them, so a digest can never
// name a file outside blobs/.
//
// # Roles
//
// Store has three groups of methods, and callers should depend on the
// smallest interface they need, declared where they use it:
//
//	ingest:  Writer, Put, PutBytes
//	read:    ReaderAt, Open, ReadAll, Info, Has
//	manage:  Verify, Delete, Walk, Usage
//
// Garbage collection is not done here: package image knows which blobs are
// referenced, and must make sure it does not Delete a blob that an ingest in
// progress is about to rely on (a Commit that finds the blob already present
// discards its own copy).
//
// Imports: errdefs from berth, and go-digest. Nothing else of berth's.
package content
