package main

// An in-process SSH server for the tests: public-key and password auth, "env" and "exec"
// requests run with /bin/sh, and "direct-tcpip" channels (so it can be a bastion).

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

const testPassword = "pw-for-tests"

type testServer struct {
	t          *testing.T
	ln         net.Listener
	host       string
	port       int
	name       string // given to commands as SERVER_NAME
	hostSigner ssh.Signer
	config     *ssh.ServerConfig
	refuseEnv  func(name string) bool

	mu          sync.Mutex
	accepted    int
	handshakes  int
	execs       int
	directTCPIP int
	conns       []net.Conn
}

type clientKey struct {
	priv   ed25519.PrivateKey
	pem    string
	signer ssh.Signer
}

func newClientKey(t *testing.T, passphrase string) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	} else {
		block, err = ssh.MarshalPrivateKey(priv, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv: priv, pem: string(pem.EncodeToMemory(block)), signer: mustSigner(t, priv)}
}

func newEd25519Signer(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return mustSigner(t, priv)
}

func newRSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return mustSigner(t, priv)
}

// mustSigner: the ssh.Signer of a private key.
func mustSigner(t *testing.T, priv any) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// newTestServer makes a server (not yet listening) that accepts key and testPassword.
func newTestServer(t *testing.T, name string, key clientKey) *testServer {
	t.Helper()
	s := &testServer{t: t, name: name, hostSigner: newEd25519Signer(t)}
	want := key.signer.PublicKey().Marshal()
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == testPassword {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	s.config.AddHostKey(s.hostSigner)
	return s
}

// listen starts serving on addr ("127.0.0.1:0" for any port).
// startTestServer: a server that accepts key and testPassword, listening on a free port of 127.0.0.1.
func startTestServer(t *testing.T, name string, key clientKey) *testServer {
	t.Helper()
	s := newTestServer(t, name, key)
	s.listen("127.0.0.1:0")
	return s
}

func (s *testServer) listen(addr string) {
	s.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ln = ln
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	s.t.Cleanup(s.close)
	go s.serve()
}

func (s *testServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *testServer) counts() (accepted, handshakes, execs, direct int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted, s.handshakes, s.execs, s.directTCPIP
}

func (s *testServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepted++
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handleConn(c)
	}
}

func (s *testServer) handleConn(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		_ = c.Close()
		return
	}
	defer sc.Close()
	s.mu.Lock()
	s.handshakes++
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.handleSession(nc)
		case "direct-tcpip":
			go s.handleDirect(nc)
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *testServer) handleDirect(nc ssh.NewChannel) {
	var p struct {
		DestAddr string
		DestPort uint32
		OrigAddr string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	target, err := net.Dial("tcp", net.JoinHostPort(p.DestAddr, strconv.Itoa(int(p.DestPort))))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = target.Close()
		return
	}
	s.mu.Lock()
	s.directTCPIP++
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	go func() { _, _ = io.Copy(target, ch); _ = target.(*net.TCPConn).CloseWrite() }()
	_, _ = io.Copy(ch, target)
	_ = ch.Close()
	_ = target.Close()
}

func (s *testServer) handleSession(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SERVER_NAME=" + s.name}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &kv) == nil && (s.refuseEnv == nil || !s.refuseEnv(kv.Name))
			if ok {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(ok, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			s.mu.Lock()
			s.execs++
			s.mu.Unlock()
			code := runShell(ch, cmd.Command, env)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func runShell(ch ssh.Channel, command string, env []string) int {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	go func() { _, _ = io.Copy(stdin, ch); _ = stdin.Close() }()
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}
