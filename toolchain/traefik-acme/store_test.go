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
	"time"
)

// fakeSwarm: the configs part of the Docker API, on loopback TCP (as the proxies are reached) or a unix socket.
type fakeSwarm struct {
	mu      sync.Mutex
	configs map[string]map[string]any // id -> {"ID", "Spec"}
	next    int
	writes  []string // every request other than GET
}

func (f *fakeSwarm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != "GET" {
		f.writes = append(f.writes, r.Method+" "+r.URL.Path)
	}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln, "tcp://"+ln.Addr().String())
}

func serveFake(t *testing.T, ln net.Listener, endpoint string) (*docker, *fakeSwarm) {
	t.Helper()
	fake := &fakeSwarm{configs: map[string]map[string]any{}}
	srv := &http.Server{Handler: fake}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	d, err := newDocker(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return d, fake
}

func TestTheEndpointIsATCPProxyOrAUnixSocketAndNothingElse(t *testing.T) {
	good := map[string][2]string{
		"tcp://docker-api-proxy:2375":        {"tcp", "docker-api-proxy:2375"},
		"tcp://docker-api-issuer-proxy:2375": {"tcp", "docker-api-issuer-proxy:2375"},
		"unix:///var/run/docker.sock":        {"unix", "/var/run/docker.sock"},
	}
	for endpoint, want := range good {
		network, address, err := parseEndpoint(endpoint)
		if err != nil || network != want[0] || address != want[1] {
			t.Errorf("%s: %s %s %v", endpoint, network, address, err)
		}
	}
	for _, endpoint := range []string{"", "/var/run/docker.sock", "docker-api-proxy:2375", "tcp://docker-api-proxy", "tcp://:2375",
		"tcp://docker-api-proxy:0", "tcp://docker-api-proxy:70000", "tcp://docker-api-proxy:2375/x", "tcp://u:p@docker-api-proxy:2375",
		"tcp://docker-api-proxy:2375?x=1", "http://docker-api-proxy:2375", "ssh://swarm@m1", "unix://host/sock"} {
		if _, _, err := parseEndpoint(endpoint); err == nil {
			t.Errorf("%q accepted", endpoint)
		}
	}
	if _, err := parse([]string{"serve", "--", "--ping"}); err == nil {
		t.Error("a role without -docker was accepted")
	}
	if o, err := parse([]string{"issuer", "-docker=tcp://docker-api-issuer-proxy:2375", "--", "--ping"}); err != nil || o.endpoint != "tcp://docker-api-issuer-proxy:2375" {
		t.Errorf("%+v %v", o, err)
	}
}

func TestAUnixSocketEndpointStillWorks(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := serveFake(t, ln, "unix://"+sock)
	if _, err := publish(d, make([]byte, 32), storeWith("a"), 1); err != nil {
		t.Fatal(err)
	}
}

func TestServingOnlyReadsTheAPIAndServesItsBackupUntilAStoreIsPublished(t *testing.T) {
	d, fake := startFake(t)
	key := make([]byte, 32)
	dir := t.TempDir()
	o := options{work: filepath.Join(dir, "work"), backup: filepath.Join(dir, "acme", "acme.json")}
	if err := os.MkdirAll(filepath.Dir(o.backup), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.backup, storeWith("old.example"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := &serveState{}
	st.sync(o, d, key)
	st.sync(o, d, key)
	if len(fake.writes) != 0 {
		t.Fatalf("serve wrote to the API: %v", fake.writes)
	}
	if st.applied != sha(storeWith("old.example")) {
		t.Fatal("the node's backup is not served while nothing is published")
	}
	// The issuer publishes; the next round serves it and keeps it as this node's backup.
	if _, err := publish(d, key, storeWith("old.example", "new.example"), 1); err != nil {
		t.Fatal(err)
	}
	fake.writes = nil
	st.sync(o, d, key)
	if len(fake.writes) != 0 || st.applied != sha(storeWith("old.example", "new.example")) {
		t.Fatalf("writes %v, applied %s", fake.writes, st.applied)
	}
	if backup, _ := os.ReadFile(o.backup); string(backup) != string(storeWith("old.example", "new.example")) {
		t.Fatal("the backup is not the published store")
	}
}

func TestServingStartsFromItsBackupWhenTheAPIDoesNotAnswerInTime(t *testing.T) {
	// A proxy that accepts and never answers: a restarted manager whose path to the API is not back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	d, err := newDocker("tcp://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := options{work: filepath.Join(dir, "work"), backup: filepath.Join(dir, "acme", "acme.json")}
	if err := os.MkdirAll(filepath.Dir(o.backup), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.backup, storeWith("kept.example"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := &serveState{}
	start := time.Now()
	st.sync(o, d.withTimeout(200*time.Millisecond), make([]byte, 32))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("the first read took %s", elapsed)
	}
	if st.applied != sha(storeWith("kept.example")) {
		t.Fatal("the node's copy is not served when the API does not answer")
	}
	if _, err := os.Stat(filepath.Join(o.work, "dynamic", "acme.yml")); err != nil {
		t.Fatal(err)
	}
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
