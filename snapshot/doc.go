// Package snapshot owns unpacked layers on disk, keyed by chain ID, and the
// writable layers of containers. Each layer is unpacked once and shared by
// every image that has it. The package knows nothing of images, references or
// manifests: package image says which chain IDs an image needs and when a
// layer is no longer wanted.
//
// # Words
//
// A layer is an unpacked layer tar, read-only once it is there, named by its
// chain ID (see [ChainIDs]): the digest of the layer together with every
// layer below it, so that one name never means two different stacks. Its
// parent is the chain below it ("" for a bottom layer).
//
// An active snapshot is a writable layer on top of a chain, named by a key
// the caller picks (a container ID): [Store.Prepare] makes it and says how
// to mount it (overlayfs, with the chain's layers as lower directories);
// [Store.Diff] writes what was changed as a layer tar; [Store.RemoveActive]
// drops it.
//
// # Lifecycle
//
//	s, _ := snapshot.Open("/var/lib/berth/snapshots")
//	ids := snapshot.ChainIDs(diffIDs)            // from the image config
//	for i := range ids {                         // in parallel if you like
//		parent := digest.Digest("")
//		if i > 0 {
//			parent = ids[i-1]
//		}
//		s.Unpack(ctx, ids[i], parent, layerBlob(i)) // reads nothing if there
//	}
//	m, _ := s.Prepare(containerID, ids[len(ids)-1])
//	m.MountAt(rootfs)
//	... run the container, unmount rootfs ...
//	s.RemoveActive(containerID)
//	s.Remove(ids[len(ids)-1])                    // top down, when no image wants them
//
// # Layout
//
//	<root>/layers/<hex>/fs       a layer, unpacked as an overlayfs lower directory
//	<root>/layers/<hex>/parent   its parent's chain ID, or empty
//	<root>/layers/<hex>/size     its size; written last
//	<root>/l/<name>              -> ../layers/<hex>/fs, a short link
//	<root>/active/<key>/upper    an active snapshot's upper directory
//	<root>/active/<key>/work     and overlayfs' work directory
//	<root>/active/<key>/parent   the chain it is on
//	<root>/tmp/<random>/         unpacks in progress
//	<root>/trash/<random>        removed layers and snapshots, being deleted
//	<root>/salt                  the key of the short link names
//
// mount(2) takes one page of options, and an image can have a hundred
// layers. So an overlay mount names its directories relative to the root,
// and its lower directories by short links: "l/" and 12 characters, a keyed
// hash of the chain ID (keyed by a secret salt, so that no layer can be
// crafted to take another's name; a clash is refused, never followed).
// [Mount.MountAt] makes the mount from the root on a thread of its own.
//
// # Guarantees
//
// A layer is unpacked into tmp/, checked against its chain ID, synced to
// disk and renamed into layers/ in one step; so a crash at any instant leaves
// the whole layer or none of it. [Open] removes what a crash leaves in tmp/
// (a directory there is locked by its live owner, so a store shared by two
// processes does not lose work in progress), incomplete layers and stale
// short links. Layer data is untrusted: [archive.Apply] keeps it inside the
// layer's directory, and Unpack refuses a layer whose content does not give
// its chain ID.
//
// Removing a layer or an active snapshot is one rename into trash/; the
// files are deleted there by a background goroutine (package trash), and by
// the next Open if the process ends first. [Store.WaitRemovals] waits for
// that deletion.
//
// Package image must not Remove a layer that an Unpack in progress is
// putting a layer on; Remove refuses only while a layer or an active
// snapshot is already on it.
//
// Imports: errdefs and archive from berth, go-digest and x/sys.
package snapshot
