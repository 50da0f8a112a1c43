package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestPluginInfoIsTheBuildVersion(t *testing.T) {
	p := newProvider(nil, "0.5.4")
	info, err := p.GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != "0.5.4" {
		t.Fatalf("%v %v", info, err)
	}
	s, err := p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil || !strings.Contains(s.GetSchema(), `"version":"0.5.4"`) || !strings.Contains(s.GetSchema(), domainToken) {
		t.Errorf("schema %v %v", s, err)
	}
}

func TestConfigure(t *testing.T) {
	p := newProvider(nil, "test")
	args, _ := structpb.NewStruct(map[string]any{"uri": "qemu+ssh://ops@lab-host/system?keyfile=/k"})
	resp, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetAcceptSecrets() || resp.GetSupportsPreview() {
		t.Errorf("configure response %v", resp)
	}
	if p.conn.uri != "qemu+ssh://ops@lab-host/system?keyfile=/k" {
		t.Errorf("uri %q", p.conn.uri)
	}
	// Older engines pass config as variables.
	_, err = p.Configure(context.Background(), &pulumirpc.ConfigureRequest{
		Variables: map[string]string{"libvirt:config:uri": "test:///default"},
	})
	if err != nil || p.conn.uri != "test:///default" {
		t.Errorf("uri from variables: %q %v", p.conn.uri, err)
	}
	// Neither: LIBVIRT_DEFAULT_URI, then qemu:///system.
	t.Setenv("LIBVIRT_DEFAULT_URI", "")
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{}); err != nil || p.conn.uri != defaultURI {
		t.Errorf("default uri %q %v", p.conn.uri, err)
	}
	bad, _ := structpb.NewStruct(map[string]any{"uri": "qemu+tls://host/system"})
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: bad}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad uri accepted: %v", err)
	}
	cfg, err := p.CheckConfig(context.Background(), &pulumirpc.CheckRequest{News: bad})
	if err != nil || len(cfg.GetFailures()) != 1 {
		t.Errorf("CheckConfig of a bad uri: %v %v", cfg, err)
	}
	diff, err := p.DiffConfig(context.Background(), &pulumirpc.DiffRequest{OldInputs: args, News: bad})
	if err != nil || diff.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(diff.GetReplaces()) != 0 {
		t.Errorf("DiffConfig: %v %v", diff, err)
	}
}

func TestOtherTokensAreRefused(t *testing.T) {
	p := newProvider(nil, "test")
	for _, token := range []string{"libvirt:index/ignition:Ignition", "libvirt:index/combustion:Combustion", "command:remote:Command"} {
		_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(token, "x"), Type: token})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "implements only") ||
			!strings.Contains(err.Error(), domainToken) {
			t.Errorf("%s: %v", token, err)
		}
		// The type is also taken from the URN.
		_, err = p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urnOf(token, "x")})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("create %s: %v", token, err)
		}
	}
}

// A Domain and a CloudInitDisk as the Python SDK sends them in a preview: camelCase names, a
// secret, and ids of resources not created yet (unknown).
func TestCheckKeepsSecretsAndUnknownsAndFillsDefaults(t *testing.T) {
	p := newProvider(nil, "test")
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	domain := resource.PropertyMap{
		"name":      resource.NewStringProperty("ha-swarm-dev-node1"),
		"type":      resource.NewStringProperty("qemu"),
		"autostart": resource.NewBoolProperty(true),
		"cloudinit": unknown,
		"disks":     resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{"volumeId": unknown})}),
		"networkInterfaces": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"networkId": unknown, "mac": resource.NewStringProperty("52:54:00:12:34:56"),
			"addresses": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("10.231.90.11")}),
			"hostname":  resource.NewStringProperty("node1"), "waitForLease": resource.NewBoolProperty(false),
		})}),
		"consoles": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"type": resource.NewStringProperty("pty"), "targetType": resource.NewStringProperty("serial"),
			"targetPort": resource.NewStringProperty("0"),
		})}),
	}
	got := checkOK(t, p, domainToken, domain)
	for k, want := range map[string]any{"vcpu": 1.0, "memory": 512.0, "running": true, "type": "qemu"} {
		if v, _ := plain(got[resource.PropertyKey(k)]); v != want {
			t.Errorf("%s = %v, want %v", k, v, want)
		}
	}
	if !got["cloudinit"].IsComputed() {
		t.Errorf("unknown cloudinit lost: %v", got["cloudinit"])
	}
	ifc := got["networkInterfaces"].ArrayValue()[0].ObjectValue()
	if !ifc["networkId"].IsComputed() || ifc["mac"].StringValue() != "52:54:00:12:34:56" {
		t.Errorf("interface %v", ifc)
	}

	seed := resource.PropertyMap{
		"name":     resource.NewStringProperty("seed.iso"),
		"pool":     resource.NewStringProperty("ha-swarm-dev"),
		"userData": resource.MakeSecret(resource.NewStringProperty("#cloud-config\n")),
		"metaData": resource.NewStringProperty("instance-id: x\n"),
	}
	// Through the wire as the engine marshals it (secrets as signature objects).
	wire, err := plugin.MarshalProperties(seed, plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(cloudInitToken, "s"), News: wire})
	if err != nil || len(resp.GetFailures()) != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	back := mustUnmarshal(t, resp.GetInputs())
	if !back["userData"].IsSecret() {
		t.Error("userData is no longer secret")
	}
	var in cloudInitInputs
	if err := decodeInputs(back, &in); err != nil || in.UserData != "#cloud-config\n" || in.Pool != "ha-swarm-dev" {
		t.Errorf("decoded %+v %v", in, err)
	}
}

