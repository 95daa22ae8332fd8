package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiVersion is the newest Docker Engine API version this client speaks.
const apiVersion = "1.56"

// apiClient speaks the Docker Engine API with the wire types of
// github.com/moby/moby/api. (berth does not link github.com/moby/moby/client:
// its dependencies compile large regexps at start-up, 0.7 ms and 400 KB for
// every berth process, including each container's start.)
type apiClient struct {
	host string
	http *http.Client
	base string // scheme://authority
	dial func(ctx context.Context) (net.Conn, error)
	// mu guards version (run's requests go out together).
	mu      sync.Mutex
	version string // API version of the requests
	// settled: the daemon took a request at version (or said which it
	// speaks). There is no ping first: a daemon that speaks an older API
	// refuses the first request, and the client asks and sends it again.
	settled atomic.Bool
}

// apiVersion is the version requests are sent at.
func (c *apiClient) apiVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

func newAPIClient(host string) (*apiClient, error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return nil, fmt.Errorf("daemon address %q: want unix:///path or tcp://host:port", host)
	}
	c := &apiClient{host: host, version: apiVersion}
	tr := &http.Transport{MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	switch proto {
	case "unix":
		c.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return c.dial(ctx) }
		c.base = "http://berth"
	case "tcp", "http":
		c.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
		c.base = "http://" + addr
	default:
		return nil, fmt.Errorf("daemon address %q: protocol %q is not supported (unix, tcp)", host, proto)
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// connError is a failure to reach the daemon at all.
type connError struct {
	host string
	err  error
}

func (e *connError) Error() string {
	return fmt.Sprintf("cannot connect to the berth daemon at %s: is it running? Start it with: berth daemon (as root)", e.host)
}

func (e *connError) Unwrap() error { return e.err }

// apiError is an error response: Docker's {"message": ...} and the status.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return "Error response from daemon: " + e.Message }

// negotiate lowers the API version to the daemon's if that is older.
func (c *apiClient) negotiate(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &connError{c.host, err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	c.mu.Lock()
	if v := resp.Header.Get("API-Version"); v != "" && versionLess(v, c.version) {
		c.version = v
	}
	c.mu.Unlock()
	c.settled.Store(true)
	return nil
}

func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	return am < bm || am == bm && an < bn
}

// do sends one request; body (if not nil) is sent as JSON, and a 2xx
// response body is decoded into out (if not nil).
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send sends one request with a JSON body (if not nil) and returns a 2xx
// response for the caller to read.
func (c *apiClient) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	if body == nil {
		return c.sendRaw(ctx, method, path, query, nil, "")
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.sendRaw(ctx, method, path, query, bytes.NewReader(b), "application/json")
}

// settle asks the daemon which API version it speaks unless a request
// already told: before a request that cannot be sent twice.
func (c *apiClient) settle(ctx context.Context) error {
	if c.settled.Load() {
		return nil
	}
	return c.negotiate(ctx)
}

// sendRaw sends one request with a streamed body of the given content type.
// A body that can be read again (nil, bytes or strings) is sent again at
// the daemon's API version if the daemon refused this one as too new;
// before any other, the version is settled first.
func (c *apiClient) sendRaw(ctx context.Context, method, path string, query url.Values, rd io.Reader, contentType string) (*http.Response, error) {
	// Only in-memory bodies: net/http closes a body that is a Closer (a
	// file) once sent.
	var seeker io.Seeker
	switch r := rd.(type) {
	case *bytes.Reader:
		seeker = r
	case *strings.Reader:
		seeker = r
	}
	replayable := rd == nil || seeker != nil
	if !replayable {
		if err := c.settle(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.sendOnce(ctx, method, path, query, rd, contentType)
	var ae *apiError
	if c.settled.Load() || !errors.As(err, &ae) || !tooNew(ae) {
		if err == nil {
			c.settled.Store(true)
		}
		return resp, err
	}
	if err := c.negotiate(ctx); err != nil {
		return nil, err
	}
	if seeker != nil {
		if _, err := seeker.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return c.sendOnce(ctx, method, path, query, rd, contentType)
}

// tooNew is a daemon's refusal of a request's API version.
func tooNew(e *apiError) bool {
	return e.Status == http.StatusBadRequest && strings.Contains(e.Message, "client version") && strings.Contains(e.Message, "too new")
}

func (c *apiClient) sendOnce(ctx context.Context, method, path string, query url.Values, rd io.Reader, contentType string) (*http.Response, error) {
	u := c.base + "/v" + c.apiVersion() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "berth-cli/"+apiVersion)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ctx.Err() == nil {
			return nil, &connError{c.host, err}
		}
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var m struct{ Message string }
	if json.Unmarshal(b, &m) != nil || m.Message == "" {
		m.Message = strings.TrimSpace(string(b))
	}
	if m.Message == "" {
		m.Message = resp.Status
	}
	return nil, &apiError{Status: resp.StatusCode, Message: m.Message}
}
