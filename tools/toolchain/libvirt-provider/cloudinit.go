package main

// libvirt:index/cloudInitDisk:CloudInitDisk: a cloud-init NoCloud seed, an ISO 9660 volume
// labelled "cidata" holding user-data, meta-data and network-config, uploaded into a pool. Its
// id is "<volume key>;<random UUID>", as the original provider makes it; a Domain's cloudinit
// takes that id (or a plain volume key).

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const cidataLabel = "cidata"

type cloudInitInputs struct {
	Name          string `json:"name"`
	Pool          string `json:"pool"`
	UserData      string `json:"userData"`
	MetaData      string `json:"metaData"`
	NetworkConfig string `json:"networkConfig"`
}

// seedFiles are the files of the seed: user-data and meta-data always (NoCloud reads both),
// network-config when given.
func (in cloudInitInputs) seedFiles() []isoFile {
	files := []isoFile{
		{Name: "user-data", Data: []byte(in.UserData)},
		{Name: "meta-data", Data: []byte(in.MetaData)},
	}
	if in.NetworkConfig != "" {
		files = append(files, isoFile{Name: "network-config", Data: []byte(in.NetworkConfig)})
	}
	return files
}

// volumeKeyOf is the volume key in a CloudInitDisk id ("key;uuid") or a plain key.
func volumeKeyOf(id string) string {
	key, _, _ := strings.Cut(id, ";")
	return key
}

type cloudInitKind struct{}

func (cloudInitKind) updatable() map[string]bool { return nil }

func (cloudInitKind) sameObject(olds, news resource.PropertyMap) bool {
	return sameValues(olds, news, "name", "pool")
}

func (cloudInitKind) check(news resource.PropertyMap) (resource.PropertyMap, failures) {
	out := news.Copy()
	setDefault(out, "pool", resource.NewStringProperty(defaultPool))
	var f failures
	if !has(out, "name") {
		f.add("name", "name is required")
	}
	var in cloudInitInputs
	if err := decodeStrict(knownPart(out), &in); err != nil {
		f.add("", "%v", err)
	}
	return out, f
}

func (cloudInitKind) create(_ context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	var in cloudInitInputs
	if err := decodeInputs(inputs, &in); err != nil {
		return "", nil, err
	}
	iso, err := buildISO(cidataLabel, in.seedFiles())
	if err != nil {
		return "", nil, err
	}
	pool, err := poolForNewVolume(lv, in.Pool, in.Name)
	if err != nil {
		return "", nil, err
	}
	vol, err := createAndUpload(lv, pool, in.Name, "raw", bytes.NewReader(iso), uint64(len(iso)))
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%s;%s", vol.Key, uuid.NewString()), inputs.Copy(), nil
}

func (cloudInitKind) read(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	_, ok, err := volumeByKey(lv, volumeKeyOf(id))
	if err != nil || !ok {
		return "", nil, err
	}
	return id, state, nil
}

func (cloudInitKind) update(context.Context, *libvirt.Libvirt, string, resource.PropertyMap, resource.PropertyMap) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("a cloud-init disk is never updated in place, only replaced")
}

func (cloudInitKind) delete(_ context.Context, lv *libvirt.Libvirt, id string, _ resource.PropertyMap) error {
	return deleteVolume(lv, volumeKeyOf(id))
}
