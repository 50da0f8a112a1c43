package main

// The libvirt storage volume XML (https://libvirt.org/formatstorage.html): the definition of a
// new volume, and the parts of a volume's own description read back.

import (
	"encoding/xml"
	"fmt"
)

// volumeMode is the permission of the files of new volumes (as the original provider sets).
const volumeMode = "0644"

type volDef struct {
	XMLName      xml.Name    `xml:"volume"`
	Type         string      `xml:"type,attr,omitempty"`
	Name         string      `xml:"name"`
	Key          string      `xml:"key,omitempty"`
	Capacity     volSize     `xml:"capacity"`
	Allocation   *volSize    `xml:"allocation"`
	Target       volTarget   `xml:"target"`
	BackingStore *volBacking `xml:"backingStore"`
}

type volSize struct {
	Unit  string `xml:"unit,attr,omitempty"`
	Value uint64 `xml:",chardata"`
}

type volTarget struct {
	Path        string          `xml:"path,omitempty"`
	Format      *volFormat      `xml:"format"`
	Permissions *volPermissions `xml:"permissions"`
}

type volFormat struct {
	Type string `xml:"type,attr"`
}

type volPermissions struct {
	Mode string `xml:"mode"`
}

type volBacking struct {
	Path   string     `xml:"path"`
	Format *volFormat `xml:"format"`
}

// newVolumeXML is the definition of a volume of capacity bytes, in format (qcow2, raw, ...),
// optionally a copy-on-write layer over backing (with its format).
func newVolumeXML(name string, capacity uint64, format, backingPath, backingFormat string) (string, error) {
	def := volDef{
		Name:       name,
		Capacity:   volSize{Unit: "bytes", Value: capacity},
		Allocation: &volSize{Unit: "bytes", Value: 0},
		Target:     volTarget{Format: &volFormat{Type: format}, Permissions: &volPermissions{Mode: volumeMode}},
	}
	if backingPath != "" {
		def.BackingStore = &volBacking{Path: backingPath, Format: &volFormat{Type: orDefault(backingFormat, "raw")}}
	}
	return marshalXML(def)
}

// volumeFacts is what a volume's description says of it.
type volumeFacts struct {
	Type     string // file, block, ...
	Path     string
	Format   string
	Capacity uint64
}

func parseVolumeXML(desc string) (volumeFacts, error) {
	var def volDef
	if err := xml.Unmarshal([]byte(desc), &def); err != nil {
		return volumeFacts{}, fmt.Errorf("read volume XML: %w", err)
	}
	f := volumeFacts{Type: orDefault(def.Type, "file"), Path: def.Target.Path, Capacity: def.Capacity.Value}
	if def.Target.Format != nil {
		f.Format = def.Target.Format.Type
	}
	if def.Capacity.Unit != "" && def.Capacity.Unit != "bytes" && def.Capacity.Unit != "B" {
		return volumeFacts{}, fmt.Errorf("volume XML: capacity in %q, not bytes", def.Capacity.Unit)
	}
	return f, nil
}
