//go:build !linux

package logs

// watch is not implemented here: followers poll.
func watch(string) (<-chan struct{}, func()) { return nil, func() {} }
