package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// traefikEnv is what ha-swarm gives the proxy (ha_swarm/ingress/docker_api.py).
func traefikEnv(name string) string {
	return map[string]string{"SERVICES": "1", "TASKS": "1", "NODES": "1", "NETWORKS": "1", "VERSION": "1", "PING": "1", "EVENTS": "0", "POST": "0"}[name]
}

func TestTheReadEndpointsOfTraefiksSwarmProviderPass(t *testing.T) {
	p := PolicyFromEnv(traefikEnv)
	for _, c := range []struct{ method, path string }{
		{"HEAD", "/_ping"}, {"GET", "/_ping"}, {"GET", "/v1.51/version"}, {"GET", "/version"},
		{"GET", "/v1.51/services"}, {"GET", "/v1.51/services/abc"}, {"GET", "/v1.24/tasks"},
		{"GET", "/v1.51/networks"}, {"GET", "/v1.51/nodes/xyz"},
	} {
		if why := p.Refuse(c.method, c.path); why != "" {
			t.Errorf("%s %s refused (%s), want it allowed", c.method, c.path, why)
		}
	}
}

func TestWritesAndOtherSectionsAreRefused(t *testing.T) {
	p := PolicyFromEnv(traefikEnv)
	for _, c := range []struct{ method, path string }{
		{"POST", "/containers/create"}, {"POST", "/v1.51/containers/create"}, {"POST", "/v1.51/services/create"},
		{"DELETE", "/v1.51/services/abc"}, {"POST", "/v1.51/services/abc/update"}, {"PUT", "/v1.51/services"},
		{"GET", "/v1.51/containers/json"}, {"GET", "/v1.51/secrets"}, {"GET", "/v1.51/configs"}, {"GET", "/v1.51/info"},
		{"GET", "/v1.51/swarm"}, {"GET", "/v1.51/events"}, {"GET", "/v1.51/images/json"}, {"GET", "/"},
		{"GET", "/v1.51/servicesX"}, {"GET", "/services/../secrets"}, {"GET", "/services//../secrets"}, {"GET", "/v1.51/"},
	} {
		if p.Refuse(c.method, c.path) == "" {
			t.Errorf("%s %s allowed, want it refused", c.method, c.path)
		}
	}
}

func TestTecnativasDefaultsGrantEventsPingAndVersionOnly(t *testing.T) {
	p := PolicyFromEnv(func(string) string { return "" })
	for _, path := range []string{"/events", "/_ping", "/version"} {
		if why := p.Refuse("GET", path); why != "" {
			t.Errorf("GET %s refused by default (%s)", path, why)
		}
	}
	for _, path := range []string{"/services", "/tasks", "/nodes", "/networks", "/containers/json", "/info"} {
		if p.Refuse("GET", path) == "" {
			t.Errorf("GET %s allowed by default", path)
		}
	}
}

func TestContainerActionsNeedTheirOwnFlagAndPostItsOwn(t *testing.T) {
	env := map[string]string{"CONTAINERS": "1", "POST": "1"}
	p := PolicyFromEnv(func(n string) string { return env[n] })
	if p.Refuse("GET", "/v1.51/containers/abc/json") != "" || p.Refuse("POST", "/containers/create") != "" {
		t.Error("CONTAINERS=1 POST=1 should allow inspect and create")
	}
	if p.Refuse("POST", "/v1.51/containers/abc/exec") == "" || p.Refuse("GET", "/containers/abc/logs") == "" {
		t.Error("exec and logs need ALLOW_EXEC / ALLOW_LOGS")
	}
	if p.Refuse("DELETE", "/containers/abc") == "" {
		t.Error("DELETE needs DELETE=1")
	}
}

