package cli

import (
	"golang.org/x/sys/unix"
)

// termState is a terminal's settings before makeRaw, for restore.
type termState struct {
	fd  int
	old unix.Termios
}

// makeRaw puts the terminal on fd into raw mode, as cfmakeraw(3) (the
// docker CLI's moby/term does the same).
func makeRaw(fd int) (*termState, error) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	st := &termState{fd: fd, old: *t}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *termState) restore() {
	if s != nil {
		_ = unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.old)
	}
}

// termSize is the terminal's height and width, (0, 0) if fd is not one.
func termSize(fd int) (h, w uint) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return uint(ws.Row), uint(ws.Col)
}

func isTerminalFd(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
