package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// countAttempts installs dialAttemptHook for the test; onFail is called with each failed attempt.
func countAttempts(t *testing.T, onFail func(attempt int)) func() int {
	var mu sync.Mutex
	n := 0
	dialAttemptHook = func(_ string, attempt int, _ error) {
		mu.Lock()
		n++
		mu.Unlock()
		if onFail != nil {
			onFail(attempt)
		}
	}
	t.Cleanup(func() { dialAttemptHook = nil })
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestHostKeyPinning(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	failures := countAttempts(t, nil)

	conn := connTo(s, key)
	conn["dialErrorLimit"] = resource.NewNumberProperty(5)
	conn["hostKey"] = resource.NewStringProperty(authorizedKey(newEd25519Signer(t).PublicKey()))
	_, err := h.create(inputs(conn, "create", "echo should-not-run"))
	if err == nil {
		t.Fatal("a wrong host key was accepted")
	}
	wantContains(t, err.Error(), "host key mismatch", s.ln.Addr().String())
	if n := failures(); n != 1 {
		t.Errorf("a host key mismatch was tried %d times, want 1", n)
	}
	if _, _, execs, _ := s.counts(); execs != 0 {
		t.Errorf("%d commands ran on a server with the wrong key", execs)
	}

	conn["hostKey"] = resource.NewStringProperty(authorizedKey(s.hostSigner.PublicKey()))
	state := h.mustCreate(inputs(conn, "create", "echo $SERVER_NAME"))
	if got := outStr(state, "stdout"); got != "main" {
		t.Errorf("stdout = %q", got)
	}
}

func TestHostKeyPinningAsksForThePinnedKeyType(t *testing.T) {
	key := newClientKey(t, "")
	s := newTestServer(t, "two-keys", key)
	rsaKey := newRSASigner(t)
	s.config.AddHostKey(rsaKey) // the server has an ed25519 and an RSA host key
	s.listen("127.0.0.1:0")
	for name, pinned := range map[string]ssh.PublicKey{"rsa": rsaKey.PublicKey(), "ed25519": s.hostSigner.PublicKey()} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			conn := connTo(s, key)
			conn["hostKey"] = resource.NewStringProperty(authorizedKey(pinned) + " root@host")
			state := h.mustCreate(inputs(conn, "create", "echo ok"))
			if got := outStr(state, "stdout"); got != "ok" {
				t.Errorf("stdout = %q", got)
			}
		})
	}
}

func TestDialRetriesUntilTheServerAppears(t *testing.T) {
	key := newClientKey(t, "")
	s := newTestServer(t, "late", key)
	// A free port, with nothing listening on it yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	host, port, _ := net.SplitHostPort(addr)

	started := make(chan struct{})
	var once sync.Once
	failures := countAttempts(t, func(attempt int) {
		// Start the server only once an attempt has failed against the closed port.
		once.Do(func() { s.listen(addr); close(started) })
	})
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	conn := resource.PropertyMap{
		"host": resource.NewStringProperty(host), "port": resource.NewNumberProperty(float64(portNum)),
		"privateKey": resource.NewStringProperty(key.pem), "dialErrorLimit": resource.NewNumberProperty(5),
	}
	state := h.mustCreate(inputs(conn, "create", "echo $SERVER_NAME"))
	<-started
	if got := outStr(state, "stdout"); got != "late" {
		t.Errorf("stdout = %q", got)
	}
	if n := failures(); n < 1 {
		t.Errorf("%d failed attempts, want at least 1", n)
	}
}

func TestDialGivesUpAfterDialErrorLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	key := newClientKey(t, "")
	for _, tc := range []struct{ limit, want int }{{3, 3}, {0, 1}, {-1, 1}} {
		failures := countAttempts(t, nil)
		c := connection{Host: "127.0.0.1", Port: port, User: "root", PrivateKey: key.pem,
			DialErrorLimit: tc.limit, PerDialTimeout: 2}
		_, err := dialConnection(boundedCtx(t), c)
		if err == nil {
			t.Fatalf("limit %d: dial to a closed port succeeded", tc.limit)
		}
		if n := failures(); n != tc.want {
			t.Errorf("dialErrorLimit %d: %d attempts, want %d (%v)", tc.limit, n, tc.want, err)
		}
		wantContains(t, err.Error(), "giving up after")
	}
}

