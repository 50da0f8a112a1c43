package main

// Running one command in an SSH session: environment, stdin, output captured and streamed to
// the engine's log line by line, and an error that says what failed without leaking output
// that is not logged.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"golang.org/x/crypto/ssh"
)

// Tail lengths of the outputs quoted in an error.
const errorTailLines = 20

// logFunc sends one message to the engine's log for the resource at hand.
type logFunc func(sev diag.Severity, msg string)

// runSpec is one command to run.
type runSpec struct {
	Command    string
	Env        map[string]string // from the "environment" input: a refusal fails the command
	PrevOutEnv map[string]string // PULUMI_COMMAND_STDOUT/STDERR: a refusal is a warning
	HasStdin   bool
	Stdin      string
	LogStdout  bool
	LogStderr  bool
	Where      string // user@host:port, for messages
}

// runRemote runs r on client and returns its stdout and stderr, each without one trailing
// newline. A non-zero exit is an error (see commandError).
func runRemote(ctx context.Context, client *ssh.Client, r runSpec, log logFunc) (string, string, error) {
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("open an SSH session on %s: %w", r.Where, err)
	}
	defer session.Close()

	// As pulumi-command 1.x does: a variable of `environment` that the server refuses is an
	// error; the previous outputs are sent only when not empty, and a refusal is a warning.
	if err := setEnv(session, r.Env, r.Where, diag.Error, log); err != nil {
		return "", "", err
	}
	_ = setEnv(session, r.PrevOutEnv, r.Where, diag.Warning, log)
	if r.HasStdin {
		session.Stdin = strings.NewReader(r.Stdin)
	}
	var outBuf, errBuf bytes.Buffer
	outLog := &lineLogger{enabled: r.LogStdout, log: log}
	errLog := &lineLogger{enabled: r.LogStderr, log: log}
	session.Stdout = &teeWriter{buf: &outBuf, lines: outLog}
	session.Stderr = &teeWriter{buf: &errBuf, lines: errLog}

	if err := session.Start(r.Command); err != nil {
		return "", "", fmt.Errorf("start %s on %s: %w", describeCommand(r.Command), r.Where, err)
	}
	done := make(chan error, 1)
	go func() { done <- session.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGKILL)
		_ = session.Close()
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return "", "", fmt.Errorf("%s on %s was cancelled: %w", describeCommand(r.Command), r.Where, context.Cause(ctx))
	}
	outLog.flush()
	errLog.flush()
	stdout := strings.TrimSuffix(outBuf.String(), "\n")
	stderr := strings.TrimSuffix(errBuf.String(), "\n")
	if err != nil {
		return stdout, stderr, commandError(r, err, stdout, stderr)
	}
	return stdout, stderr, nil
}

func setEnv(s *ssh.Session, env map[string]string, where string, sev diag.Severity, log logFunc) error {
	keys := make([]string, 0, len(env))
	for k, v := range env {
		if v != "" || sev == diag.Error {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := s.Setenv(k, env[k]); err != nil {
			log(sev, fmt.Sprintf("Unable to set '%s' on %s. This only works if the SSH server accepts the variable "+
				"(sshd_config AcceptEnv); or prefix the command itself with it: 'VAR=value command'", k, where))
			if sev == diag.Error {
				return fmt.Errorf("could not set environment variable %q on %s: %w", k, where, err)
			}
		}
	}
	return nil
}

// commandError describes a failed run: exit status, the first line of the command, the last
// lines of stderr, and those of stdout only when stdout is logged anyway.
func commandError(r runSpec, err error, stdout, stderr string) error {
	var status string
	var exitErr *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &exitErr) && exitErr.Signal() != "":
		status = fmt.Sprintf("killed by signal %s", exitErr.Signal())
	case errors.As(err, &exitErr):
		status = fmt.Sprintf("exit status %d", exitErr.ExitStatus())
	case errors.As(err, &missing):
		status = "no exit status (the connection or the session was lost)"
	default:
		status = err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed on %s: %s", describeCommand(r.Command), r.Where, status)
	if t := tail(stderr, errorTailLines); t != "" {
		fmt.Fprintf(&b, "\nstderr (last lines):\n%s", t)
	} else {
		b.WriteString("\nstderr: (empty)")
	}
	if r.LogStdout {
		if t := tail(stdout, errorTailLines); t != "" {
			fmt.Fprintf(&b, "\nstdout (last lines):\n%s", t)
		}
	}
	return errors.New(b.String())
}

// describeCommand names a command by its first line only (commands may be long scripts).
func describeCommand(cmd string) string {
	lines := strings.Split(strings.Trim(cmd, "\n"), "\n")
	first := strings.TrimSpace(lines[0])
	if len(first) > 160 {
		first = first[:160] + "…"
	}
	if len(lines) > 1 {
		return fmt.Sprintf("command %q (+%d more lines)", first, len(lines)-1)
	}
	return fmt.Sprintf("command %q", first)
}

func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// teeWriter captures everything and feeds the line logger.
type teeWriter struct {
	buf   *bytes.Buffer
	lines *lineLogger
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	t.lines.write(p)
	return len(p), nil
}

// lineLogger sends whole lines to the engine log, when enabled.
type lineLogger struct {
	mu      sync.Mutex
	enabled bool
	log     logFunc
	partial []byte
}

func (l *lineLogger) write(p []byte) {
	if !l.enabled {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return
		}
		l.log(diag.Info, strings.TrimSuffix(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.enabled && len(l.partial) > 0 {
		l.log(diag.Info, string(l.partial))
	}
	l.partial = nil
}
