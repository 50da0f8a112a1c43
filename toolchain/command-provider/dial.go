package main

// Dialing the SSH server of a connection: authentication, host key pinning, retries bounded by
// dialErrorLimit and perDialTimeout, and an optional hop through a bastion (proxy).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Pauses between two dial attempts: growing from retryPauseStep, at most retryPauseMax.
var (
	retryPauseStep = 250 * time.Millisecond
	retryPauseMax  = 5 * time.Second
)

// dialAttemptHook, when set (by tests), is told of each failed attempt.
var dialAttemptHook func(addr string, attempt int, err error)

// hostKeyMismatchError is returned when the server's key is not connection.hostKey. It is
// never retried.
type hostKeyMismatchError struct {
	host          string
	want, offered ssh.PublicKey
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the server presented %s %s but connection.hostKey is %s %s; "+
		"refusing to connect", e.host, e.offered.Type(), ssh.FingerprintSHA256(e.offered),
		e.want.Type(), ssh.FingerprintSHA256(e.want))
}

// sshClient is a connected client, plus the bastion client it goes through if any.
type sshClient struct {
	*ssh.Client
	proxy *ssh.Client
}

func (c *sshClient) Close() error {
	err := c.Client.Close()
	if c.proxy != nil {
		_ = c.proxy.Close()
	}
	return err
}

func (c connection) addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// dialConnection connects to c, through c.Proxy when set.
func dialConnection(ctx context.Context, c connection) (*sshClient, error) {
	if c.Proxy == nil {
		var d net.Dialer
		cl, err := dialWithRetries(ctx, c, func(actx context.Context) (net.Conn, error) {
			return d.DialContext(actx, "tcp", c.addr())
		})
		if err != nil {
			return nil, err
		}
		return &sshClient{Client: cl}, nil
	}
	proxy, err := dialConnection(ctx, *c.Proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	cl, err := dialWithRetries(ctx, c, func(actx context.Context) (net.Conn, error) {
		return proxy.DialContext(actx, "tcp", c.addr())
	})
	if err != nil {
		_ = proxy.Close()
		return nil, fmt.Errorf("via proxy %s: %w", c.Proxy.addr(), err)
	}
	return &sshClient{Client: cl, proxy: proxy.Client}, nil
}

// dialWithRetries opens a transport with open and runs the SSH handshake over it, at most
// c.DialErrorLimit times (1 when it is 0 or less), each attempt bounded by c.PerDialTimeout.
func dialWithRetries(ctx context.Context, c connection,
	open func(context.Context) (net.Conn, error),
) (*ssh.Client, error) {
	cfg, closeAuth, err := clientConfig(c)
	if err != nil {
		return nil, err // a configuration error: no use retrying
	}
	defer closeAuth()
	attempts := c.DialErrorLimit
	if attempts <= 0 {
		attempts = 1
	}
	for i := 1; ; i++ {
		cl, err := dialOnce(ctx, c, cfg, open)
		if err == nil {
			return cl, nil
		}
		if dialAttemptHook != nil {
			dialAttemptHook(c.addr(), i, err)
		}
		var mismatch *hostKeyMismatchError
		if errors.As(err, &mismatch) {
			return nil, mismatch
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s@%s: %w (last error: %v)", c.User, c.addr(), ctx.Err(), err)
		}
		if i >= attempts {
			return nil, fmt.Errorf("dial %s@%s: giving up after %d attempt(s) (dialErrorLimit %d): %w",
				c.User, c.addr(), i, c.DialErrorLimit, err)
		}
		pause := min(time.Duration(i)*retryPauseStep, retryPauseMax)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, fmt.Errorf("dial %s@%s: %w (last error: %v)", c.User, c.addr(), ctx.Err(), err)
		}
	}
}

// dialOnce is one attempt: transport, then handshake, both within PerDialTimeout.
func dialOnce(ctx context.Context, c connection, cfg *ssh.ClientConfig,
	open func(context.Context) (net.Conn, error),
) (*ssh.Client, error) {
	actx := ctx
	if c.PerDialTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, time.Duration(c.PerDialTimeout)*time.Second)
		defer cancel()
	}
	conn, err := open(actx)
	if err != nil {
		return nil, err
	}
	// The handshake has no context of its own: close the transport if the attempt runs out.
	stop := context.AfterFunc(actx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr(), cfg)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", c.addr(), context.Cause(actx))
	}
	if err != nil {
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// clientConfig builds the SSH client configuration of c; the returned func releases the
// ssh-agent connection, if one was opened.
func clientConfig(c connection) (*ssh.ClientConfig, func(), error) {
	cfg := &ssh.ClientConfig{User: c.User, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	closeAuth := func() {}
	if c.HostKey != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("connection.hostKey of %s is not a public key in authorized_keys format: %w", c.Host, err)
		}
		host := c.addr()
		cfg.HostKeyCallback = func(_ string, _ net.Addr, offered ssh.PublicKey) error {
			if !bytes.Equal(offered.Marshal(), want.Marshal()) {
				return &hostKeyMismatchError{host: host, want: want, offered: offered}
			}
			return nil
		}
		// Ask the server for the kind of key we pin, not whichever it prefers.
		if want.Type() == ssh.KeyAlgoRSA {
			cfg.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		} else {
			cfg.HostKeyAlgorithms = []string{want.Type()}
		}
	}
	if c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.PrivateKey), []byte(c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.PrivateKey))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("connection.privateKey for %s cannot be used: %w", c.Host, err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		pw := c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	sock := c.AgentSocketPath
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		ac, err := net.Dial("unix", sock)
		switch {
		case err == nil:
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
			closeAuth = func() { _ = ac.Close() }
		case c.AgentSocketPath != "":
			return nil, nil, fmt.Errorf("connection.agentSocketPath %s: %w", sock, err)
		}
	}
	if len(cfg.Auth) == 0 {
		return nil, nil, fmt.Errorf("no way to authenticate to %s: set connection.privateKey, "+
			"connection.password or an ssh-agent (connection.agentSocketPath or SSH_AUTH_SOCK)", c.Host)
	}
	return cfg, closeAuth, nil
}
