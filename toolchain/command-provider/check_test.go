package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestCheckKeepsSecretsAndFillsDefaults(t *testing.T) {
	h := newHarness(t)
	news := inputs(resource.PropertyMap{
		"host":       resource.NewStringProperty("10.0.0.1"),
		"privateKey": resource.MakeSecret(resource.NewStringProperty("PRIVATE-KEY")),
		"proxy": resource.NewObjectProperty(resource.PropertyMap{
			"host":     resource.NewStringProperty("bastion"),
			"password": resource.MakeSecret(resource.NewStringProperty("PROXY-PW")),
		}),
	}, "create", "echo hi", "stdin", resource.MakeSecret(resource.NewStringProperty("STDIN-SECRET")))
	checked := h.check(news)

	got := h.mustUnmarshal(checked)
	conn := got["connection"]
	if !conn.IsSecret() {
		t.Fatalf("connection lost its secret wrapper: %v", conn)
	}
	if !got["stdin"].IsSecret() {
		t.Errorf("stdin lost its secret wrapper: %v", got["stdin"])
	}
	if got["create"].IsSecret() {
		t.Errorf("create became secret")
	}
	c := conn.SecretValue().Element.ObjectValue()
	if !c["privateKey"].IsSecret() {
		t.Errorf("privateKey lost its own secret wrapper")
	}
	for k, want := range map[string]any{"port": 22.0, "user": "root", "dialErrorLimit": 10.0, "perDialTimeout": 15.0} {
		if v := c[resource.PropertyKey(k)]; !v.DeepEquals(resource.NewPropertyValue(want)) {
			t.Errorf("connection.%s = %v, want %v", k, v, want)
		}
	}
	p := c["proxy"].ObjectValue()
	if !p["password"].IsSecret() || !p["port"].DeepEquals(resource.NewNumberProperty(22)) || p["user"].StringValue() != "root" {
		t.Errorf("proxy = %v", p)
	}
	if got["logging"].StringValue() != "stdoutAndStderr" || !got["addPreviousOutputInEnv"].BoolValue() {
		t.Errorf("command defaults: logging %v addPreviousOutputInEnv %v", got["logging"], got["addPreviousOutputInEnv"])
	}

	// With every secret blanked out, none of the secret values is left.
	withoutSecrets := resource.NewObjectProperty(got).MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return "<secret>", true
		}
		return nil, false
	})
	flat := flatten(withoutSecrets)
	wantNotContains(t, flat, "PRIVATE-KEY", "PROXY-PW", "STDIN-SECRET", "10.0.0.1")
}

// flatten renders a value as text, for looking for leaked strings.
func flatten(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case map[string]any:
			keys := make([]string, 0, len(y))
			for k := range y {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				b.WriteString(k + "=")
				walk(y[k])
				b.WriteString(";")
			}
		case []any:
			for _, e := range y {
				walk(e)
				b.WriteString(",")
			}
		default:
			b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(y), "\n", " "), "\t", " ")))
		}
	}
	walk(v)
	return b.String()
}

func toString(x any) string {
	switch y := x.(type) {
	case string:
		return y
	case nil:
		return "null"
	default:
		return resource.NewPropertyValue(y).String()
	}
}

func TestCheckKeepsUnknowns(t *testing.T) {
	h := newHarness(t)
	unknownConn := resource.PropertyMap{
		"connection": resource.MakeSecret(resource.MakeComputed(resource.NewStringProperty(""))),
		"create":     resource.MakeComputed(resource.NewStringProperty("")),
	}
	got := h.mustUnmarshal(h.check(unknownConn))
	if !got["create"].IsComputed() || !got["connection"].ContainsUnknowns() {
		t.Errorf("unknowns not kept: %v", got)
	}
	partly := inputs(resource.PropertyMap{"host": resource.MakeComputed(resource.NewStringProperty(""))}, "create", "x")
	got = h.mustUnmarshal(h.check(partly))
	c := got["connection"].SecretValue().Element.ObjectValue()
	if !c["host"].IsComputed() || c["user"].StringValue() != "root" {
		t.Errorf("unknown host: %v", c)
	}
}

func TestCheckFailures(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name  string
		news  resource.PropertyMap
		props []string
	}{
		{"no connection", resource.PropertyMap{"create": resource.NewStringProperty("x")}, []string{"connection"}},
		{"no host", inputs(resource.PropertyMap{"user": resource.NewStringProperty("u")}), []string{"connection.host"}},
		{"bad logging", inputs(resource.PropertyMap{"host": resource.NewStringProperty("h")}, "logging", "loud"), []string{"logging"}},
		{"port as string", inputs(resource.PropertyMap{"host": resource.NewStringProperty("h"), "port": resource.NewStringProperty("22")}), []string{"connection.port"}},
		{"unknown input", inputs(resource.PropertyMap{"host": resource.NewStringProperty("h")}, "archivePaths", []any{"x"}), []string{"archivePaths"}},
		{"proxy in proxy", inputs(resource.PropertyMap{
			"host": resource.NewStringProperty("h"),
			"proxy": resource.NewObjectProperty(resource.PropertyMap{
				"host":  resource.NewStringProperty("b"),
				"proxy": resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewStringProperty("c")}),
			}),
		}), []string{"connection.proxy.proxy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.p.Check(h.ctx, &pulumirpc.CheckRequest{
				Urn: testURN, Type: remoteCommandToken, News: h.mustMarshal(tc.news),
			})
			if err != nil {
				t.Fatal(err)
			}
			var props []string
			for _, f := range resp.Failures {
				props = append(props, f.Property)
			}
			sort.Strings(props)
			if strings.Join(props, ",") != strings.Join(tc.props, ",") {
				t.Errorf("failures on %v, want %v (%v)", props, tc.props, resp.Failures)
			}
		})
	}
}
