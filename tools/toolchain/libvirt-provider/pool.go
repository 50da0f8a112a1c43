package main

// libvirt:index/pool:Pool: a storage pool (type "dir" only), defined, built, started and
// autostarted. Its id is the pool's UUID.

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

type poolKind struct{}

func (poolKind) updatable() map[string]bool { return nil }

func (poolKind) sameObject(olds, news resource.PropertyMap) bool {
	return sameValues(olds, news, "name")
}

func (poolKind) check(news resource.PropertyMap) (resource.PropertyMap, failures) {
	out := news.Copy()
	var f failures
	for _, k := range []string{"name", "type"} {
		if !has(out, k) {
			f.add(k, "%s is required", k)
		}
	}
	f.unsupported(out, "", "xml", "source", "allocation", "available", "capacity")
	var in poolInputs
	if err := decodeStrict(knownPart(out), &in); err != nil {
		f.add("", "%v", err)
		return out, f
	}
	if in.Type != "" && in.Type != "dir" {
		f.add("type", "pool type %q is not implemented by this build of the libvirt provider (only \"dir\")", in.Type)
	}
	if has(out, "target") && has(out, "path") {
		f.add("path", "give the directory in target.path only (path is deprecated)")
	}
	if !has(out, "target") && !has(out, "path") {
		f.add("target", "a dir pool needs target.path")
	} else if p := in.targetPath(); p != "" && !filepath.IsAbs(p) {
		f.add("target", "target.path %q is not absolute", p)
	}
	return out, f
}

func (poolKind) create(_ context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	var in poolInputs
	if err := decodeInputs(inputs, &in); err != nil {
		return "", nil, err
	}
	def, err := poolXML(in)
	if err != nil {
		return "", nil, err
	}
	p, err := lv.StoragePoolDefineXML(def, 0)
	if err != nil {
		return "", nil, fmt.Errorf("define pool %s: %w", in.Name, err)
	}
	undo := func(err error) (string, resource.PropertyMap, error) {
		_ = lv.StoragePoolDestroy(p)
		_ = lv.StoragePoolUndefine(p)
		return "", nil, err
	}
	if err := lv.StoragePoolBuild(p, 0); err != nil {
		return undo(fmt.Errorf("build pool %s: %w", in.Name, err))
	}
	if err := lv.StoragePoolCreate(p, 0); err != nil {
		return undo(fmt.Errorf("start pool %s: %w", in.Name, err))
	}
	if err := lv.StoragePoolSetAutostart(p, 1); err != nil {
		return undo(fmt.Errorf("autostart pool %s: %w", in.Name, err))
	}
	return formatUUID(p.UUID), poolOutputs(lv, p, inputs), nil
}

// poolOutputs is the state: the inputs and the pool's sizes in bytes.
func poolOutputs(lv *libvirt.Libvirt, p libvirt.StoragePool, inputs resource.PropertyMap) resource.PropertyMap {
	out := inputs.Copy()
	if _, capacity, allocation, available, err := lv.StoragePoolGetInfo(p); err == nil {
		out["capacity"] = resource.NewNumberProperty(float64(capacity))
		out["allocation"] = resource.NewNumberProperty(float64(allocation))
		out["available"] = resource.NewNumberProperty(float64(available))
	}
	return out
}

func (poolKind) read(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	u, err := parseUUID(id)
	if err != nil {
		return "", nil, err
	}
	p, err := lv.StoragePoolLookupByUUID(u)
	if isMissing(err) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return id, poolOutputs(lv, p, state), nil
}

func (poolKind) update(context.Context, *libvirt.Libvirt, string, resource.PropertyMap, resource.PropertyMap) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("a pool is never updated in place, only replaced")
}

// delete stops the pool, removes its (empty) directory and undefines it.
func (poolKind) delete(_ context.Context, lv *libvirt.Libvirt, id string, _ resource.PropertyMap) error {
	u, err := parseUUID(id)
	if err != nil {
		return err
	}
	p, err := lv.StoragePoolLookupByUUID(u)
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := lv.StoragePoolDestroy(p); err != nil && !notRunning(err) {
		return fmt.Errorf("stop pool %s: %w", p.Name, err)
	}
	if err := lv.StoragePoolDelete(p, 0); err != nil && !isMissing(err) {
		return fmt.Errorf("delete the directory of pool %s (is it empty?): %w", p.Name, err)
	}
	if err := lv.StoragePoolUndefine(p); err != nil && !isMissing(err) {
		return fmt.Errorf("undefine pool %s: %w", p.Name, err)
	}
	return nil
}
