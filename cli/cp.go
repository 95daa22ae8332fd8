package cli

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/archive"
)

// cpOptions are cp's flags.
type cpOptions struct {
	followLink bool // -L: archive what a final symlink in SRC_PATH leads to
	copyUIDGID bool // -a: what is copied in belongs to the container's user
	quiet      bool // -q: no "Successfully copied" line
}

// cpCmd is docker cp: a container path to a host path or stdout, or a host
// path or stdin to a container path, through the archive API (HEAD, GET and
// PUT /containers/{id}/archive). Host paths are resolved here, container
// paths by the daemon.
func cpCmd(g *globals) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin\n" +
			"and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a\n" +
			"container source to stdout.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				// As docker: no progress line unless stdout is a terminal.
				o.quiet = !isTerminalWriter(cmd.OutOrStdout())
			}
			srcCtr, src := splitCpArg(args[0])
			dstCtr, dst := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr != "":
				return copyFromContainer(cmd, g, o, srcCtr, src, dst)
			case dstCtr != "":
				return copyToContainer(cmd, g, o, src, dstCtr, dst)
			}
			return errors.New("must specify at least one container source")
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fl.BoolVarP(&o.copyUIDGID, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits CONTAINER:PATH. An absolute path, or one beginning with
// "." ("./file:name"), is a host path even if it holds a colon.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// The errors docker cp reports for impossible copies (moby's pkg/archive
// words them so).
var (
	errCpNotDir       = errors.New("not a directory")
	errCpDirNotExists = errors.New("no such directory")
	errCpCopyDir      = errors.New("cannot copy directory")
)

// copyFromContainer is CONTAINER:SRC DEST: GET the archive of SRC and
// unpack it at DEST, or write it to stdout for "-".
func copyFromContainer(cmd *cobra.Command, g *globals, o cpOptions, ctr, src, dst string) error {
	if dst != "-" {
		var err error
		if dst, err = resolveLocalPath(dst); err != nil {
			return err
		}
	}
	if err := validateOutputPath(dst); err != nil {
		return err
	}
	bg, cancel := signal.NotifyContext(ctx(cmd), os.Interrupt)
	defer cancel()
	c, err := g.client(bg)
	if err != nil {
		return err
	}
	// With -L a final symlink is replaced by its target, which keeps the
	// link's name on the host.
	var rebase string
	if o.followLink {
		if st, err := statContainerPath(bg, c, ctr, src); err == nil && st.Mode&os.ModeSymlink != 0 {
			src, rebase = rebaseName(src, linkTarget(src, st.LinkTarget))
		}
	}
	resp, err := c.sendRaw(bg, "GET", "/containers/"+ctr+"/archive", url.Values{"path": {src}}, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	st, err := decodePathStat(resp.Header.Get("X-Docker-Container-Path-Stat"))
	if err != nil {
		return err
	}
	if dst == "-" {
		_, err := io.Copy(cmd.OutOrStdout(), resp.Body)
		return err
	}
	body := &countReader{r: resp.Body}
	err = unpackCopy(bg, body, src, st.Mode.IsDir(), rebase, dst)
	if !o.quiet {
		fmt.Fprintln(cmd.ErrOrStderr(), "Successfully copied", units.HumanSizeWithPrecision(float64(body.n), 3), "to", dst)
	}
	return err
}

// unpackCopy unpacks the archive of container path src (a directory if
// srcIsDir; rebase, if set, is the name its top entry takes instead of
// src's) at host path dst, as docker does: into dst if it is a directory,
// else as dst, its top entry renamed to dst's base name. archive.Apply
// unpacks it, so no entry lands outside the directory unpacked into; when
// that is dst's parent, an entry outside the top one is refused.
func unpackCopy(ctx context.Context, r io.Reader, src string, srcIsDir bool, rebase, dst string) error {
	dstInfo, err := hostDestInfo(dst)
	if err != nil {
		return err
	}
	dir, to, err := planCopy(srcIsDir, rebase, dstInfo)
	if err != nil {
		return err
	}
	_, from := splitPathDirEntry(src)
	if to == "" {
		from = "" // names stay as they are
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := renameEntries(r, pw, from, to, func(h *tar.Header) error { return conflict(dir, h) })
		pw.CloseWithError(err)
		done <- err
	}()
	_, err = archive.Apply(ctx, dir, pr, archive.ApplyOptions{Whiteouts: archive.WhiteoutsNone, NoLchown: true, NoOverwriteDirNonDir: true})
	pr.CloseWithError(errCpAborted)
	if rerr := <-done; rerr != nil && !errors.Is(rerr, errCpAborted) {
		return rerr
	}
	return err
}

var errCpAborted = errors.New("unpacking stopped")

// conflict is docker's error for a top-level entry that would replace a
// directory in dir with a non-directory or the other way round (Apply
// refuses deeper ones too, in words of its own).
func conflict(dir string, h *tar.Header) error {
	name := path.Clean(strings.TrimLeft(h.Name, "/"))
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return nil
	}
	dir = filepath.Clean(dir)
	p := filepath.Join(dir, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil
	}
	switch isDir := h.Typeflag == tar.TypeDir; {
	case fi.IsDir() && !isDir:
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q", p, dir)
	case !fi.IsDir() && isDir:
		return fmt.Errorf("cannot overwrite non-directory %q with directory %q", p, dir)
	}
	return nil
}

// cpInfo is what is known of one side of a copy.
type cpInfo struct {
	path          string
	exists, isDir bool
}

// planCopy is docker's copy rule. It returns the directory to unpack (or
// extract) into and the name the archive's top entry must take there, ""
// for the name it has: a source goes into an existing directory under its
// own name (or the -L link's, rebase); anything else is saved as the
// destination's base name in its parent, except that a directory cannot
// replace a file and a file cannot make a missing "dir/".
func planCopy(srcIsDir bool, rebase string, dst cpInfo) (dir, name string, err error) {
	parent, base := splitPathDirEntry(dst.path)
	switch {
	case dst.exists && dst.isDir:
		return dst.path, rebase, nil
	case dst.exists && srcIsDir:
		return "", "", errCpCopyDir
	case !dst.exists && !srcIsDir && assertsDirectory(dst.path):
		return "", "", errCpDirNotExists
	}
	return parent, base, nil
}

// renameEntries copies the tar r to w, renaming the top entry from to to
// and everything below it from/... to to/...; from "" leaves names alone
// but drops a top entry "./". from "/" or "." (a container's root, a
// directory's contents) puts every entry below to. An entry (or a hard
// link's target) that is not from or below it is refused: it would land
// beside the destination. check, if set, may refuse an entry (renamed).
func renameEntries(r io.Reader, w io.Writer, from, to string, check func(*tar.Header) error) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil && !(err == tar.ErrInsecurePath && hdr != nil) {
			return err
		}
		if from == "" && path.Clean(hdr.Name) == "." {
			// "./", a directory's contents copied into an existing
			// directory: docker leaves that directory's mode and times.
			continue
		}
		if from != "" {
			if hdr.Name, err = rebaseEntry(hdr.Name, from, to); err != nil {
				return err
			}
			if hdr.Typeflag == tar.TypeLink {
				if hdr.Linkname, err = rebaseEntry(hdr.Linkname, from, to); err != nil {
					return err
				}
			}
			// A longer name may not fit a USTAR header.
			hdr.Format = tar.FormatPAX
		}
		if check != nil {
			if err := check(hdr); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// rebaseEntry renames one entry for renameEntries.
func rebaseEntry(name, from, to string) (string, error) {
	clean := path.Clean("/" + name)[1:] // "" for the top, never "../"
	rest, ok := "", true
	switch {
	case from == "/" || from == ".":
		rest = clean
	case clean == from:
	case strings.HasPrefix(clean, from+"/"):
		rest = clean[len(from)+1:]
	default:
		ok = false
	}
	if !ok {
		return "", fmt.Errorf("archive entry %q is not below %q: refusing to unpack it", name, from)
	}
	if rest == "" {
		return to, nil
	}
	return to + "/" + rest, nil
}

// copyToContainer is SRC CONTAINER:DEST: a tar of SRC (or stdin's tar
// for "-") PUT into DEST's directory in the container.
func copyToContainer(cmd *cobra.Command, g *globals, o cpOptions, src, ctr, dst string) error {
	if src != "-" {
		var err error
		if src, err = resolveLocalPath(src); err != nil {
			return err
		}
	}
	bg, cancel := signal.NotifyContext(ctx(cmd), os.Interrupt)
	defer cancel()
	c, err := g.client(bg)
	if err != nil {
		return err
	}
	// A symlink DEST is followed once (docker does the same); a failed stat
	// is no error yet: DEST may be missing, or the PUT tells what is wrong.
	dstInfo := cpInfo{path: dst}
	st, err := statContainerPath(bg, c, ctr, dst)
	if err == nil && st.Mode&os.ModeSymlink != 0 {
		dstInfo.path = linkTarget(dst, st.LinkTarget)
		st, err = statContainerPath(bg, c, ctr, dstInfo.path)
	}
	if err == nil {
		if err := checkFileMode(st.Mode); err != nil {
			return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: %w", ctr, dst, err)
		}
		dstInfo.exists, dstInfo.isDir = true, st.Mode.IsDir()
	}

	if src == "-" {
		if !dstInfo.isDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, dst)
		}
		// stdin's tar is not counted: docker says 0B.
		return reportPut(cmd, o, 0, ctr, dstInfo.path, putArchive(bg, c, ctr, dstInfo.path, cmd.InOrStdin(), o.copyUIDGID))
	}
	srcInfo, rebase, err := hostSourceInfo(src, o.followLink)
	if err != nil {
		return err
	}
	dir, name, err := planCopy(srcInfo.isDir, rebase, dstInfo)
	if err != nil {
		return err
	}
	n, err := putEntry(bg, c, ctr, dir, srcInfo.path, name, o.copyUIDGID)
	return reportPut(cmd, o, n, ctr, dstInfo.path, err)
}

