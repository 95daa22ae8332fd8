package logs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// ParseOpts reads the json-file options of `--log-opt` (HostConfig.LogConfig.Config):
//
//   - max-size: as Docker parses it (go-units FromHumanSize): a number with an
//     optional unit k, m, g, t or p, case-insensitive, optionally followed by
//     "b" or "ib"; units are decimal as in Docker (10m is 10,000,000 bytes).
//   - max-file: a number, at least 1.
//
// Missing options take berth's bounded defaults, DefaultMaxSize and
// DefaultMaxFiles. Docker ignores max-file without max-size (its file is then
// unbounded); berth applies it with the default max-size.
//
// The other keys Docker's json-file accepts are accepted: labels,
// labels-regex, env, env-regex and tag (which add "attrs" to records in
// Docker; berth does not write them yet) and compress (false only: berth does
// not compress rotated files), and so are the options Docker takes for every
// driver, mode and max-buffer-size. Any other key is an error of class
// errdefs.ErrInvalidArgument naming it, as Docker refuses it.
func ParseOpts(opts map[string]string) (maxSize int64, maxFiles int, err error) {
	maxSize, maxFiles = DefaultMaxSize, DefaultMaxFiles
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same error for the same options
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "max-size":
			n, err := parseSize(v)
			if err != nil {
				return 0, 0, fmt.Errorf("log-opt max-size=%q: %v: %w", v, err, errdefs.ErrInvalidArgument)
			}
			if n <= 0 {
				return 0, 0, fmt.Errorf("log-opt max-size=%q: max-size must be a positive number: %w", v, errdefs.ErrInvalidArgument)
			}
			maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, 0, fmt.Errorf("log-opt max-file=%q: not a number: %w", v, errdefs.ErrInvalidArgument)
			}
			if n < 1 {
				return 0, 0, fmt.Errorf("log-opt max-file=%q: max-file cannot be less than 1: %w", v, errdefs.ErrInvalidArgument)
			}
			maxFiles = n
		case "compress":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return 0, 0, fmt.Errorf("log-opt compress=%q: not a boolean: %w", v, errdefs.ErrInvalidArgument)
			}
			if b {
				return 0, 0, fmt.Errorf("log-opt compress=true: berth does not compress log files: %w", errdefs.ErrNotImplemented)
			}
		case "mode":
			// Docker's options for every driver. berth's copier never
			// blocks the container on a slow disk (see Copy) so both modes
			// behave alike.
			if v != "blocking" && v != "non-blocking" {
				return 0, 0, fmt.Errorf("log-opt mode=%q: must be blocking or non-blocking: %w", v, errdefs.ErrInvalidArgument)
			}
		case "max-buffer-size":
			if _, err := parseSize(v); err != nil {
				return 0, 0, fmt.Errorf("log-opt max-buffer-size=%q: %v: %w", v, err, errdefs.ErrInvalidArgument)
			}
		case "labels", "labels-regex", "env", "env-regex", "tag":
		default:
			return 0, 0, fmt.Errorf("unknown log opt '%s' for json-file log driver: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	return maxSize, maxFiles, nil
}

// parseSize is go-units' FromHumanSize: "10", "10k", "1.5MB", "2 GiB", all
// decimal.
func parseSize(s string) (int64, error) {
	sep := strings.LastIndexAny(s, "0123456789. ")
	if sep < 0 {
		return 0, fmt.Errorf("invalid size")
	}
	num, sfx := s[:sep+1], s[sep+1:]
	if s[sep] == ' ' {
		num = s[:sep]
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size")
	}
	sfx = strings.ToLower(sfx)
	mul := 1.0
	switch {
	case sfx == "" || sfx == "b":
	case len(sfx) > 3 || (len(sfx) == 2 && sfx[1] != 'b') || (len(sfx) == 3 && sfx[1:] != "ib"):
		return 0, fmt.Errorf("invalid suffix %q", sfx)
	default:
		i := strings.IndexByte("kmgtp", sfx[0])
		if i < 0 {
			return 0, fmt.Errorf("invalid suffix %q", sfx)
		}
		for ; i >= 0; i-- {
			mul *= 1000
		}
	}
	return int64(f * mul), nil
}
