package main

// The source of a Volume: a local file (path or file:// URL) or an http(s) URL, streamed into
// the volume; its size and, when not given, its format come from it.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// qcow2Magic starts every qcow2 image.
var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

type sourceData struct {
	r      *bufio.Reader
	closer io.Closer
	size   uint64
}

func (s *sourceData) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *sourceData) Close() error               { return s.closer.Close() }

// format is the image format the data looks like: qcow2 or raw.
func (s *sourceData) format() string {
	head, _ := s.r.Peek(len(qcow2Magic))
	if bytes.Equal(head, qcow2Magic) {
		return "qcow2"
	}
	return "raw"
}

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

func openSource(ctx context.Context, src string) (*sourceData, error) {
	if isURL(src) {
		return openURL(ctx, src)
	}
	path := strings.TrimPrefix(src, "file://")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("volume source: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("volume source: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("volume source %s is not a regular file", path)
	}
	return &sourceData{r: bufio.NewReader(f), closer: f, size: uint64(st.Size())}, nil
}

// openURL downloads src; without a Content-Length the body is kept in a temporary file first,
// since the upload must announce its length.
func openURL(ctx context.Context, src string) (*sourceData, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fmt.Errorf("volume source: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("volume source: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("volume source %s: HTTP %s", src, resp.Status)
	}
	if resp.ContentLength >= 0 {
		return &sourceData{r: bufio.NewReader(resp.Body), closer: resp.Body, size: uint64(resp.ContentLength)}, nil
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp("", "libvirt-volume-source-*")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("volume source %s: %w", src, err)
	}
	return &sourceData{r: bufio.NewReader(tmp), closer: tmp, size: uint64(n)}, nil
}
