package main

// What a serving Traefik reads: every certificate of the store as a PEM pair in DIR/certs, listed
// by DIR/dynamic/acme.yml for Traefik's file provider (which watches the folder and reloads
// without a restart). A new file list is written before the files it no longer names are removed.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

type tlsPair struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// applyStore writes the certificates of PLAIN under DIR and returns the file names it wrote.
// KEEP: files of the previous round, left in place one round more (Traefik may still read them).
func applyStore(dir string, plain []byte, keep map[string]bool) (map[string]bool, int, error) {
	store, err := parseStore(plain)
	if err != nil {
		return nil, 0, err
	}
	certs, dynamic := filepath.Join(dir, "certs"), filepath.Join(dir, "dynamic")
	for _, d := range []string{certs, dynamic} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, 0, err
		}
	}
	written := map[string]bool{}
	var pairs []tlsPair
	resolvers := make([]string, 0, len(store))
	for name := range store {
		resolvers = append(resolvers, name)
	}
	sort.Strings(resolvers)
	for _, resolver := range resolvers {
		for _, c := range store[resolver].Certificates {
			if len(c.Certificate) == 0 || len(c.Key) == 0 {
				continue
			}
			base := strings.Trim(unsafeName.ReplaceAllString(strings.ReplaceAll(c.Domain.Main, "*", "wildcard"), "_"), "._")
			base = base + "-" + sha(c.Certificate)[:12]
			certFile, keyFile := filepath.Join(certs, base+".crt"), filepath.Join(certs, base+".key")
			if !written[base+".crt"] {
				if err := writeIfChanged(certFile, c.Certificate, 0o600); err != nil {
					return nil, 0, err
				}
				if err := writeIfChanged(keyFile, c.Key, 0o600); err != nil {
					return nil, 0, err
				}
				pairs = append(pairs, tlsPair{CertFile: certFile, KeyFile: keyFile})
			}
			written[base+".crt"], written[base+".key"] = true, true
		}
	}
	doc := map[string]any{"tls": map[string]any{"certificates": pairs}}
	if len(pairs) == 0 {
		doc = map[string]any{}
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	// JSON is YAML: the file provider reads *.yml.
	if err := writeIfChanged(filepath.Join(dynamic, "acme.yml"), append(data, '\n'), 0o600); err != nil {
		return nil, 0, err
	}
	entries, _ := os.ReadDir(certs)
	for _, e := range entries {
		if !written[e.Name()] && !keep[e.Name()] {
			_ = os.Remove(filepath.Join(certs, e.Name()))
		}
	}
	return written, len(pairs), nil
}

func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return writeAtomic(path, data, mode)
}