// putEntry sends host path src (not following a final symlink), named
// name ("" for its own base name), to the container directory dir and
// returns the size of the tar sent.
func putEntry(ctx context.Context, c *apiClient, ctr, dir, src, name string, copyUIDGID bool) (int64, error) {
	srcDir, srcBase := splitPathDirEntry(src)
	if name == "" {
		name = srcBase
	}
	pfd, err := unix.Open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: srcDir, Err: err}
	}
	defer unix.Close(pfd)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := archive.WriteEntry(ctx, pw, pfd, srcBase, name, archive.WriteOptions{})
		pw.CloseWithError(err)
		done <- err
	}()
	body := &countReader{r: pr}
	err = putArchive(ctx, c, ctr, dir, body, copyUIDGID)
	pr.CloseWithError(errCpAborted)
	// The tar writer's own failure says more than the PUT's.
	if werr := <-done; werr != nil && !errors.Is(werr, errCpAborted) {
		err = werr
	}
	return body.n, err
}

// putArchive is PUT /containers/{id}/archive: the tar body unpacked into
// the container directory dir.
func putArchive(ctx context.Context, c *apiClient, ctr, dir string, body io.Reader, copyUIDGID bool) error {
	q := url.Values{"path": {dir}, "noOverwriteDirNonDir": {"true"}}
	if copyUIDGID {
		q.Set("copyUIDGID", "true")
	}
	resp, err := c.sendRaw(ctx, "PUT", "/containers/"+ctr+"/archive", q, body, "application/x-tar")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// reportPut prints docker's line after a copy into a container (n is the
// size of the tar sent) and returns err.
func reportPut(cmd *cobra.Command, o cpOptions, n int64, ctr, dst string, err error) error {
	if !o.quiet {
		fmt.Fprintln(cmd.ErrOrStderr(), "Successfully copied", units.HumanSizeWithPrecision(float64(n), 3), "to", ctr+":"+dst)
	}
	return err
}

// statContainerPath is HEAD /containers/{id}/archive.
func statContainerPath(ctx context.Context, c *apiClient, ctr, p string) (container.PathStat, error) {
	resp, err := c.sendRaw(ctx, "HEAD", "/containers/"+ctr+"/archive", url.Values{"path": {p}}, nil, "")
	if err != nil {
		return container.PathStat{}, err
	}
	resp.Body.Close()
	return decodePathStat(resp.Header.Get("X-Docker-Container-Path-Stat"))
}

// decodePathStat reads X-Docker-Container-Path-Stat: JSON in base64 (the
// URL alphabet from Docker's daemon; the standard one is accepted too).
func decodePathStat(h string) (container.PathStat, error) {
	var st container.PathStat
	h = strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(h), "=")
	b, err := base64.RawStdEncoding.DecodeString(h)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	return st, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Host paths, resolved as the docker CLI resolves them.

// resolveLocalPath makes p absolute, keeping a trailing "/" or "/.".
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return preserveTrailingDotOrSeparator(abs, p), nil
}

