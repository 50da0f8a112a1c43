package main

// libvirt:index/volume:Volume: a storage volume in a pool; empty of a size, uploaded from a
// source (file or http(s) URL), or a qcow2 copy-on-write layer over a base volume. Its id is the
// volume's key (its path, for a dir pool).

import (
	"context"
	"fmt"
	"io"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const defaultPool = "default"

type volumeInputs struct {
	Name           string     `json:"name"`
	Pool           string     `json:"pool"`
	Source         string     `json:"source"`
	Size           *float64   `json:"size"`
	Format         string     `json:"format"`
	BaseVolumeID   string     `json:"baseVolumeId"`
	BaseVolumeName string     `json:"baseVolumeName"`
	BaseVolumePool string     `json:"baseVolumePool"`
	XML            *xsltInput `json:"xml"`
}

type volumeKind struct{}

func (volumeKind) updatable() map[string]bool { return nil }

func (volumeKind) sameObject(olds, news resource.PropertyMap) bool {
	return sameValues(olds, news, "name", "pool")
}

func (volumeKind) check(news resource.PropertyMap) (resource.PropertyMap, failures) {
	out := news.Copy()
	setDefault(out, "pool", resource.NewStringProperty(defaultPool))
	var f failures
	if !has(out, "name") {
		f.add("name", "name is required")
	}
	f.unsupported(out, "", "xml")
	if has(out, "source") && has(out, "size") {
		f.add("size", "size can't be given with source: the volume takes the size of its source")
	}
	if has(out, "source") && (has(out, "baseVolumeId") || has(out, "baseVolumeName")) {
		f.add("source", "a volume comes either from source or from a base volume, not both")
	}
	if has(out, "baseVolumeId") && has(out, "baseVolumeName") {
		f.add("baseVolumeName", "give the base volume by baseVolumeId or by baseVolumeName, not both")
	}
	if has(out, "baseVolumePool") && !has(out, "baseVolumeName") {
		f.add("baseVolumePool", "baseVolumePool only goes with baseVolumeName")
	}
	if !has(out, "source") && !has(out, "size") && !has(out, "baseVolumeId") && !has(out, "baseVolumeName") {
		f.add("size", "a volume needs a size, a source or a base volume")
	}
	var in volumeInputs
	if err := decodeStrict(knownPart(out), &in); err != nil {
		f.add("", "%v", err)
		return out, f
	}
	if in.Size != nil && *in.Size <= 0 {
		f.add("size", "size must be a positive number of bytes")
	}
	if (in.BaseVolumeID != "" || in.BaseVolumeName != "") && in.Format != "" && in.Format != "qcow2" {
		f.add("format", "a volume over a base volume is a qcow2 layer, not %q", in.Format)
	}
	return out, f
}

func (volumeKind) create(ctx context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	var in volumeInputs
	if err := decodeInputs(inputs, &in); err != nil {
		return "", nil, err
	}
	pool, err := poolForNewVolume(lv, in.Pool, in.Name)
	if err != nil {
		return "", nil, err
	}
	var vol libvirt.StorageVol
	format := in.Format
	switch {
	case in.Source != "":
		src, err := openSource(ctx, in.Source)
		if err != nil {
			return "", nil, err
		}
		defer src.Close()
		if format == "" {
			format = src.format()
		}
		vol, err = createAndUpload(lv, pool, in.Name, format, src, src.size)
		if err != nil {
			return "", nil, err
		}
	case in.BaseVolumeID != "" || in.BaseVolumeName != "":
		base, err := baseVolume(lv, in)
		if err != nil {
			return "", nil, err
		}
		capacity := base.Capacity
		if in.Size != nil {
			capacity = uint64(*in.Size)
		}
		format = "qcow2"
		def, err := newVolumeXML(in.Name, capacity, format, base.Path, base.Format)
		if err != nil {
			return "", nil, err
		}
		if vol, err = lv.StorageVolCreateXML(pool, def, 0); err != nil {
			return "", nil, fmt.Errorf("create volume %s over %s: %w", in.Name, base.Path, err)
		}
	default:
		format = orDefault(format, "qcow2")
		def, err := newVolumeXML(in.Name, uint64(*in.Size), format, "", "")
		if err != nil {
			return "", nil, err
		}
		if vol, err = lv.StorageVolCreateXML(pool, def, 0); err != nil {
			return "", nil, fmt.Errorf("create volume %s: %w", in.Name, err)
		}
	}
	out := inputs.Copy()
	out["format"] = resource.NewStringProperty(format)
	if !has(out, "size") {
		if _, capacity, _, err := lv.StorageVolGetInfo(vol); err == nil {
			out["size"] = resource.NewNumberProperty(float64(capacity))
		}
	}
	return vol.Key, out, nil
}

// poolForNewVolume finds the pool and makes sure it has no volume called name yet.
func poolForNewVolume(lv *libvirt.Libvirt, poolName, name string) (libvirt.StoragePool, error) {
	pool, err := lv.StoragePoolLookupByName(poolName)
	if err != nil {
		return pool, fmt.Errorf("storage pool %s: %w", poolName, err)
	}
	if _, err := lv.StorageVolLookupByName(pool, name); err == nil {
		return pool, fmt.Errorf("storage volume %s already exists in pool %s", name, poolName)
	} else if !isMissing(err) {
		return pool, fmt.Errorf("look for volume %s in pool %s: %w", name, poolName, err)
	}
	return pool, nil
}

// createAndUpload makes a volume of size bytes and streams data into it; the volume is deleted
// again when the upload fails.
func createAndUpload(lv *libvirt.Libvirt, pool libvirt.StoragePool, name, format string, data io.Reader,
	size uint64,
) (libvirt.StorageVol, error) {
	def, err := newVolumeXML(name, size, format, "", "")
	if err != nil {
		return libvirt.StorageVol{}, err
	}
	vol, err := lv.StorageVolCreateXML(pool, def, 0)
	if err != nil {
		return vol, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := lv.StorageVolUpload(vol, data, 0, size, 0); err != nil {
		_ = lv.StorageVolDelete(vol, 0)
		return vol, fmt.Errorf("upload into volume %s: %w", name, err)
	}
	return vol, nil
}

// baseVolume describes the base volume of in, found by key or by name in its pool.
func baseVolume(lv *libvirt.Libvirt, in volumeInputs) (volumeFacts, error) {
	var vol libvirt.StorageVol
	var err error
	if in.BaseVolumeID != "" {
		vol, err = lv.StorageVolLookupByKey(in.BaseVolumeID)
	} else {
		var pool libvirt.StoragePool
		poolName := orDefault(in.BaseVolumePool, in.Pool)
		if pool, err = lv.StoragePoolLookupByName(poolName); err == nil {
			vol, err = lv.StorageVolLookupByName(pool, in.BaseVolumeName)
		}
	}
	if err != nil {
		return volumeFacts{}, fmt.Errorf("base volume: %w", err)
	}
	return describeVolume(lv, vol)
}

func describeVolume(lv *libvirt.Libvirt, vol libvirt.StorageVol) (volumeFacts, error) {
	desc, err := lv.StorageVolGetXMLDesc(vol, 0)
	if err != nil {
		return volumeFacts{}, fmt.Errorf("describe volume %s: %w", vol.Key, err)
	}
	facts, err := parseVolumeXML(desc)
	if err != nil {
		return facts, err
	}
	if facts.Path == "" {
		facts.Path = vol.Key
	}
	return facts, nil
}

// volumeByKey finds a volume by its key; ok is false when there is none.
func volumeByKey(lv *libvirt.Libvirt, key string) (libvirt.StorageVol, bool, error) {
	vol, err := lv.StorageVolLookupByKey(key)
	if isMissing(err) {
		return vol, false, nil
	}
	if err != nil {
		return vol, false, fmt.Errorf("look up volume %s: %w", key, err)
	}
	return vol, true, nil
}

func (volumeKind) read(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	vol, ok, err := volumeByKey(lv, id)
	if err != nil || !ok {
		return "", nil, err
	}
	out := state.Copy()
	if facts, err := describeVolume(lv, vol); err == nil && facts.Format != "" {
		out["format"] = resource.NewStringProperty(facts.Format)
	}
	return vol.Key, out, nil
}

func (volumeKind) update(context.Context, *libvirt.Libvirt, string, resource.PropertyMap, resource.PropertyMap) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("a volume is never updated in place, only replaced")
}

func (volumeKind) delete(_ context.Context, lv *libvirt.Libvirt, id string, _ resource.PropertyMap) error {
	return deleteVolume(lv, id)
}

func deleteVolume(lv *libvirt.Libvirt, key string) error {
	vol, ok, err := volumeByKey(lv, key)
	if err != nil || !ok {
		return err
	}
	if err := lv.StorageVolDelete(vol, 0); err != nil && !isMissing(err) {
		return fmt.Errorf("delete volume %s: %w", key, err)
	}
	return nil
}
