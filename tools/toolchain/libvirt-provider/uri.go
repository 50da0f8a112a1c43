package main

// Libvirt connection URIs (https://libvirt.org/uri.html): which transport to dial and which
// driver URI to open once connected.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

const (
	defaultURI          = "qemu:///system"
	systemSocket        = "/var/run/libvirt/libvirt-sock"
	defaultSSHCommand   = "ssh"
	defaultNetcat       = "nc"
	proxyAuto           = "auto"
	proxyNetcat         = "netcat"
	proxyNative         = "native"
	sshHelperBinaryName = "virt-ssh-helper"
)

// target is a parsed connection URI.
type target struct {
	// Open is the URI passed to the daemon's ConnectOpen (no transport, no host).
	Open string
	// Transport is "unix" or "ssh".
	Transport string
	// Socket is the daemon socket: local for unix, on the remote host for ssh ("" for ssh: the
	// remote helper picks it).
	Socket string
	// SSH fields.
	User, Host, Port string
	KeyFile          string
	KnownHosts       string
	NoVerify         bool
	Command          string // the local ssh binary
	Netcat           string // the remote netcat binary
	Proxy            string // auto, netcat or native
}

func parseURI(raw string) (target, error) {
	if raw == "" {
		raw = defaultURI
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("libvirt uri %q: %w", raw, err)
	}
	if u.Scheme == "" {
		return target{}, fmt.Errorf("libvirt uri %q: no driver (e.g. qemu:///system)", raw)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	q := u.Query()
	t := target{Transport: transport}
	if t.Transport == "" {
		t.Transport = "unix"
		if u.Host != "" {
			return target{}, fmt.Errorf("libvirt uri %q: a remote host without a transport means TLS, which this "+
				"build does not implement; use %s+ssh://user@%s%s", raw, driver, u.Host, u.Path)
		}
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	t.Open = driver + "://" + path
	if name := q.Get("name"); name != "" {
		t.Open = name
	}
	switch t.Transport {
	case "unix":
		if u.Host != "" {
			return target{}, fmt.Errorf("libvirt uri %q: the unix transport takes no host", raw)
		}
		t.Socket = q.Get("socket")
		if t.Socket == "" {
			t.Socket = localSocket(driver, path)
		}
	case "ssh":
		if u.Hostname() == "" {
			return target{}, fmt.Errorf("libvirt uri %q: the ssh transport needs a host", raw)
		}
		t.Host = u.Hostname()
		t.Port = u.Port()
		if u.User != nil {
			t.User = u.User.Username()
		}
		t.Socket = q.Get("socket")
		t.KeyFile = q.Get("keyfile")
		t.KnownHosts = q.Get("known_hosts")
		t.NoVerify = q.Get("no_verify") == "1"
		t.Command = orDefault(q.Get("command"), defaultSSHCommand)
		t.Netcat = orDefault(q.Get("netcat"), defaultNetcat)
		t.Proxy = orDefault(q.Get("proxy"), proxyAuto)
		if t.Proxy != proxyAuto && t.Proxy != proxyNetcat && t.Proxy != proxyNative {
			return target{}, fmt.Errorf("libvirt uri %q: proxy must be auto, netcat or native", raw)
		}
		if t.Socket == "" && t.Proxy == proxyNetcat {
			t.Socket = systemSocket
		}
	default:
		return target{}, fmt.Errorf("libvirt uri %q: transport %q is not implemented by this build "+
			"(only unix, the default, and ssh)", raw, transport)
	}
	return t, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// localSocket is the socket a local client of driver uses: the per-user daemon's for
// /session, else libvirtd's, or the modular daemon's when only that one listens.
func localSocket(driver, path string) string {
	if path == "/session" {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			home, _ := os.UserHomeDir()
			dir = filepath.Join(home, ".cache")
		}
		return filepath.Join(dir, "libvirt", "libvirt-sock")
	}
	if _, err := os.Stat(systemSocket); err != nil {
		modular := filepath.Join(filepath.Dir(systemSocket), "virt"+driver+"d-sock")
		if _, err := os.Stat(modular); err == nil {
			return modular
		}
	}
	return systemSocket
}

// sshArgs is the command line that reaches the remote daemon: ssh runs a proxy on the host
// whose stdin/stdout carry the libvirt RPC stream, as libvirt's own client does.
func (t target) sshArgs() []string {
	args := []string{"-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"}
	if t.Port != "" {
		args = append(args, "-p", t.Port)
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	if t.KeyFile != "" {
		args = append(args, "-i", t.KeyFile)
	}
	if t.KnownHosts != "" {
		args = append(args, "-o", "UserKnownHostsFile="+t.KnownHosts)
	}
	if t.NoVerify {
		args = append(args, "-o", "StrictHostKeyChecking=no")
	}
	return append(args, "--", t.Host, t.remoteCommand())
}

// remoteCommand is run by the remote user's shell.
func (t target) remoteCommand() string {
	netcat := shellQuote(t.Netcat) + " -U " + shellQuote(orDefault(t.Socket, systemSocket))
	native := sshHelperBinaryName + " " + shellQuote(t.Open)
	switch {
	case t.Proxy == proxyNetcat || t.Socket != "":
		return netcat
	case t.Proxy == proxyNative:
		return native
	}
	script := "if command -v " + sshHelperBinaryName + " >/dev/null 2>&1; then exec " + native +
		"; else exec " + netcat + "; fi"
	return "sh -c " + shellQuote(script)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