// The handler answers 403 itself and passes the rest to the socket.
func TestTheHandlerForwardsAllowedRequestsToTheSocketAndRefusesTheRest(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 10)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Method + " " + r.URL.RequestURI()
		_, _ = io.WriteString(w, `{"ok":true}`)
	})}
	go func() { _ = backend.Serve(ln) }()
	defer backend.Close()
	front := httptest.NewServer(Handler(PolicyFromEnv(traefikEnv), sock))
	defer front.Close()

	res, err := http.Get(front.URL + "/v1.51/services?filters=%7B%7D")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("GET /services: %d %q", res.StatusCode, body)
	}
	if got := <-seen; got != "GET /v1.51/services?filters=%7B%7D" {
		t.Fatalf("the socket saw %q", got)
	}
	res, err = http.Post(front.URL+"/v1.51/containers/create", "application/json", strings.NewReader(`{"Image":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("POST /containers/create: %d, want 403", res.StatusCode)
	}
	select {
	case got := <-seen:
		t.Fatalf("the socket saw a refused request: %q", got)
	default:
	}
}

// The read-only proxy with traefik.acme.issuer: swarm: the serving Traefiks read the store's configs.
func servingEnv(name string) string {
	if name == "CONFIGS" {
		return "1"
	}
	return traefikEnv(name)
}

// issuerEnv is the issuer's own proxy (ISSUER_SECTIONS, ISSUER_WRITES in ha_swarm/ingress/docker_api.py).
func issuerEnv(name string) string {
	return map[string]string{"PING": "1", "VERSION": "1", "CONFIGS": "1", "POST": "1", "DELETE": "1", "PUT": "0", "PATCH": "0", "EVENTS": "0",
		"SERVICES": "0", "TASKS": "0", "NODES": "0", "NETWORKS": "0", "SECRETS": "0", "CONTAINERS": "0"}[name]
}

func TestTheServingProxyReadsConfigsAndWritesNothing(t *testing.T) {
	p := PolicyFromEnv(servingEnv)
	for _, path := range []string{"/v1.51/configs", "/configs?filters=%7B%7D", "/v1.51/configs/abc", "/v1.51/services"} {
		if why := p.Refuse("GET", strings.SplitN(path, "?", 2)[0]); why != "" {
			t.Errorf("GET %s refused (%s)", path, why)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1.51/configs/create"}, {"DELETE", "/v1.51/configs/abc"}, {"POST", "/v1.51/configs/abc/update"},
		{"GET", "/v1.51/secrets"}, {"POST", "/v1.51/services/create"}, {"GET", "/v1.51/containers/json"},
	} {
		if p.Refuse(c.method, c.path) == "" {
			t.Errorf("%s %s allowed, want it refused", c.method, c.path)
		}
	}
}

func TestTheIssuerProxyWritesConfigsOnly(t *testing.T) {
	p := PolicyFromEnv(issuerEnv)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1.51/configs"}, {"GET", "/v1.51/configs/abc"}, {"POST", "/v1.51/configs/create"}, {"DELETE", "/v1.51/configs/abc"},
		{"HEAD", "/_ping"},
	} {
		if why := p.Refuse(c.method, c.path); why != "" {
			t.Errorf("%s %s refused (%s), want it allowed", c.method, c.path, why)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1.51/services/create"}, {"POST", "/v1.51/services/abc/update"}, {"DELETE", "/v1.51/services/abc"},
		{"POST", "/v1.51/containers/create"}, {"POST", "/v1.51/secrets/create"}, {"GET", "/v1.51/secrets"},
		{"DELETE", "/v1.51/secrets/abc"}, {"GET", "/v1.51/services"}, {"GET", "/v1.51/tasks"}, {"GET", "/v1.51/events"},
		{"PUT", "/v1.51/configs/abc"}, {"PATCH", "/v1.51/configs/abc"}, {"POST", "/v1.51/swarm/update"},
		{"POST", "/configs/../services/create"}, {"GET", "/v1.51/configsX"}, {"POST", "/v1.51/nodes/abc/update"},
	} {
		if p.Refuse(c.method, c.path) == "" {
			t.Errorf("%s %s allowed, want it refused", c.method, c.path)
		}
	}
}
