//go:build cgo

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// sockFilterSize is sizeof(struct sock_filter).
const sockFilterSize = 8

// exportBPF returns the filter's BPF program. libseccomp < 2.6 can only
// export to a file descriptor, so the program goes through a memfd (which
// works whatever the mount namespace looks like).
func exportBPF(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("berth-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	file := os.NewFile(uintptr(fd), "berth-seccomp-bpf")
	defer file.Close()

	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("exporting BPF from libseccomp: %w", err)
	}
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, st.Size())
	if _, err := file.ReadAt(raw, 0); err != nil {
		return nil, fmt.Errorf("reading exported BPF: %w", err)
	}
	if len(raw) == 0 || len(raw)%sockFilterSize != 0 {
		return nil, fmt.Errorf("libseccomp exported a BPF program of %d bytes, not a whole number of instructions", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/sockFilterSize)
	for i := range prog {
		b := raw[i*sockFilterSize:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:2]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:8]),
		}
	}
	return prog, nil
}

// install loads prog into the calling thread with seccomp(2) and the given
// SECCOMP_FILTER_FLAG_* bits. It returns the listener fd (close-on-exec)
// when flags contain NEW_LISTENER, -1 otherwise.
func install(prog []unix.SockFilter, flags uintptr) (int, error) {
	if len(prog) > unix.BPF_MAXINSNS {
		return -1, fmt.Errorf("filter compiles to %d BPF instructions, more than the kernel limit of %d", len(prog), unix.BPF_MAXINSNS)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r1, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		switch errno {
		case unix.EACCES:
			return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w (the thread needs no_new_privs or CAP_SYS_ADMIN)", errno)
		case unix.EINVAL:
			return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, flags %#x): %w (flags unsupported by this kernel or invalid filter)", flags, errno)
		case unix.ESRCH:
			return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w (another thread could not be synchronized for SECCOMP_FILTER_FLAG_TSYNC)", errno)
		}
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, flags %#x): %w", flags, errno)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r1), nil
	}
	if flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 && r1 != 0 {
		// Without TSYNC_ESRCH, a TSYNC failure is reported as the id
		// of the thread that could not be synchronized.
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): SECCOMP_FILTER_FLAG_TSYNC failed: thread %d could not be synchronized", r1)
	}
	return -1, nil
}

// errFlagUnsupported is returned by probeFlags when the kernel rejects a flag.
var errFlagUnsupported = errors.New("not supported by the running kernel")

// probeFlags checks that the kernel accepts the given SECCOMP_FILTER_FLAG_*
// bits, the way libseccomp does: seccomp(2) with a NULL program fails with
// EFAULT when the flags are fine and with EINVAL when they are not. Nothing
// is installed. Any other outcome (say, an outer seccomp profile that denies
// seccomp(2)) is not held against the flags; Load will report it.
func probeFlags(all uintptr) error {
	probe := func(f uintptr) bool {
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f, 0)
		return errno != unix.EINVAL
	}
	if probe(all) {
		return nil
	}
	// Find the culprit to name it. Some bits only make sense together.
	for bit := uintptr(1); bit != 0 && bit <= all; bit <<= 1 {
		if all&bit == 0 {
			continue
		}
		f := bit
		switch bit {
		case unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH:
			f |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		if !probe(f) {
			name, ok := flagNames[bit]
			if !ok {
				name = fmt.Sprintf("%#x", bit)
			}
			return fmt.Errorf("%s %w", name, errFlagUnsupported)
		}
	}
	return fmt.Errorf("combination %#x %w", all, errFlagUnsupported)
}
