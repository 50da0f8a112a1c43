package main

// A minimal Docker Engine API client over the unix socket (standard library only; unversioned
// paths, so the daemon answers with its own API version).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

type docker struct{ client *http.Client }

type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("Docker API: %d %s", e.status, e.message) }

func newDocker(socket string) *docker {
	transport := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &docker{client: &http.Client{Transport: transport, Timeout: 20 * time.Second}}
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
