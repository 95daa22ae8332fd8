package cli

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func logsCmd(g *globals) *cobra.Command {
	var follow, timestamps, details bool
	var since, until, tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			ir, err := inspectContainer(ctx(cmd), c, args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			q := url.Values{"stdout": {"1"}, "stderr": {"1"}}
			if since != "" {
				ts, err := getTimestamp(since, now)
				if err != nil {
					return err
				}
				q.Set("since", ts)
			}
			if until != "" {
				ts, err := getTimestamp(until, now)
				if err != nil {
					return err
				}
				q.Set("until", ts)
			}
			if timestamps {
				q.Set("timestamps", "1")
			}
			if details {
				q.Set("details", "1")
			}
			if follow {
				q.Set("follow", "1")
			}
			q.Set("tail", tail)
			resp, err := c.send(ctx(cmd), "GET", "/containers/"+ir.ID+"/logs", q, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if ir.Config.Tty {
				_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
				return err
			}
			return demux(cmd.OutOrStdout(), cmd.ErrOrStderr(), resp.Body)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	fl.StringVar(&since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fl.StringVar(&until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	fl.BoolVar(&details, "details", false, "Show extra details provided to logs")
	fl.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// getTimestamp turns --since/--until (a duration before now, an RFC 3339
// date or time, or a unix timestamp) into the API's seconds[.nanoseconds],
// as the docker CLI's timetypes.GetTimestamp.
func getTimestamp(value string, ref time.Time) (string, error) {
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return strconv.FormatInt(ref.Add(-d).Unix(), 10), nil
	}
	const (
		rfc3339Local     = "2006-01-02T15:04:05"
		rfc3339NanoLocal = "2006-01-02T15:04:05.999999999"
		dateWithZone     = "2006-01-02Z07:00"
		dateLocal        = "2006-01-02"
	)
	inLocation := !strings.ContainsAny(value, "zZ+") && strings.Count(value, "-") != 3
	var format string
	switch {
	case strings.Contains(value, "."):
		format = time.RFC3339Nano
		if inLocation {
			format = rfc3339NanoLocal
		}
	case strings.Contains(value, "T"):
		colons := strings.Count(value, ":")
		if !inLocation && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons--
		}
		switch {
		case inLocation && colons == 0:
			format = "2006-01-02T15"
		case inLocation && colons == 1:
			format = "2006-01-02T15:04"
		case inLocation:
			format = rfc3339Local
		case colons == 0:
			format = "2006-01-02T15Z07:00"
		case colons == 1:
			format = "2006-01-02T15:04Z07:00"
		default:
			format = time.RFC3339
		}
	case inLocation:
		format = dateLocal
	default:
		format = dateWithZone
	}
	var t time.Time
	var err error
	if inLocation {
		t, err = time.ParseInLocation(format, value, time.FixedZone(ref.Zone()))
	} else {
		t, err = time.Parse(format, value)
	}
	if err != nil {
		if strings.Contains(value, "-") {
			return "", err
		}
		if _, _, err := parseUnixTimestamp(value); err != nil {
			return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
		}
		return value, nil
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), int64(t.Nanosecond())), nil
}

func parseUnixTimestamp(value string) (sec, nsec int64, err error) {
	s, n, ok := strings.Cut(value, ".")
	if sec, err = strconv.ParseInt(s, 10, 64); err != nil || !ok {
		return sec, 0, err
	}
	if nsec, err = strconv.ParseInt(n, 10, 64); err != nil {
		return sec, nsec, err
	}
	return sec, int64(float64(nsec) * math.Pow(10, float64(9-len(n)))), nil
}
