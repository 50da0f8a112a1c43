package main

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func diffConn() resource.PropertyMap {
	return resource.PropertyMap{
		"host":       resource.NewStringProperty("10.0.0.1"),
		"privateKey": resource.MakeSecret(resource.NewStringProperty("KEY")),
	}
}

// diff runs Check on both sides (as the engine does) and then Diff, with the old state holding
// stdout/stderr.
func (h *harness) diff(olds, news resource.PropertyMap, sendOldInputs bool) *pulumirpc.DiffResponse {
	h.t.Helper()
	oldInputs := h.check(olds)
	state := withOutputs(h.mustUnmarshal(oldInputs), "old stdout", "old stderr")
	req := &pulumirpc.DiffRequest{
		Id: "x", Urn: testURN, Type: remoteCommandToken,
		Olds: h.mustMarshal(state), News: h.check(news),
	}
	if sendOldInputs {
		req.OldInputs = oldInputs
	}
	resp, err := h.p.Diff(h.ctx, req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func TestDiff(t *testing.T) {
	h := newHarness(t)
	base := func(kv ...any) resource.PropertyMap {
		args := append([]any{"create", "echo a", "triggers", []any{"t1", 2.0}}, kv...)
		return inputs(diffConn(), args...)
	}
	for _, tc := range []struct {
		name         string
		olds, news   resource.PropertyMap
		changes      pulumirpc.DiffResponse_DiffChanges
		diffs        []string
		replaces     []string
		detailedKind map[string]pulumirpc.PropertyDiff_Kind
	}{
		{name: "equal", olds: base(), news: base(), changes: pulumirpc.DiffResponse_DIFF_NONE},
		{
			name: "create changed", olds: base(), news: inputs(diffConn(), "create", "echo b", "triggers", []any{"t1", 2.0}),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"create"},
			detailedKind: map[string]pulumirpc.PropertyDiff_Kind{"create": pulumirpc.PropertyDiff_UPDATE},
		},
		{
			name: "triggers changed", olds: base(), news: inputs(diffConn(), "create", "echo a", "triggers", []any{"t1", 3.0}),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"triggers"}, replaces: []string{"triggers"},
			detailedKind: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{
			name: "triggers added", olds: inputs(diffConn(), "create", "echo a"), news: base(),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"triggers"}, replaces: []string{"triggers"},
			detailedKind: map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_ADD_REPLACE},
		},
		{
			name: "delete added and connection changed", olds: base(),
			news: inputs(resource.PropertyMap{"host": resource.NewStringProperty("10.0.0.2")},
				"create", "echo a", "triggers", []any{"t1", 2.0}, "delete", "rm x"),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"connection", "delete"},
			detailedKind: map[string]pulumirpc.PropertyDiff_Kind{
				"connection": pulumirpc.PropertyDiff_UPDATE, "delete": pulumirpc.PropertyDiff_ADD,
			},
		},
		{
			name: "only secretness differs", olds: base(),
			news: func() resource.PropertyMap {
				m := base()
				m["create"] = resource.MakeSecret(m["create"])
				return m
			}(),
			changes: pulumirpc.DiffResponse_DIFF_NONE,
		},
		{
			name: "unknown create in preview", olds: base(),
			news: func() resource.PropertyMap {
				m := base()
				m["create"] = resource.MakeComputed(resource.NewStringProperty(""))
				return m
			}(),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"create"},
		},
		{
			name: "unknown trigger in preview", olds: base(),
			news: inputs(diffConn(), "create", "echo a", "triggers",
				resource.NewArrayProperty([]resource.PropertyValue{
					resource.NewStringProperty("t1"), resource.MakeComputed(resource.NewStringProperty("")),
				})),
			changes: pulumirpc.DiffResponse_DIFF_SOME, diffs: []string{"triggers"}, replaces: []string{"triggers"},
		},
	} {
		for _, sendOld := range []bool{true, false} {
			name := tc.name
			if !sendOld {
				name += " (no old inputs)"
			}
			t.Run(name, func(t *testing.T) {
				h.t = t
				resp := h.diff(tc.olds, tc.news, sendOld)
				if resp.Changes != tc.changes {
					t.Errorf("changes = %v, want %v", resp.Changes, tc.changes)
				}
				if !reflect.DeepEqual(resp.Diffs, tc.diffs) {
					t.Errorf("diffs = %v, want %v", resp.Diffs, tc.diffs)
				}
				if !reflect.DeepEqual(resp.Replaces, tc.replaces) {
					t.Errorf("replaces = %v, want %v", resp.Replaces, tc.replaces)
				}
				for k, kind := range tc.detailedKind {
					if d := resp.DetailedDiff[k]; d == nil || d.Kind != kind || !d.InputDiff {
						t.Errorf("detailed diff of %s = %v, want %v", k, d, kind)
					}
				}
				for _, k := range []string{"stdout", "stderr"} {
					if _, ok := resp.DetailedDiff[k]; ok {
						t.Errorf("%s reported as a diff", k)
					}
				}
				if resp.DeleteBeforeReplace {
					t.Error("deleteBeforeReplace set")
				}
			})
		}
	}
}

func TestDiffNeverReportsOutputs(t *testing.T) {
	olds := resource.PropertyMap{"create": resource.NewStringProperty("x"), "stdout": resource.NewStringProperty("a"),
		"stderr": resource.NewStringProperty("e")}
	news := resource.PropertyMap{"create": resource.NewStringProperty("x"), "stdout": resource.NewStringProperty("b")}
	if resp := diffInputs(olds, news); resp.Changes != pulumirpc.DiffResponse_DIFF_NONE || len(resp.Diffs) != 0 {
		t.Errorf("diff of outputs only: %v", resp)
	}
}
