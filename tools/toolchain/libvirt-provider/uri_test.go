package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	cases := []struct {
		uri  string
		want target
	}{
		{"", target{Open: "qemu:///system", Transport: "unix", Socket: systemSocket}},
		{"qemu:///system?socket=/tmp/s", target{Open: "qemu:///system", Transport: "unix", Socket: "/tmp/s"}},
		{"test:///default?socket=/tmp/s", target{Open: "test:///default", Transport: "unix", Socket: "/tmp/s"}},
		{"qemu+unix:///system?socket=/tmp/s", target{Open: "qemu:///system", Transport: "unix", Socket: "/tmp/s"}},
		{"qemu+ssh://ops@lab:2222/system?keyfile=/k&no_verify=1", target{Open: "qemu:///system", Transport: "ssh",
			User: "ops", Host: "lab", Port: "2222", KeyFile: "/k", NoVerify: true, Command: "ssh", Netcat: "nc", Proxy: "auto"}},
		{"qemu+ssh://lab/system?proxy=netcat", target{Open: "qemu:///system", Transport: "ssh", Host: "lab",
			Socket: systemSocket, Command: "ssh", Netcat: "nc", Proxy: "netcat"}},
	}
	for _, c := range cases {
		got, err := parseURI(c.uri)
		if err != nil {
			t.Errorf("%q: %v", c.uri, err)
			continue
		}
		if c.uri == "" { // the local socket depends on what runs here
			got.Socket = c.want.Socket
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.uri, got, c.want)
		}
	}
	for _, bad := range []string{"qemu://host/system", "qemu+tls://host/system", "qemu+ssh:///system",
		"qemu+unix://host/system", "qemu+ssh://h/system?proxy=other", "://x"} {
		if _, err := parseURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSSHCommandLine(t *testing.T) {
	tg, err := parseURI("qemu+ssh://ops@lab:2222/system?keyfile=/keys/id&known_hosts=/kh")
	if err != nil {
		t.Fatal(err)
	}
	args := tg.sshArgs()
	joined := strings.Join(args, " ")
	for _, want := range []string{"-o BatchMode=yes", "-p 2222", "-l ops", "-i /keys/id", "-o UserKnownHostsFile=/kh", "-- lab "} {
		if !strings.Contains(joined, want) {
			t.Errorf("ssh args %q lack %q", joined, want)
		}
	}
	remote := args[len(args)-1]
	if !strings.Contains(remote, "virt-ssh-helper qemu:///system") || !strings.Contains(remote, "nc -U "+systemSocket) {
		t.Errorf("remote command %q", remote)
	}
	tg, _ = parseURI("qemu+ssh://lab/system?socket=/run/libvirt/virtqemud-sock&netcat=/bin/nc.openbsd")
	if got := tg.sshArgs(); got[len(got)-1] != "/bin/nc.openbsd -U /run/libvirt/virtqemud-sock" {
		t.Errorf("netcat command %q", got[len(got)-1])
	}
	if shellQuote("it's") != `'it'\''s'` || shellQuote("plain/path") != "plain/path" || shellQuote("") != "''" {
		t.Error("shellQuote")
	}
}

// fakeSSH writes a script standing in for ssh: it records its arguments and runs body.
func fakeSSH(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	script := filepath.Join(dir, "ssh")
	content := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" + body + "\n"
	if err := os.WriteFile(script, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, argsFile
}

func TestSSHDialerCarriesBytesThroughTheProcess(t *testing.T) {
	script, argsFile := fakeSSH(t, "exec cat")
	tg, err := parseURI("qemu+ssh://ops@lab/system?command=" + script)
	if err != nil {
		t.Fatal(err)
	}
	d := &sshDialer{t: tg}
	conn, err := d.Dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo %q %v", buf, err)
	}
	if err := conn.Close(); err != nil {
		t.Error(err)
	}
	recorded, _ := os.ReadFile(argsFile)
	if !strings.Contains(string(recorded), "BatchMode=yes\n") || !strings.Contains(string(recorded), "lab\n") {
		t.Errorf("ssh ran with %q", recorded)
	}
}

func TestSSHFailureShowsWhatSSHSaid(t *testing.T) {
	script, _ := fakeSSH(t, "echo 'Permission denied (publickey).' >&2; exit 255")
	_, err := dial("qemu+ssh://ops@lab/system?command=" + script)
	if err == nil || !strings.Contains(err.Error(), "Permission denied (publickey)") {
		t.Errorf("dial error %v", err)
	}
}
