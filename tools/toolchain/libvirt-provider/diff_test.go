package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func diffOf(t *testing.T, token string, olds, news map[string]any) *pulumirpc.DiffResponse {
	t.Helper()
	return diffMaps(t, token, props(olds), props(news))
}

func diffMaps(t *testing.T, token string, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	p := newProvider(nil, "test")
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urnOf(token, "r"), Type: token,
		Olds: mustMarshal(t, olds), OldInputs: mustMarshal(t, olds), News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDiffNoChange(t *testing.T) {
	in := map[string]any{"name": "v", "pool": "p", "size": 1024.0, "format": "qcow2"}
	if resp := diffOf(t, volumeToken, in, in); resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("%v", resp)
	}
	// A secret with the same value is no change, nor is an empty list against none.
	olds := props(map[string]any{"name": "s", "userData": "x", "pool": "p"})
	news := olds.Copy()
	news["userData"] = resource.MakeSecret(resource.NewStringProperty("x"))
	news["extra"] = resource.NewArrayProperty(nil)
	if resp := diffMaps(t, cloudInitToken, olds, news); resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("%v", resp)
	}
}

func TestDiffEveryChangeReplacesStorageAndNetworks(t *testing.T) {
	cases := []struct {
		token      string
		olds, news map[string]any
		key        string
		dbr        bool
	}{
		{volumeToken, map[string]any{"name": "v", "pool": "p", "size": 1.0}, map[string]any{"name": "v", "pool": "p", "size": 2.0}, "size", true},
		{volumeToken, map[string]any{"name": "v", "pool": "p", "size": 1.0}, map[string]any{"name": "w", "pool": "p", "size": 1.0}, "name", false},
		{volumeToken, map[string]any{"name": "v", "pool": "p", "source": "/a"}, map[string]any{"name": "v", "pool": "p", "source": "/a", "format": "raw"}, "format", true},
		{cloudInitToken, map[string]any{"name": "s", "pool": "p", "userData": "a"}, map[string]any{"name": "s", "pool": "p", "userData": "b"}, "userData", true},
		{poolToken, map[string]any{"name": "p", "type": "dir", "target": map[string]any{"path": "/a"}}, map[string]any{"name": "p", "type": "dir", "target": map[string]any{"path": "/b"}}, "target", true},
		{networkToken, map[string]any{"name": "n", "autostart": true}, map[string]any{"name": "n", "autostart": false}, "autostart", true},
		{networkToken, map[string]any{"name": "n", "addresses": []any{"10.0.0.0/24"}}, map[string]any{"name": "n"}, "addresses", true},
	}
	for _, c := range cases {
		resp := diffOf(t, c.token, c.olds, c.news)
		if resp.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || !reflect.DeepEqual(resp.GetReplaces(), []string{c.key}) {
			t.Errorf("%s %s: %v", c.token, c.key, resp)
			continue
		}
		if resp.GetDeleteBeforeReplace() != c.dbr {
			t.Errorf("%s %s: deleteBeforeReplace %v, want %v", c.token, c.key, resp.GetDeleteBeforeReplace(), c.dbr)
		}
		kind := resp.GetDetailedDiff()[c.key].GetKind()
		if kind != pulumirpc.PropertyDiff_UPDATE_REPLACE && kind != pulumirpc.PropertyDiff_ADD_REPLACE && kind != pulumirpc.PropertyDiff_DELETE_REPLACE {
			t.Errorf("%s %s: detailed kind %v", c.token, c.key, kind)
		}
	}
}

func TestDiffDomainAutostartUpdatesOtherChangesReplace(t *testing.T) {
	base := map[string]any{"name": "d", "type": "qemu", "vcpu": 1.0, "memory": 512.0, "autostart": true,
		"cloudinit": "/p/seed.iso;u1", "disks": []any{map[string]any{"volumeId": "/p/root.qcow2"}}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	resp := diffOf(t, domainToken, base, with("autostart", false))
	if resp.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(resp.GetReplaces()) != 0 ||
		resp.GetDetailedDiff()["autostart"].GetKind() != pulumirpc.PropertyDiff_UPDATE {
		t.Errorf("autostart: %v", resp)
	}
	resp = diffOf(t, domainToken, base, with("autostart", nil))
	if len(resp.GetReplaces()) != 0 || resp.GetDetailedDiff()["autostart"].GetKind() != pulumirpc.PropertyDiff_DELETE {
		t.Errorf("autostart removed: %v", resp)
	}
	for k, v := range map[string]any{"memory": 1024.0, "vcpu": 2.0, "cloudinit": "/p/seed2.iso;u2",
		"disks": []any{map[string]any{"volumeId": "/p/other.qcow2"}}, "running": false, "kernel": "/p/k"} {
		resp := diffOf(t, domainToken, base, with(k, v))
		if !reflect.DeepEqual(resp.GetReplaces(), []string{k}) || !resp.GetDeleteBeforeReplace() {
			t.Errorf("%s: %v", k, resp)
		}
	}
	resp = diffOf(t, domainToken, base, with("name", "e"))
	if !reflect.DeepEqual(resp.GetReplaces(), []string{"name"}) || resp.GetDeleteBeforeReplace() {
		t.Errorf("rename: %v", resp)
	}
}

func TestDiffUnknownNewValueIsAChange(t *testing.T) {
	olds := props(map[string]any{"name": "d", "cloudinit": "/p/seed.iso;u1"})
	news := olds.Copy()
	news["cloudinit"] = resource.MakeComputed(resource.NewStringProperty(""))
	resp := diffMaps(t, domainToken, olds, news)
	if !reflect.DeepEqual(resp.GetReplaces(), []string{"cloudinit"}) {
		t.Errorf("%v", resp)
	}
	// Nested unknowns too.
	olds = props(map[string]any{"name": "v", "pool": "p", "baseVolumeId": "/p/base"})
	news = olds.Copy()
	news["baseVolumeId"] = resource.MakeComputed(resource.NewStringProperty(""))
	if resp := diffMaps(t, volumeToken, olds, news); !reflect.DeepEqual(resp.GetReplaces(), []string{"baseVolumeId"}) {
		t.Errorf("%v", resp)
	}
}

func TestDiffFallsBackToOutputsWithoutOldInputs(t *testing.T) {
	p := newProvider(nil, "test")
	olds := props(map[string]any{"name": "n", "mode": "nat"})
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: urnOf(networkToken, "r"), Olds: mustMarshal(t, olds), News: mustMarshal(t, olds),
	})
	if err != nil || resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("%v %v", resp, err)
	}
}