// preserveTrailingDotOrSeparator puts back on cleaned the "/." or "/" that
// original ended with (which filepath.Clean removes).
func preserveTrailingDotOrSeparator(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingSeparator(cleaned) {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !hasTrailingSeparator(cleaned) && hasTrailingSeparator(original) {
		cleaned += "/"
	}
	return cleaned
}

func specifiesCurrentDir(p string) bool { return filepath.Base(p) == "." }

func hasTrailingSeparator(p string) bool { return strings.HasSuffix(p, "/") }

// assertsDirectory: "dir/" and "dir/." can only name a directory.
func assertsDirectory(p string) bool { return hasTrailingSeparator(p) || specifiesCurrentDir(p) }

// splitPathDirEntry is p's directory and last element; "dir/." gives
// ("dir", "."), "/" gives ("/", "/").
func splitPathDirEntry(p string) (dir, base string) {
	cleaned := filepath.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return filepath.Dir(cleaned), filepath.Base(cleaned)
}

// linkTarget is where the symlink p, reading target, leads: a relative
// target is taken from p's directory.
func linkTarget(p, target string) string {
	if !filepath.IsAbs(target) {
		parent, _ := splitPathDirEntry(p)
		target = filepath.Join(parent, target)
	}
	return target
}

// rebaseName is docker's GetRebaseName: resolved (where the symlink p leads)
// with p's trailing "/" or "/.", and p's base name if resolving changed it.
func rebaseName(p, resolved string) (string, string) {
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingSeparator(p) && !hasTrailingSeparator(resolved) {
		resolved += "/"
	}
	if filepath.Base(p) != filepath.Base(resolved) {
		return resolved, filepath.Base(p)
	}
	return resolved, ""
}

// validateOutputPath is the docker CLI's check of a host destination: its
// parent must exist, and it must not be a device.
func validateOutputPath(p string) error {
	if dir := filepath.Dir(filepath.Clean(p)); dir != "" && dir != "." {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().IsDir() || fi.Mode().IsRegular() {
		return nil
	}
	if err := checkFileMode(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", p, err)
	}
	return nil
}

func checkFileMode(m os.FileMode) error {
	switch {
	case m&os.ModeDevice != 0:
		return errors.New("got a device")
	case m&os.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

// hostDestInfo describes a host destination, following symlinks (up to
// 10) to what they name; a missing destination needs an existing parent
// directory.
func hostDestInfo(p string) (cpInfo, error) {
	orig := p
	fi, err := os.Lstat(p)
	for n := 0; err == nil && fi.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return cpInfo{}, errors.New("too many symlinks in " + orig)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return cpInfo{}, rerr
		}
		p = linkTarget(p, target)
		fi, err = os.Lstat(p)
	}
	if err == nil {
		return cpInfo{path: p, exists: true, isDir: fi.IsDir()}, nil
	}
	if !os.IsNotExist(err) {
		return cpInfo{}, err
	}
	parent, _ := splitPathDirEntry(p)
	pfi, err := os.Stat(parent)
	if err != nil {
		return cpInfo{}, err
	}
	if !pfi.IsDir() {
		return cpInfo{}, errCpNotDir
	}
	return cpInfo{path: p}, nil
}

// hostSourceInfo describes a host source: symlinks in its directory are
// resolved, and a final one too with -L (or when p ends in "/"), in which
// case rebase is the name the archive keeps.
func hostSourceInfo(p string, follow bool) (info cpInfo, rebase string, err error) {
	var resolved string
	if follow {
		if resolved, err = filepath.EvalSymlinks(p); err != nil {
			return cpInfo{}, "", err
		}
		resolved, rebase = rebaseName(p, resolved)
	} else {
		dir, base := filepath.Split(p)
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return cpInfo{}, "", err
		}
		resolved = strings.TrimSuffix(rdir, "/") + "/" + base
		if hasTrailingSeparator(p) && filepath.Base(p) != filepath.Base(resolved) {
			rebase = filepath.Base(p)
		}
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return cpInfo{}, "", err
	}
	return cpInfo{path: resolved, exists: true, isDir: fi.IsDir()}, rebase, nil
}
