package main

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeSwarm: the configs part of the Docker API, on a unix socket.
type fakeSwarm struct {
	mu      sync.Mutex
	configs map[string]map[string]any // id -> {"ID", "Spec"}
	next    int
}

func (f *fakeSwarm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/configs":
		list := []map[string]any{}
		for _, c := range f.configs {
			spec := c["Spec"].(map[string]any)
			list = append(list, map[string]any{"ID": c["ID"], "Spec": map[string]any{"Name": spec["Name"], "Labels": spec["Labels"]}})
		}
		_ = json.NewEncoder(w).Encode(list)
	case r.Method == "POST" && r.URL.Path == "/configs/create":
		var spec map[string]any
		_ = json.NewDecoder(r.Body).Decode(&spec)
		for _, c := range f.configs {
			if c["Spec"].(map[string]any)["Name"] == spec["Name"] {
				w.WriteHeader(409)
				_, _ = w.Write([]byte(`{"message":"name conflicts"}`))
				return
			}
		}
		f.next++
		id := "c" + strings.Repeat("x", f.next)
		f.configs[id] = map[string]any{"ID": id, "Spec": spec}
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(map[string]string{"ID": id})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/configs/"):
		c, ok := f.configs[strings.TrimPrefix(r.URL.Path, "/configs/")]
		if !ok {
			w.WriteHeader(404)
			return
		}
		_ = json.NewEncoder(w).Encode(c)
	case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/configs/"):
		delete(f.configs, strings.TrimPrefix(r.URL.Path, "/configs/"))
		w.WriteHeader(204)
	default:
		w.WriteHeader(404)
	}
}

func startFake(t *testing.T) (*docker, *fakeSwarm) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeSwarm{configs: map[string]map[string]any{}}
	srv := &http.Server{Handler: fake}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return newDocker(sock), fake
}

func storeWith(domains ...string) []byte {
	var certs []map[string]any
	for _, d := range domains {
		certs = append(certs, map[string]any{
			"domain":      map[string]any{"main": d},
			"certificate": base64.StdEncoding.EncodeToString([]byte("CERT " + d)),
			"key":         base64.StdEncoding.EncodeToString([]byte("KEY " + d)),
			"Store":       "default",
		})
	}
	data, _ := json.Marshal(map[string]any{"le": map[string]any{"Account": map[string]any{"Email": "a@b.c"}, "Certificates": certs}})
	return data
}

func TestTheStoreOpensOnlyWithItsKeyAndTheConfigHoldsNoPlainKey(t *testing.T) {
	d, fake := startFake(t)
	key := make([]byte, 32)
	plain := storeWith("a.example")
	p, err := publish(d, key, plain, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fake.configs {
		raw, _ := json.Marshal(c)
		if strings.Contains(string(raw), base64.StdEncoding.EncodeToString([]byte("KEY a.example"))) {
			t.Fatal("the private key is readable in the config")
		}
	}
	got, err := readStore(d, key, p)
	if err != nil || string(got) != string(plain) {
		t.Fatalf("read back %q, %v", got, err)
	}
	other := make([]byte, 32)
	other[0] = 1
	if _, err := readStore(d, other, p); err == nil {
		t.Fatal("opened with another key")
	}
}

func TestTheNewestOfSeveralPublishedStoresIsRead(t *testing.T) {
	d, _ := startFake(t)
	key := make([]byte, 32)
	for seq, domains := range [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}, {"a", "b", "c", "d"}} {
		if _, err := publish(d, key, storeWith(domains...), seq+1); err != nil {
			t.Fatal(err)
		}
	}
	prune(d)
	stores, _ := listStores(d)
	if len(stores) != keepStores {
		t.Fatalf("%d stores kept, want %d", len(stores), keepStores)
	}
	p, plain, err := latestStore(d, key)
	if err != nil || p.Seq != 4 || countOf(plain) != 4 {
		t.Fatalf("newest: %+v, %d certificates, %v", p, countOf(plain), err)
	}
	// The same content published again (two importers at once) is no error.
	if _, err := publish(d, key, storeWith("a", "b", "c", "d"), 4); err != nil {
		t.Fatal(err)
	}
}

func TestCertificatesAreListedForTheFileProviderAndOldOnesRemovedARoundLater(t *testing.T) {
	dir := t.TempDir()
	first, n, err := applyStore(dir, storeWith("a.example", "*.b.example"), nil)
	if err != nil || n != 2 {
		t.Fatalf("%d, %v", n, err)
	}
	var doc struct {
		TLS struct{ Certificates []tlsPair } `json:"tls"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "dynamic", "acme.yml"))
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.TLS.Certificates) != 2 {
		t.Fatalf("acme.yml: %s", raw)
	}
	for _, pair := range doc.TLS.Certificates {
		key, err := os.ReadFile(pair.KeyFile)
		if err != nil || !strings.HasPrefix(string(key), "KEY ") {
			t.Fatalf("%s: %q %v", pair.KeyFile, key, err)
		}
	}
	second, _, _ := applyStore(dir, storeWith("c.example"), first)
	entries, _ := os.ReadDir(filepath.Join(dir, "certs"))
	if len(entries) != 6 {
		t.Fatalf("after the second round: %d files, want the new pair and the previous round's", len(entries))
	}
	_, _, _ = applyStore(dir, storeWith("c.example"), second)
	entries, _ = os.ReadDir(filepath.Join(dir, "certs"))
	if len(entries) != 2 {
		t.Fatalf("after the third round: %d files, want 2", len(entries))
	}
}