func TestPerDialTimeoutBoundsAStuckHandshake(t *testing.T) {
	// A listener that accepts and then says nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	failures := countAttempts(t, nil)
	key := newClientKey(t, "")
	c := connection{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "root",
		PrivateKey: key.pem, DialErrorLimit: 2, PerDialTimeout: 1}
	start := time.Now()
	_, err = dialConnection(boundedCtx(t), c)
	if err == nil {
		t.Fatal("a silent server was accepted")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("two 1 s attempts took %v", d)
	}
	if n := failures(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	wantContains(t, err.Error(), "deadline exceeded")
}

// bastionAndTarget: two listening servers that accept key, named bastion and target.
func bastionAndTarget(t *testing.T) (key clientKey, bastion, target *testServer) {
	t.Helper()
	key = newClientKey(t, "")
	return key, startTestServer(t, "bastion", key), startTestServer(t, "target", key)
}

// proxyTo: the `proxy` input of a connection through bastion, with what else it says (auth).
func proxyTo(bastion *testServer, more resource.PropertyMap) resource.PropertyValue {
	p := resource.PropertyMap{
		"host": resource.NewStringProperty(bastion.host),
		"port": resource.NewNumberProperty(float64(bastion.port)),
	}
	for k, v := range more {
		p[k] = v
	}
	return resource.NewObjectProperty(p)
}

func TestProxyHop(t *testing.T) {
	key, bastion, target := bastionAndTarget(t)
	h := newHarness(t)
	conn := connTo(target, key)
	conn["hostKey"] = resource.NewStringProperty(authorizedKey(target.hostSigner.PublicKey()))
	conn["proxy"] = proxyTo(bastion, resource.PropertyMap{
		"user":     resource.NewStringProperty("jump"),
		"password": resource.MakeSecret(resource.NewStringProperty(testPassword)),
		"hostKey":  resource.NewStringProperty(authorizedKey(bastion.hostSigner.PublicKey())),
	})
	state := h.mustCreate(inputs(conn, "create", "echo $SERVER_NAME"))
	if got := outStr(state, "stdout"); got != "target" {
		t.Errorf("stdout = %q, want the target's name", got)
	}
	if _, _, execs, direct := bastion.counts(); execs != 0 || direct != 1 {
		t.Errorf("bastion: %d commands, %d forwarded connections; want 0 and 1", execs, direct)
	}
	if _, hs, execs, _ := target.counts(); hs != 1 || execs != 1 {
		t.Errorf("target: %d handshakes, %d commands; want 1 and 1", hs, execs)
	}
}

func TestProxyWithWrongTargetKeyIsRefused(t *testing.T) {
	key, bastion, target := bastionAndTarget(t)
	h := newHarness(t)
	conn := connTo(target, key)
	conn["hostKey"] = resource.NewStringProperty(authorizedKey(bastion.hostSigner.PublicKey()))
	conn["proxy"] = proxyTo(bastion, resource.PropertyMap{"privateKey": resource.NewStringProperty(key.pem)})
	_, err := h.create(inputs(conn, "create", "true"))
	if err == nil {
		t.Fatal("wrong target host key accepted through the proxy")
	}
	wantContains(t, err.Error(), "host key mismatch", target.ln.Addr().String())
}

func TestAuthMethods(t *testing.T) {
	encrypted := newClientKey(t, "open sesame")
	s := startTestServer(t, "auth", encrypted)
	h := newHarness(t)

	conn := connTo(s, encrypted)
	conn["privateKeyPassword"] = resource.MakeSecret(resource.NewStringProperty("open sesame"))
	if st := h.mustCreate(inputs(conn, "create", "echo key")); outStr(st, "stdout") != "key" {
		t.Errorf("encrypted key: %v", st)
	}

	pw := connTo(s, encrypted)
	delete(pw, "privateKey")
	pw["password"] = resource.MakeSecret(resource.NewStringProperty(testPassword))
	if st := h.mustCreate(inputs(pw, "create", "echo pw")); outStr(st, "stdout") != "pw" {
		t.Errorf("password: %v", st)
	}

	// ssh-agent, by agentSocketPath.
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: encrypted.priv}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); _ = c.Close() }()
		}
	}()
	viaAgent := connTo(s, encrypted)
	delete(viaAgent, "privateKey")
	viaAgent["agentSocketPath"] = resource.NewStringProperty(sock)
	t.Setenv("SSH_AUTH_SOCK", "")
	if st := h.mustCreate(inputs(viaAgent, "create", "echo agent")); outStr(st, "stdout") != "agent" {
		t.Errorf("agent: %v", st)
	}

	none := connTo(s, encrypted)
	delete(none, "privateKey")
	_, err = h.create(inputs(none, "create", "true"))
	if err == nil || !strings.Contains(err.Error(), "no way to authenticate") {
		t.Errorf("no credentials: %v", err)
	}
}

func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testCallBound)
	t.Cleanup(cancel)
	return ctx
}
