package main

// A minimal Docker Engine API client (standard library only; unversioned paths, so the daemon
// answers with its own API version). ha-swarm gives it a TCP endpoint, tcp://HOST:PORT, a filtering
// proxy of the Docker API (never the socket in a task that Traefik serves from); unix:///PATH is
// still understood, for a test against a daemon's socket.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

type docker struct{ client *http.Client }

type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("Docker API: %d %s", e.status, e.message) }

// parseEndpoint: the network and address to dial for a DOCKER_HOST-style endpoint, tcp://HOST:PORT
// or unix:///PATH; anything else (a path, a URL with a path, user or query) is refused.
func parseEndpoint(endpoint string) (network, address string, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("docker endpoint %q: %v", endpoint, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("docker endpoint %q: only tcp://HOST:PORT or unix:///PATH", endpoint)
	}
	switch u.Scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" || (u.Path != "" && u.Path != "/") {
			return "", "", fmt.Errorf("docker endpoint %q: tcp://HOST:PORT", endpoint)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("docker endpoint %q: port out of range", endpoint)
		}
		return "tcp", u.Host, nil
	case "unix":
		if u.Host != "" || u.Path == "" {
			return "", "", fmt.Errorf("docker endpoint %q: unix:///PATH", endpoint)
		}
		return "unix", u.Path, nil
	}
	return "", "", fmt.Errorf("docker endpoint %q: only tcp://HOST:PORT or unix:///PATH", endpoint)
}

func newDocker(endpoint string) (*docker, error) {
	network, address, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}}
	return &docker{client: &http.Client{Transport: transport, Timeout: 20 * time.Second}}, nil
}

// withTimeout: the same client with another limit for each call (the serving role's first read).
func (d *docker) withTimeout(limit time.Duration) *docker {
	c := *d.client
	c.Timeout = limit
	return &docker{client: &c}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (d *docker) call(method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://docker"+path, reader)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var msg struct{ Message string }
		_ = json.Unmarshal(data, &msg)
		return &apiError{status: res.StatusCode, message: msg.Message}
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
