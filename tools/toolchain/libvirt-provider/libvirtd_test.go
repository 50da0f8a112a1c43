package main

// Against a real libvirtd, through its "test:///default" driver (in-memory objects; nothing on
// the host changes). Skipped when no libvirtd socket is there.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

const testDriverURI = "test:///default"

// liveProvider is a provider configured for driver (e.g. test:///default) on the local
// libvirtd, or a skip when there is none.
func liveProvider(t *testing.T, driver string) *libvirtProvider {
	t.Helper()
	sock := os.Getenv("LIBVIRT_TEST_SOCKET")
	if sock == "" {
		sock = systemSocket
	}
	if _, err := os.Stat(sock); err != nil {
		t.Skipf("no libvirtd socket at %s (%v): start libvirtd to run the tests against it", sock, err)
	}
	uri := driver + "?socket=" + sock
	lv, err := dial(uri)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EACCES) {
		t.Skipf("libvirtd socket %s does not answer: %v", sock, err)
	}
	if err != nil {
		t.Fatalf("connect to %s: %v", uri, err)
	}
	_ = lv.Disconnect()
	p := newProvider(nil, "test")
	args, _ := structpb.NewStruct(map[string]any{"uri": uri})
	if _, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: args}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.conn.drop)
	return p
}

// libvirtConn is a direct client for looking at what the provider did.
func libvirtConn(t *testing.T, p *libvirtProvider) *libvirt.Libvirt {
	t.Helper()
	lv, err := p.conn.get()
	if err != nil {
		t.Fatal(err)
	}
	return lv
}

type created struct {
	token string
	id    string
	state resource.PropertyMap
}

func create(t *testing.T, p *libvirtProvider, token string, news resource.PropertyMap) created {
	t.Helper()
	inputs := checkOK(t, p, token, news)
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(token, "r"), Type: token, Properties: mustMarshal(t, inputs),
	})
	if err != nil {
		t.Fatalf("create %s: %v", token, err)
	}
	c := created{token: token, id: resp.GetId(), state: mustUnmarshal(t, resp.GetProperties())}
	t.Cleanup(func() { _ = destroy(p, c) })
	return c
}

func destroy(p *libvirtProvider, c created) error {
	s, err := marshal("test", c.state)
	if err != nil {
		return err
	}
	_, err = p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: urnOf(c.token, "r"), Type: c.token, Id: c.id, Properties: s,
	})
	return err
}

func read(t *testing.T, p *libvirtProvider, c created) (string, resource.PropertyMap) {
	t.Helper()
	resp, err := p.Read(context.Background(), &pulumirpc.ReadRequest{
		Urn: urnOf(c.token, "r"), Type: c.token, Id: c.id, Properties: mustMarshal(t, c.state),
	})
	if err != nil {
		t.Fatalf("read %s: %v", c.token, err)
	}
	if resp.GetId() == "" {
		return "", nil
	}
	return resp.GetId(), mustUnmarshal(t, resp.GetProperties())
}

func uniqueName(what string) string {
	return fmt.Sprintf("hs-test-%s-%d", what, os.Getpid())
}

func TestLiveNetworkPoolVolumeDomain(t *testing.T) {
	p := liveProvider(t, testDriverURI)
	lv := libvirtConn(t, p)

	net := create(t, p, networkToken, props(map[string]any{
		"name": uniqueName("net"), "mode": "none", "domain": "test.ha-swarm.internal",
		"addresses": []any{"10.231.93.0/24"}, "autostart": true,
		"dhcp": map[string]any{"enabled": true}, "dns": map[string]any{"enabled": true, "localOnly": true},
	}))
	if _, err := parseUUID(net.id); err != nil {
		t.Fatalf("network id: %v", err)
	}
	n, err := lv.NetworkLookupByUUID(mustUUID(t, net.id))
	if err != nil {
		t.Fatal(err)
	}
	if active, _ := lv.NetworkIsActive(n); active != 1 {
		t.Error("network not started")
	}
	if auto, _ := lv.NetworkGetAutostart(n); auto != 1 {
		t.Error("network not autostarted")
	}

	pool := create(t, p, poolToken, props(map[string]any{
		"name": uniqueName("pool"), "type": "dir", "target": map[string]any{"path": t.TempDir() + "/pool"},
	}))
	poolName := pool.state["name"].StringValue()

	base := create(t, p, volumeToken, props(map[string]any{
		"name": "base.qcow2", "pool": poolName, "size": float64(1 << 30), "format": "qcow2",
	}))
	if !strings.HasSuffix(base.id, "base.qcow2") {
		t.Errorf("volume id %q is not the volume's key (path)", base.id)
	}
	root := create(t, p, volumeToken, props(map[string]any{
		"name": "root.qcow2", "pool": poolName, "baseVolumeId": base.id, "size": float64(2 << 30),
	}))
	if got := root.state["format"].StringValue(); got != "qcow2" {
		t.Errorf("clone format %q", got)
	}
	rootVol, err := lv.StorageVolLookupByKey(root.id)
	if err != nil {
		t.Fatal(err)
	}
	if desc, _ := lv.StorageVolGetXMLDesc(rootVol, 0); !strings.Contains(desc, "<capacity unit='bytes'>2147483648</capacity>") {
		t.Errorf("clone volume XML:\n%s", desc)
	}

	dom := create(t, p, domainToken, props(map[string]any{
		"name": uniqueName("dom"), "type": "test", "vcpu": float64(1), "memory": float64(64), "autostart": true,
		"disks": []any{map[string]any{"volumeId": root.id}},
		"networkInterfaces": []any{map[string]any{
			"networkId": net.id, "mac": "52:54:00:aa:bb:01", "addresses": []any{"10.231.93.10"},
			"hostname": "node1", "waitForLease": false,
		}},
		"consoles": []any{map[string]any{"type": "pty", "targetType": "serial", "targetPort": "0"}},
	}))
	ifc := dom.state["networkInterfaces"].ArrayValue()[0].ObjectValue()
	if ifc["networkName"].StringValue() != net.state["name"].StringValue() {
		t.Errorf("networkName output %v", ifc["networkName"])
	}
	d, err := lv.DomainLookupByUUID(mustUUID(t, dom.id))
	if err != nil {
		t.Fatal(err)
	}
	if active, _ := lv.DomainIsActive(d); active != 1 {
		t.Error("domain not started")
	}
	hosts, err := dhcpHostsOf(lv, n)
	if err != nil || len(hosts) != 1 || hosts[0].IP != "10.231.93.10" || hosts[0].Name != "node1" {
		t.Errorf("DHCP hosts %+v, %v", hosts, err)
	}

	// Update autostart in place.
	olds := dom.state
	news := olds.Copy()
	news["autostart"] = resource.NewBoolProperty(false)
	upd, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: urnOf(domainToken, "r"), Type: domainToken, Id: dom.id,
		Olds: mustMarshal(t, olds), News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	if auto, _ := lv.DomainGetAutostart(d); auto != 0 {
		t.Error("autostart still on after update")
	}
	dom.state = mustUnmarshal(t, upd.GetProperties())

	if id, _ := read(t, p, dom); id != dom.id {
		t.Errorf("read domain: id %q", id)
	}
	// Delete in dependency order; then each is gone, and Read and Delete say so quietly.
	for _, c := range []created{dom, root, base, pool, net} {
		if err := destroy(p, c); err != nil {
			t.Fatalf("delete %s: %v", c.token, err)
		}
		if id, _ := read(t, p, c); id != "" {
			t.Errorf("%s still there after delete", c.token)
		}
		if err := destroy(p, c); err != nil {
			t.Errorf("second delete of %s: %v", c.token, err)
		}
	}
	if hosts, err := dhcpHostsOf(lv, n); err == nil && len(hosts) != 0 {
		t.Errorf("DHCP hosts left: %+v", hosts)
	}
}

