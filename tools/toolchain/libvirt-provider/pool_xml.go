package main

// The libvirt storage pool XML (https://libvirt.org/formatstorage.html) of a Pool's inputs.

import "encoding/xml"

type poolInputs struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Path       string      `json:"path"`
	Target     *poolTarget `json:"target"`
	Source     *poolSource `json:"source"`
	XML        *xsltInput  `json:"xml"`
	Allocation *float64    `json:"allocation"`
	Available  *float64    `json:"available"`
	Capacity   *float64    `json:"capacity"`
}

type poolTarget struct {
	Path string `json:"path"`
}

type poolSource struct {
	Name    string `json:"name"`
	Devices []struct {
		Path string `json:"path"`
	} `json:"devices"`
}

// targetPath is target.path, or the deprecated path.
func (in poolInputs) targetPath() string {
	if in.Target != nil && in.Target.Path != "" {
		return in.Target.Path
	}
	return in.Path
}

type poolXMLDef struct {
	XMLName xml.Name      `xml:"pool"`
	Type    string        `xml:"type,attr"`
	Name    string        `xml:"name"`
	Target  poolXMLTarget `xml:"target"`
}

type poolXMLTarget struct {
	Path string `xml:"path"`
}

func poolXML(in poolInputs) (string, error) {
	return marshalXML(poolXMLDef{Type: in.Type, Name: in.Name, Target: poolXMLTarget{Path: in.targetPath()}})
}
