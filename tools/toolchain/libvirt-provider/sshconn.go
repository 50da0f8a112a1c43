package main

// A net.Conn carried by the stdin/stdout of a local ssh process (the qemu+ssh transport).

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// stderrLimit bounds how much of ssh's stderr is kept for error messages.
const stderrLimit = 8 << 10

type sshDialer struct {
	t    target
	last *pipeConn // the latest connection, for its stderr
}

func (d *sshDialer) Dial() (net.Conn, error) {
	cmd := exec.Command(d.t.Command, d.t.sshArgs()...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &pipeConn{cmd: cmd, in: stdin, out: stdout, stderr: &limitedBuffer{max: stderrLimit},
		where: d.t.Host}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", d.t.Command, err)
	}
	d.last = c
	return c, nil
}

// pipeConn is a process seen as a connection.
type pipeConn struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    io.ReadCloser
	stderr *limitedBuffer
	where  string

	closeOnce sync.Once
	closeErr  error
}

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.out.Read(b)
	if err == io.EOF {
		go c.Close() // reap the process
		if msg := strings.TrimSpace(c.stderr.String()); msg != "" {
			return n, fmt.Errorf("ssh to %s ended: %s: %w", c.where, msg, io.EOF)
		}
	}
	return n, err
}

func (c *pipeConn) Write(b []byte) (int, error) { return c.in.Write(b) }

func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() {
		_ = c.in.Close()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
	return c.closeErr
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr("ssh") }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.where) }

func (c *pipeConn) SetDeadline(t time.Time) error      { return os.ErrNoDeadline }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return os.ErrNoDeadline }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return os.ErrNoDeadline }

type pipeAddr string

func (a pipeAddr) Network() string { return "ssh" }
func (a pipeAddr) String() string  { return string(a) }

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stderrOf is what the latest ssh process said on stderr, once it has ended (it is ended
// first: a failed connection is not used again).
func (d *sshDialer) stderrOf() string {
	if d.last == nil {
		return ""
	}
	_ = d.last.Close()
	return strings.TrimSpace(d.last.stderr.String())
}
