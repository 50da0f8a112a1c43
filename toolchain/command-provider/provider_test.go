package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

func startedServer(t *testing.T) (*testServer, clientKey) {
	key := newClientKey(t, "")
	return startTestServer(t, "main", key), key
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestLifecycleRunsTheRightCommands(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	env := map[string]any{"LOG": logPath}

	create := `echo "create" >> "$LOG"; echo out-create; echo err-create >&2`
	update := `echo "update prev=$PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR" >> "$LOG"; echo out-update`
	del := `echo "delete prev=$PULUMI_COMMAND_STDOUT" >> "$LOG"`
	news := inputs(connTo(s, key), "environment", env, "create", create, "update", update, "delete", del)
	state := h.mustCreate(news)
	if got := outStr(state, "stdout"); got != "out-create" {
		t.Errorf("stdout after create = %q", got)
	}
	if got := outStr(state, "stderr"); got != "err-create" {
		t.Errorf("stderr after create = %q", got)
	}
	if !state["connection"].IsSecret() {
		t.Errorf("connection is not secret in the state: %v", state["connection"])
	}

	// Update with an update command: it runs, with the previous outputs in its environment.
	news2 := inputs(connTo(s, key), "environment", env, "create", create, "update", update+" # v2", "delete", del)
	resp, err := h.p.Update(h.ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Type: remoteCommandToken, Id: "x",
		Olds: h.mustMarshal(state), News: h.check(news2), OldInputs: h.check(news),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	state2 := h.mustUnmarshal(resp.Properties)
	if got := outStr(state2, "stdout"); got != "out-update" {
		t.Errorf("stdout after update = %q", got)
	}
	if got := outStr(state2, "stderr"); got != "" {
		t.Errorf("stderr after update = %q", got)
	}

	// Update without an update command runs create again.
	news3 := inputs(connTo(s, key), "environment", env, "create", create+" # v3", "delete", del)
	resp, err = h.p.Update(h.ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Type: remoteCommandToken, Id: "x",
		Olds: h.mustMarshal(state2), News: h.check(news3),
	})
	if err != nil {
		t.Fatalf("Update (create again): %v", err)
	}
	state3 := h.mustUnmarshal(resp.Properties)

	if _, err := h.p.Delete(h.ctx, &pulumirpc.DeleteRequest{
		Urn: testURN, Type: remoteCommandToken, Id: "x", Properties: h.mustMarshal(state3),
	}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := []string{"create", "update prev=out-create/err-create", "create", "delete prev=out-create"}
	if got := readLog(t, logPath); !reflect.DeepEqual(got, want) {
		t.Errorf("commands run:\n got %q\nwant %q", got, want)
	}
}

func TestAddPreviousOutputInEnvFalse(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	news := inputs(connTo(s, key), "create", "echo first", "addPreviousOutputInEnv", false,
		"delete", `test -z "${PULUMI_COMMAND_STDOUT+set}" || { echo "leaked $PULUMI_COMMAND_STDOUT" >&2; exit 1; }`)
	state := h.mustCreate(news)
	if _, err := h.p.Delete(h.ctx, &pulumirpc.DeleteRequest{
		Urn: testURN, Type: remoteCommandToken, Id: "x", Properties: h.mustMarshal(state),
	}); err != nil {
		t.Fatalf("Delete saw PULUMI_COMMAND_STDOUT: %v", err)
	}
}

func TestDeleteWithoutCommandConnectsNowhere(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	state := h.mustCreate(inputs(connTo(s, key), "create", "true"))
	_, hs, _, _ := s.counts()
	if _, err := h.p.Delete(h.ctx, &pulumirpc.DeleteRequest{
		Urn: testURN, Type: remoteCommandToken, Id: "x", Properties: h.mustMarshal(state),
	}); err != nil {
		t.Fatal(err)
	}
	if _, hs2, _, _ := s.counts(); hs2 != hs {
		t.Errorf("Delete without a delete command connected (%d -> %d handshakes)", hs, hs2)
	}
}

func TestStdinReachesTheCommand(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	state := h.mustCreate(inputs(connTo(s, key), "create", "tr a-z A-Z", "stdin", "hello\nworld\n"))
	if got := outStr(state, "stdout"); got != "HELLO\nWORLD" {
		t.Errorf("stdout = %q", got)
	}
}

func TestOutputsLoseOneTrailingNewline(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	state := h.mustCreate(inputs(connTo(s, key), "create", `printf 'a\n\n'; printf 'e1\ne2\n' >&2`))
	if got := outStr(state, "stdout"); got != "a\n" {
		t.Errorf("stdout = %q, want %q", got, "a\n")
	}
	if got := outStr(state, "stderr"); got != "e1\ne2" {
		t.Errorf("stderr = %q", got)
	}
}

const failingScript = "set -e # first line\necho TOPSECRET-token\necho boom >&2\nexit 3"

func TestFailureWithoutLoggingLeaksNoStdout(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	_, err := h.create(inputs(connTo(s, key), "create", failingScript, "logging", "none"))
	if err == nil {
		t.Fatal("a command exiting 3 did not fail")
	}
	msg := err.Error()
	wantContains(t, msg, "exit status 3", "set -e # first line", "boom", "+3 more lines", "tester@127.0.0.1")
	wantNotContains(t, msg, "TOPSECRET", "exit 3")
	if got := h.log.messages(diag.Info); len(got) != 0 {
		t.Errorf("logging none logged %q", got)
	}
}

func TestDescribeCommandShowsTheFirstLine(t *testing.T) {
	for cmd, want := range map[string]string{
		"true":                      `command "true"`,
		"\n\n  set -eu\nrm -rf x\n": `command "set -eu" (+1 more lines)`,
		strings.Repeat("x", 300):    `command "` + strings.Repeat("x", 160) + `…"`,
	} {
		if got := describeCommand(cmd); got != want {
			t.Errorf("describeCommand(%q) = %s, want %s", cmd, got, want)
		}
	}
}

func TestFailureWithStdoutLoggingQuotesStdout(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	_, err := h.create(inputs(connTo(s, key), "create", failingScript))
	if err == nil {
		t.Fatal("a command exiting 3 did not fail")
	}
	wantContains(t, err.Error(), "exit status 3", "boom", "TOPSECRET-token")
}

func TestFailureQuotesOnlyTheLastStderrLines(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	_, err := h.create(inputs(connTo(s, key), "create", `i=1; while [ $i -le 50 ]; do echo "line-$i" >&2; i=$((i+1)); done; exit 1`))
	if err == nil {
		t.Fatal("no error")
	}
	wantContains(t, err.Error(), "line-50", "line-31", "30 earlier lines")
	wantNotContains(t, err.Error(), "line-30\n")
}

func TestLoggingChoosesStreams(t *testing.T) {
	s, key := startedServer(t)
	script := `echo o1; echo e1 >&2; echo o2; printf 'e2-no-newline' >&2`
	for _, tc := range []struct {
		logging string
		want    []string
	}{
		{"", []string{"o1", "o2", "e1", "e2-no-newline"}},
		{"stdoutAndStderr", []string{"o1", "o2", "e1", "e2-no-newline"}},
		{"stdout", []string{"o1", "o2"}},
		{"stderr", []string{"e1", "e2-no-newline"}},
		{"none", nil},
	} {
		t.Run("logging="+tc.logging, func(t *testing.T) {
			h := newHarness(t)
			news := inputs(connTo(s, key), "create", script)
			if tc.logging != "" {
				news["logging"] = resource.NewStringProperty(tc.logging)
			}
			h.mustCreate(news)
			got := h.log.messages(diag.Info)
			// stdout and stderr interleave freely: compare as sets.
			if !sameSet(got, tc.want) {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestRefusedEnvironmentFailsTheCommandAsUpstreamDoes(t *testing.T) {
	key := newClientKey(t, "")
	s := newTestServer(t, "main", key)
	s.refuseEnv = func(name string) bool { return strings.HasPrefix(name, "REFUSED_") }
	s.listen("127.0.0.1:0")
	h := newHarness(t)
	checked := h.check(inputs(connTo(s, key), "create", `echo "${REFUSED_X:-unset} $OK_Y"`,
		"environment", map[string]any{"REFUSED_X": "1", "OK_Y": "yes"}))
	_, err := h.p.Create(h.ctx, &pulumirpc.CreateRequest{Urn: testURN, Type: remoteCommandToken, Properties: checked})
	if err == nil || !strings.Contains(err.Error(), "REFUSED_X") {
		t.Fatalf("create with a refused environment variable: err = %v", err)
	}
	if _, _, execs, _ := s.counts(); execs != 0 {
		t.Errorf("the command ran %d times", execs)
	}
	errs := h.log.messages(diag.Error)
	if len(errs) != 1 || !strings.Contains(errs[0], "Unable to set 'REFUSED_X'") {
		t.Errorf("errors = %q", errs)
	}
}

// Upstream sends the previous stdout/stderr to update and delete when addPreviousOutputInEnv is
// true (the default) and they are not empty; sshd refuses them by default: one warning each.
func TestRefusedPreviousOutputIsAWarningPerVariableAsUpstreamDoes(t *testing.T) {
	key := newClientKey(t, "")
	s := newTestServer(t, "main", key)
	s.refuseEnv = func(name string) bool { return strings.HasPrefix(name, "PULUMI_COMMAND_") }
	s.listen("127.0.0.1:0")
	for _, tc := range []struct {
		add      bool
		warnings int
	}{{true, 1}, {false, 0}} {
		h := newHarness(t)
		news := inputs(connTo(s, key), "create", "echo out", "delete", "true", "addPreviousOutputInEnv", tc.add)
		state := h.mustCreate(news)
		if _, err := h.p.Delete(h.ctx, &pulumirpc.DeleteRequest{Urn: testURN, Type: remoteCommandToken, Id: "x",
			Properties: h.mustMarshal(state)}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		warnings := h.log.messages(diag.Warning)
		// stdout "out" is sent; stderr is empty and is not.
		if len(warnings) != tc.warnings || (tc.warnings > 0 && !strings.Contains(warnings[0], "Unable to set 'PULUMI_COMMAND_STDOUT'")) {
			t.Errorf("addPreviousOutputInEnv=%v: warnings = %q", tc.add, warnings)
		}
	}
}

func TestCancelStopsARunningCommand(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	checked := h.check(inputs(connTo(s, key), "create", "sleep 60"))
	errc := make(chan error, 1)
	go func() {
		_, err := h.p.Create(h.ctx, &pulumirpc.CreateRequest{
			Urn: testURN, Type: remoteCommandToken, Properties: checked,
		})
		errc <- err
	}()
	// Cancel once the command runs.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, execs, _ := s.counts(); execs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := h.p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "cancel") {
			t.Errorf("Create after Cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Cancel did not stop Create")
	}
}

func TestCustomTimeoutBoundsTheCommand(t *testing.T) {
	s, key := startedServer(t)
	h := newHarness(t)
	start := time.Now()
	_, err := h.p.Create(h.ctx, &pulumirpc.CreateRequest{
		Urn: testURN, Type: remoteCommandToken, Timeout: 1,
		Properties: h.check(inputs(connTo(s, key), "create", "sleep 60")),
	})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Create with a 1 s timeout: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestOtherTokensAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, tok := range []string{"command:local:Command", "command:remote:CopyFile", "command:remote:CopyToRemote"} {
		_, err := h.p.Check(h.ctx, &pulumirpc.CheckRequest{
			Urn: "urn:pulumi:dev::proj::" + tok + "::x", Type: tok, News: h.mustMarshal(resource.PropertyMap{}),
		})
		if err == nil {
			t.Errorf("Check of %s succeeded", tok)
			continue
		}
		wantContains(t, err.Error(), tok, "implements only command:remote:Command")
	}
	// The type may come from the URN alone (older engines).
	_, err := h.p.Check(h.ctx, &pulumirpc.CheckRequest{
		Urn: "urn:pulumi:dev::proj::command:local:Command::x", News: h.mustMarshal(resource.PropertyMap{}),
	})
	if err == nil {
		t.Error("Check of command:local:Command (type from the URN) succeeded")
	}
}

func TestPluginInfoSchemaConfigure(t *testing.T) {
	h := newHarness(t)
	info, err := h.p.GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.Version != "1.2.3-test" {
		t.Errorf("GetPluginInfo = %v, %v", info, err)
	}
	cfg, err := h.p.Configure(context.Background(), &pulumirpc.ConfigureRequest{AcceptSecrets: true})
	if err != nil || !cfg.AcceptSecrets || cfg.SupportsPreview {
		t.Errorf("Configure = %v, %v", cfg, err)
	}
	sch, err := h.p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name      string
		Version   string
		Resources map[string]struct {
			InputProperties map[string]any
			Properties      map[string]any
		}
	}
	if err := json.Unmarshal([]byte(sch.Schema), &doc); err != nil {
		t.Fatal(err)
	}
	r, ok := doc.Resources[remoteCommandToken]
	if doc.Name != "command" || doc.Version != "1.2.3-test" || !ok {
		t.Fatalf("schema: name %q version %q resources %v", doc.Name, doc.Version, doc.Resources)
	}
	for k := range commandFields {
		if _, ok := r.InputProperties[k]; !ok {
			t.Errorf("schema lacks input %s", k)
		}
	}
	for _, k := range []string{"stdout", "stderr", "connection"} {
		if _, ok := r.Properties[k]; !ok {
			t.Errorf("schema lacks output %s", k)
		}
	}
}

func TestReadReturnsStateUnchanged(t *testing.T) {
	h := newHarness(t)
	state := h.mustMarshal(resource.PropertyMap{"create": resource.NewStringProperty("x"), "stdout": resource.NewStringProperty("y")})
	resp, err := h.p.Read(h.ctx, &pulumirpc.ReadRequest{
		Id: "id1", Urn: testURN, Type: remoteCommandToken, Properties: state, Inputs: state,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Id != "id1" || !reflect.DeepEqual(h.mustUnmarshal(resp.Properties), h.mustUnmarshal(state)) {
		t.Errorf("Read = %v", resp)
	}
}
