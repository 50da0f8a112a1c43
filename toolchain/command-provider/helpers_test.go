package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

const testURN = "urn:pulumi:dev::proj::command:remote:Command::cmd"

type logEntry struct {
	sev diag.Severity
	msg string
}

// recorder stands in for the engine's log.
type recorder struct {
	mu      sync.Mutex
	entries []logEntry
}

func (r *recorder) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, logEntry{sev, msg})
	return nil
}

func (r *recorder) messages(sev diag.Severity) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.entries {
		if e.sev == sev {
			out = append(out, e.msg)
		}
	}
	return out
}

type harness struct {
	t   *testing.T
	p   *commandProvider
	log *recorder
	ctx context.Context // bounds every call, so that a hang fails the test
}

const testCallBound = 30 * time.Second

func newHarness(t *testing.T) *harness {
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), testCallBound)
	t.Cleanup(cancel)
	return &harness{t: t, p: newProvider(rec, "1.2.3-test"), log: rec, ctx: ctx}
}

// connTo is a connection object for s, authenticating with key.
func connTo(s *testServer, key clientKey) resource.PropertyMap {
	return resource.PropertyMap{
		"host":           resource.NewStringProperty(s.host),
		"port":           resource.NewNumberProperty(float64(s.port)),
		"user":           resource.NewStringProperty("tester"),
		"privateKey":     resource.MakeSecret(resource.NewStringProperty(key.pem)),
		"dialErrorLimit": resource.NewNumberProperty(2),
		"perDialTimeout": resource.NewNumberProperty(5),
	}
}

// inputs builds the inputs of a command the way the Python SDK sends them (connection secret).
func inputs(conn resource.PropertyMap, kv ...any) resource.PropertyMap {
	m := resource.PropertyMap{"connection": resource.MakeSecret(resource.NewObjectProperty(conn))}
	for i := 0; i < len(kv); i += 2 {
		if v, ok := kv[i+1].(resource.PropertyValue); ok {
			m[resource.PropertyKey(kv[i].(string))] = v
		} else {
			m[resource.PropertyKey(kv[i].(string))] = resource.NewPropertyValue(kv[i+1])
		}
	}
	return m
}

func (h *harness) mustMarshal(m resource.PropertyMap) *structpb.Struct {
	h.t.Helper()
	s, err := marshal("test", m)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) mustUnmarshal(s *structpb.Struct) resource.PropertyMap {
	h.t.Helper()
	m, err := unmarshal("test", s)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// check runs Check and fails the test on check failures.
func (h *harness) check(news resource.PropertyMap) *structpb.Struct {
	h.t.Helper()
	resp, err := h.p.Check(h.ctx, &pulumirpc.CheckRequest{
		Urn: testURN, Type: remoteCommandToken, News: h.mustMarshal(news),
	})
	if err != nil {
		h.t.Fatalf("Check: %v", err)
	}
	if len(resp.Failures) > 0 {
		h.t.Fatalf("Check failures: %v", resp.Failures)
	}
	return resp.Inputs
}

func (h *harness) create(news resource.PropertyMap) (resource.PropertyMap, error) {
	h.t.Helper()
	resp, err := h.p.Create(h.ctx, &pulumirpc.CreateRequest{
		Urn: testURN, Type: remoteCommandToken, Properties: h.check(news),
	})
	if err != nil {
		return nil, err
	}
	if resp.Id == "" {
		h.t.Fatal("Create returned no id")
	}
	return h.mustUnmarshal(resp.Properties), nil
}

func (h *harness) mustCreate(news resource.PropertyMap) resource.PropertyMap {
	h.t.Helper()
	out, err := h.create(news)
	if err != nil {
		h.t.Fatalf("Create: %v", err)
	}
	return out
}

func outStr(m resource.PropertyMap, k string) string {
	v := plain(m[resource.PropertyKey(k)])
	if !v.IsString() {
		return "<not a string: " + v.String() + ">"
	}
	return v.StringValue()
}

func wantContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

func wantNotContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%q contains %q", s, sub)
		}
	}
}
