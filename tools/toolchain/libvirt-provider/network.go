package main

// libvirt:index/network:Network: a virtual network, defined, started and (if asked) autostarted.
// Its id is the network's UUID.

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

type networkKind struct{}

func (networkKind) updatable() map[string]bool { return nil }

func (networkKind) sameObject(olds, news resource.PropertyMap) bool {
	return sameValues(olds, news, "name")
}

func (networkKind) check(news resource.PropertyMap) (resource.PropertyMap, failures) {
	out := news.Copy()
	setDefault(out, "mode", resource.NewStringProperty("nat"))
	var f failures
	if !has(out, "name") {
		f.add("name", "name is required")
	}
	f.unsupported(out, "", "xml")
	var in networkInputs
	if err := decodeStrict(knownPart(out), &in); err != nil {
		f.add("", "%v", err)
		return out, f
	}
	if in.Mode != "" && !networkModes[in.Mode] {
		f.add("mode", "mode %q is not one of nat, none, route, open, bridge", in.Mode)
	}
	if in.Mode == "bridge" && has(out, "mode") && !has(out, "bridge") {
		f.add("bridge", "mode bridge needs the name of an existing host bridge in bridge")
	}
	for _, a := range in.Addresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			f.add("addresses", "%q is not an address in CIDR form (e.g. 10.17.3.0/24)", a)
		}
	}
	for _, r := range in.Routes {
		if _, err := netip.ParsePrefix(r.CIDR); err != nil {
			f.add("routes", "route cidr %q is not in CIDR form", r.CIDR)
		}
	}
	return out, f
}

func (networkKind) create(_ context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	var in networkInputs
	if err := decodeInputs(inputs, &in); err != nil {
		return "", nil, err
	}
	def, err := networkXML(in)
	if err != nil {
		return "", nil, err
	}
	n, err := lv.NetworkDefineXML(def)
	if err != nil {
		return "", nil, fmt.Errorf("define network %s: %w", in.Name, err)
	}
	undo := func(err error) (string, resource.PropertyMap, error) {
		_ = lv.NetworkDestroy(n)
		_ = lv.NetworkUndefine(n)
		return "", nil, err
	}
	if err := lv.NetworkCreate(n); err != nil {
		return undo(fmt.Errorf("start network %s: %w", in.Name, err))
	}
	if boolOr(in.Autostart, false) {
		if err := lv.NetworkSetAutostart(n, 1); err != nil {
			return undo(fmt.Errorf("autostart network %s: %w", in.Name, err))
		}
	}
	return formatUUID(n.UUID), networkOutputs(lv, n, inputs), nil
}

// networkOutputs is the state: the inputs and the bridge libvirt chose.
func networkOutputs(lv *libvirt.Libvirt, n libvirt.Network, inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	if bridge, err := lv.NetworkGetBridgeName(n); err == nil && bridge != "" {
		out["bridge"] = resource.NewStringProperty(bridge)
	}
	return out
}

func (networkKind) read(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	u, err := parseUUID(id)
	if err != nil {
		return "", nil, err
	}
	n, err := lv.NetworkLookupByUUID(u)
	if isMissing(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	out := networkOutputs(lv, n, state)
	if auto, err := lv.NetworkGetAutostart(n); err == nil {
		out["autostart"] = resource.NewBoolProperty(auto == 1)
	}
	return id, out, nil
}

func (networkKind) update(context.Context, *libvirt.Libvirt, string, resource.PropertyMap, resource.PropertyMap) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("a network is never updated in place, only replaced")
}

func (networkKind) delete(_ context.Context, lv *libvirt.Libvirt, id string, _ resource.PropertyMap) error {
	u, err := parseUUID(id)
	if err != nil {
		return err
	}
	n, err := lv.NetworkLookupByUUID(u)
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := lv.NetworkDestroy(n); err != nil && !notRunning(err) {
		return fmt.Errorf("stop network %s: %w", n.Name, err)
	}
	if err := lv.NetworkUndefine(n); err != nil && !isMissing(err) {
		return fmt.Errorf("undefine network %s: %w", n.Name, err)
	}
	return nil
}