func TestCheckDefaultsOfEachKind(t *testing.T) {
	p := newProvider(nil, "test")
	net := checkOK(t, p, networkToken, props(map[string]any{"name": "n", "addresses": []any{"10.231.90.0/24"}}))
	if net["mode"].StringValue() != "nat" {
		t.Errorf("network mode default %v", net["mode"])
	}
	vol := checkOK(t, p, volumeToken, props(map[string]any{"name": "v", "size": 1024.0}))
	if vol["pool"].StringValue() != "default" {
		t.Errorf("volume pool default %v", vol["pool"])
	}
	seed := checkOK(t, p, cloudInitToken, props(map[string]any{"name": "s.iso", "userData": "x"}))
	if seed["pool"].StringValue() != "default" {
		t.Errorf("cloud-init pool default %v", seed["pool"])
	}
	checkOK(t, p, poolToken, props(map[string]any{"name": "p", "type": "dir", "target": map[string]any{"path": "/srv/p"}}))
}

func TestCheckFailures(t *testing.T) {
	p := newProvider(nil, "test")
	cases := []struct {
		token string
		news  map[string]any
		want  string
	}{
		{volumeToken, map[string]any{"name": "v", "base_volume_id": "/x"}, `unknown field "base_volume_id"`},
		{volumeToken, map[string]any{"name": "v", "source": "/img", "size": 10.0}, "size can't be given with source"},
		{volumeToken, map[string]any{"name": "v"}, "needs a size, a source or a base volume"},
		{volumeToken, map[string]any{"name": "v", "baseVolumeId": "/b", "format": "raw"}, "qcow2 layer"},
		{volumeToken, map[string]any{"name": "v", "size": 1.0, "xml": map[string]any{"xslt": "x"}}, "xml is not implemented"},
		{poolToken, map[string]any{"name": "p", "type": "logical", "target": map[string]any{"path": "/p"}}, `pool type "logical"`},
		{poolToken, map[string]any{"name": "p", "type": "dir"}, "needs target.path"},
		{poolToken, map[string]any{"name": "p", "type": "dir", "target": map[string]any{"path": "rel"}}, "not absolute"},
		{networkToken, map[string]any{"name": "n", "mode": "weird"}, `mode "weird"`},
		{networkToken, map[string]any{"name": "n", "addresses": []any{"10.0.0.1"}}, "CIDR"},
		{networkToken, map[string]any{"mode": "nat"}, "name is required"},
		{domainToken, map[string]any{"name": "d", "coreosIgnition": "x"}, "coreosIgnition is not implemented"},
		{domainToken, map[string]any{"name": "d", "disks": []any{map[string]any{"url": "http://x/i.iso"}}}, "disks[0].url"},
		{domainToken, map[string]any{"name": "d", "networkInterfaces": []any{map[string]any{"networkName": "a", "bridge": "b"}}}, "attaches to one of"},
		{domainToken, map[string]any{"name": "d", "networkInterfaces": []any{map[string]any{"bridge": "b", "waitForLease": true}}}, "waitForLease needs"},
		{domainToken, map[string]any{"name": "d", "networkInterfaces": []any{map[string]any{"networkName": "a", "mac": "zz"}}}, "not a MAC"},
		{domainToken, map[string]any{"name": "d", "initrd": "/i"}, "initrd needs kernel"},
		{domainToken, map[string]any{"name": "d", "memory": 0.0}, "memory (MiB) must be positive"},
		{domainToken, map[string]any{"name": "d", "cmdlines": []any{map[string]any{"a": 1.0}}, "kernel": "/k"}, "cannot unmarshal"},
	}
	for _, c := range cases {
		got := checkFailures(t, p, c.token, props(c.news))
		if !containsLine(got, c.want) {
			t.Errorf("%s %v: failures %q, want one with %q", c.token, c.news, got, c.want)
		}
	}
}

func TestCancelEndsOperations(t *testing.T) {
	p := newProvider(nil, "test")
	args, _ := structpb.NewStruct(map[string]any{"uri": "test:///default?socket=/nonexistent/libvirt-sock"})
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: args}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	inputs := mustMarshal(t, props(map[string]any{"name": "n", "mode": "none"}))
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: urnOf(networkToken, "n"), Properties: inputs})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("create after cancel: %v", err)
	}
}

func TestUnreachableDaemonIsAClearError(t *testing.T) {
	p := newProvider(nil, "test")
	args, _ := structpb.NewStruct(map[string]any{"uri": "qemu:///system?socket=/nonexistent/libvirt-sock"})
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: args}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{Urn: urnOf(networkToken, "n"),
		Id: "0b3a6a4e-7c1b-4f7e-9a43-6f0d7b1c2d3e"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libvirt-sock") {
		t.Errorf("delete with no daemon: %v", err)
	}
}