// TestLiveSystemUploadCloudInitDomain needs a real driver (the test driver takes no uploads):
// LIBVIRT_PROVIDER_SYSTEM_URI=qemu:///system makes a pool in a temporary directory, uploads an
// image and a cloud-init seed, clones the image and starts a TCG domain from them.
func TestLiveSystemUploadCloudInitDomain(t *testing.T) {
	driver := os.Getenv("LIBVIRT_PROVIDER_SYSTEM_URI")
	if driver == "" {
		t.Skip("set LIBVIRT_PROVIDER_SYSTEM_URI=qemu:///system to run against a real qemu driver " +
			"(the test driver takes no uploads)")
	}
	p := liveProvider(t, driver)
	lv := libvirtConn(t, p)
	dir, err := os.MkdirTemp("", "libvirt-provider-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // qemu runs as its own user
		t.Fatal(err)
	}
	pool := create(t, p, poolToken, props(map[string]any{
		"name": uniqueName("upload"), "type": "dir", "target": map[string]any{"path": dir + "/pool"},
	}))
	poolName := pool.state["name"].StringValue()
	src := dir + "/image.qcow2"
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", src, "64M").CombinedOutput(); err != nil {
		t.Skipf("qemu-img: %v %s", err, out)
	}
	img := create(t, p, volumeToken, props(map[string]any{"name": "img.qcow2", "pool": poolName, "source": src}))
	if got := img.state["format"].StringValue(); got != "qcow2" {
		t.Errorf("detected format %q", got)
	}
	root := create(t, p, volumeToken, props(map[string]any{
		"name": "root.qcow2", "pool": poolName, "baseVolumeId": img.id, "size": float64(128 << 20),
	}))
	files := map[string]string{"user-data": "#cloud-config\n", "meta-data": "instance-id: x\n", "network-config": "version: 2\n"}
	seed := create(t, p, cloudInitToken, props(map[string]any{
		"name": "seed.iso", "pool": poolName, "userData": files["user-data"], "metaData": files["meta-data"],
		"networkConfig": files["network-config"],
	}))
	if !strings.Contains(seed.id, ";") {
		t.Errorf("cloud-init disk id %q is not key;uuid", seed.id)
	}
	iso, err := os.ReadFile(volumeKeyOf(seed.id))
	if err != nil {
		t.Fatal(err)
	}
	got := readISO(t, iso, true)
	if got.label != cidataLabel || len(got.files) != 3 {
		t.Errorf("seed: label %q, files %v", got.label, got.files)
	}
	for name, want := range files {
		if got.files[name] != want {
			t.Errorf("seed %s = %q, want %q", name, got.files[name], want)
		}
	}
	dom := create(t, p, domainToken, props(map[string]any{
		"name": uniqueName("vm"), "type": "qemu", "vcpu": float64(1), "memory": float64(64),
		"cloudinit": seed.id, "disks": []any{map[string]any{"volumeId": root.id}},
		"consoles": []any{map[string]any{"type": "pty", "targetType": "serial", "targetPort": "0"}},
	}))
	d, err := lv.DomainLookupByUUID(mustUUID(t, dom.id))
	if err != nil {
		t.Fatal(err)
	}
	if active, _ := lv.DomainIsActive(d); active != 1 {
		t.Error("domain not running")
	}
	for _, c := range []created{dom, seed, root, img, pool} {
		if err := destroy(p, c); err != nil {
			t.Fatalf("delete %s: %v", c.token, err)
		}
	}
}

func mustUUID(t *testing.T, id string) libvirt.UUID {
	t.Helper()
	u, err := parseUUID(id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
