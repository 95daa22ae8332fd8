// Package tarball reads and writes image archives: what "docker save" writes
// and "docker load" reads, and OCI image layout archives.
//
// # Formats
//
// An archive is a tar (Read also takes it gzip- or zstd-compressed) in one of
// three shapes:
//
//   - docker save, Docker < 25: manifest.json lists each image's config and
//     layer paths ("<hex>.json", "<id>/layer.tar", or skopeo's "<hex>.tar"),
//     with the image's RepoTags; a legacy "repositories" file maps names to
//     the top layer. Layers may be symlinks to another copy.
//   - OCI image layout: oci-layout, index.json and blobs/<alg>/<hex>. Images
//     are the manifests index.json points to, directly or through nested
//     indexes (multi-platform images); names come from the annotations
//     io.containerd.image.name (a full reference) or
//     org.opencontainers.image.ref.name (a reference, or a bare tag, which
//     names nothing on its own and is ignored). From a multi-platform index
//     Read takes the manifest for linux and the architecture berth runs on
//     (linux/amd64 on amd64), and fails, listing the platforms there are,
//     if it has none.
//   - docker save, Docker 25 and later: both at once, manifest.json pointing
//     into blobs/sha256/.
//
// Write always writes the third shape, so that old and new docker, skopeo
// and containerd can all read what berth saves.
//
// # Reading
//
// Read makes one streaming pass over the tar: every file (except the few
// small metadata files, kept in memory) goes into the blob store as it comes,
// hashed on the way, and is remembered by its path. Nothing is extracted to a
// directory and no layer is held in memory. Only then is the archive
// interpreted: index.json if there is one (falling back to manifest.json if
// the OCI view is broken, as it is in early Docker 25 archives), else
// manifest.json. Every image is checked before Read returns: the config is
// JSON with one diff ID per layer, each layer's uncompressed digest (its diff
// ID, computed by decompressing it from the blob store) is the one the config
// lists, and every blob named by digest has that digest.
//
// Archive.Unreferenced lists the blobs Read wrote that no image refers to
// (indexes, other platforms' blobs, stray files); on error, every blob Read
// wrote. Read deletes nothing: a blob it wrote may also belong to an image
// already in the store, or to a load running at the same time, which only the
// caller knows. The caller removes the ones it does not reference, under the
// same lock that keeps its garbage collection from racing a load.
//
// # What the image store does with the result
//
// For each Image: unpack Layers in order (decompressing; their DiffIDs are
// verified) as snapshots keyed by chain ID, record the image by its Config
// digest with its layers and ManifestDigest, then point RepoTags at it (a tag
// already in use moves, as with docker load; should an archive give one tag
// to two images, the later one wins). Then delete Unreferenced blobs
// that it does not otherwise reference.
//
// # Imports
//
// From berth: archive (decompression), reference (names) and errdefs. The
// OCI image-spec types. Nothing of bbolt, snapshots or the daemon; the blob
// store is an interface satisfied by *content.Store.
package tarball
