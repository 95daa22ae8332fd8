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
	"time"
)

// apiVersion is the newest Docker Engine API version this client speaks.
const apiVersion = "1.56"

// apiClient speaks the Docker Engine API with the wire types of
// github.com/moby/moby/api. (berth does not link github.com/moby/moby/client:
// its dependencies compile large regexps at start-up, 0.7 ms and 400 KB for
// every berth process, including each container's start.)
type apiClient struct {
	host    string
	http    *http.Client
	base    string // scheme://authority
	dial    func(ctx context.Context) (net.Conn, error)
	version string // negotiated API version
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
	if v := resp.Header.Get("API-Version"); v != "" && versionLess(v, c.version) {
		c.version = v
	}
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

// sendRaw sends one request with a streamed body of the given content type.
func (c *apiClient) sendRaw(ctx context.Context, method, path string, query url.Values, rd io.Reader, contentType string) (*http.Response, error) {
	u := c.base + "/v" + c.version + path
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
