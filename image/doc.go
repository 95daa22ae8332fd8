// Package image owns images as Docker users see them: names (tags and
// digests) pointing to images, each image a config and a stack of layers.
// Image and tag metadata lives in bbolt; configs, manifests and layer tars in
// the content store; unpacked layers in the snapshot store, keyed by chain ID
// and shared by every image that has them.
//
// An image is recorded only after all of its blobs are stored and its layers
// unpacked, in one bbolt transaction: a crash at any instant leaves either no
// image or a complete one. What a crash leaves behind (blobs, unpacked layers
// that no image references) is removed by Open at the next start.
//
// Imports: content, snapshot, archive, reference and errdefs from berth; the
// OCI image-spec types. Nothing of containers, the API or the daemon.
package image
