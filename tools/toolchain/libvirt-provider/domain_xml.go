package main

// The libvirt domain XML (https://libvirt.org/formatdomain.html) of a Domain's inputs, once the
// volumes and networks they name are resolved (domainPlan).

import (
	"encoding/xml"
	"fmt"
	"strings"
)

type domainInputs struct {
	Name              string              `json:"name"`
	Description       string              `json:"description"`
	Type              string              `json:"type"`
	Vcpu              int                 `json:"vcpu"`
	Memory            int                 `json:"memory"`
	Arch              string              `json:"arch"`
	Machine           string              `json:"machine"`
	Emulator          string              `json:"emulator"`
	Autostart         *bool               `json:"autostart"`
	Running           *bool               `json:"running"`
	QemuAgent         *bool               `json:"qemuAgent"`
	Cloudinit         string              `json:"cloudinit"`
	Kernel            string              `json:"kernel"`
	Initrd            string              `json:"initrd"`
	Cmdlines          []map[string]string `json:"cmdlines"`
	CPU               *domainCPU          `json:"cpu"`
	BootDevices       []domainBootDevice  `json:"bootDevices"`
	Disks             []domainDisk        `json:"disks"`
	NetworkInterfaces []domainInterface   `json:"networkInterfaces"`
	Consoles          []domainConsole     `json:"consoles"`
	Graphics          *domainGraphics     `json:"graphics"`
	Video             *domainVideo        `json:"video"`

	// Declared by the SDK, refused by Check (not implemented by this build).
	CoreosIgnition string     `json:"coreosIgnition"`
	FwCfgName      string     `json:"fwCfgName"`
	Filesystems    []any      `json:"filesystems"`
	Firmware       string     `json:"firmware"`
	Nvram          any        `json:"nvram"`
	Tpm            any        `json:"tpm"`
	Metadata       string     `json:"metadata"`
	XML            *xsltInput `json:"xml"`
}

type domainCPU struct {
	Mode string `json:"mode"`
}

type domainBootDevice struct {
	Devs []string `json:"devs"`
}

type domainDisk struct {
	VolumeID    string `json:"volumeId"`
	File        string `json:"file"`
	BlockDevice string `json:"blockDevice"`
	URL         string `json:"url"`
	SCSI        *bool  `json:"scsi"`
	WWN         string `json:"wwn"`
}

type domainInterface struct {
	NetworkID    string   `json:"networkId"`
	NetworkName  string   `json:"networkName"`
	Bridge       string   `json:"bridge"`
	Macvtap      string   `json:"macvtap"`
	Vepa         string   `json:"vepa"`
	Passthrough  string   `json:"passthrough"`
	MAC          string   `json:"mac"`
	Hostname     string   `json:"hostname"`
	Addresses    []string `json:"addresses"`
	WaitForLease *bool    `json:"waitForLease"`
}

type domainConsole struct {
	Type          string `json:"type"`
	TargetPort    string `json:"targetPort"`
	TargetType    string `json:"targetType"`
	SourcePath    string `json:"sourcePath"`
	SourceHost    string `json:"sourceHost"`
	SourceService string `json:"sourceService"`
}

type domainGraphics struct {
	Type          string `json:"type"`
	Autoport      *bool  `json:"autoport"`
	ListenType    string `json:"listenType"`
	ListenAddress string `json:"listenAddress"`
	Websocket     int    `json:"websocket"`
}

type domainVideo struct {
	Type string `json:"type"`
}

// domainPlan is what the inputs name, resolved against libvirt.
type domainPlan struct {
	Disks      []planDisk
	CloudInit  *planDisk
	Interfaces []planInterface
	Kernel     string // paths on the hypervisor host
	Initrd     string
}

type planDisk struct {
	Block  bool // a block device, not a file
	CDROM  bool
	Path   string
	Format string
	SCSI   bool
	WWN    string
}

type planInterface struct {
	Type   string // network, bridge or direct
	Source string // network name, bridge name or host device
	Mode   string // of a direct interface: bridge, vepa, passthrough
	MAC    string
}

type domXML struct {
	XMLName       xml.Name     `xml:"domain"`
	Type          string       `xml:"type,attr"`
	Name          string       `xml:"name"`
	Description   string       `xml:"description,omitempty"`
	Memory        domMemory    `xml:"memory"`
	CurrentMemory domMemory    `xml:"currentMemory"`
	VCPU          int          `xml:"vcpu"`
	CPU           *domCPU      `xml:"cpu"`
	OS            domOS        `xml:"os"`
	Features      *domFeatures `xml:"features"`
	Devices       domDevices   `xml:"devices"`
}

type domMemory struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

type domCPU struct {
	Mode string `xml:"mode,attr"`
}

type domOS struct {
	Type    domOSType `xml:"type"`
	Kernel  string    `xml:"kernel,omitempty"`
	Initrd  string    `xml:"initrd,omitempty"`
	Cmdline string    `xml:"cmdline,omitempty"`
	Boot    []domBoot `xml:"boot"`
}

type domOSType struct {
	Arch    string `xml:"arch,attr,omitempty"`
	Machine string `xml:"machine,attr,omitempty"`
	Value   string `xml:",chardata"`
}

type domBoot struct {
	Dev string `xml:"dev,attr"`
}

type domFeatures struct {
	ACPI *struct{} `xml:"acpi"`
	APIC *struct{} `xml:"apic"`
	PAE  *struct{} `xml:"pae"`
}

type domDevices struct {
	Emulator    string          `xml:"emulator,omitempty"`
	Disks       []domDisk       `xml:"disk"`
	Controllers []domController `xml:"controller"`
	Interfaces  []domInterface  `xml:"interface"`
	Consoles    []domConsole    `xml:"console"`
	Channels    []domChannel    `xml:"channel"`
	Graphics    []domGraphics   `xml:"graphics"`
	Videos      []domVideo      `xml:"video"`
	RNGs        []domRNG        `xml:"rng"`
}

type domDisk struct {
	Type     string        `xml:"type,attr"`
	Device   string        `xml:"device,attr"`
	Driver   domDiskDriver `xml:"driver"`
	Source   domDiskSource `xml:"source"`
	Target   domDiskTarget `xml:"target"`
	ReadOnly *struct{}     `xml:"readonly"`
	WWN      string        `xml:"wwn,omitempty"`
}

type domDiskDriver struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type domDiskSource struct {
	File string `xml:"file,attr,omitempty"`
	Dev  string `xml:"dev,attr,omitempty"`
}

type domDiskTarget struct {
	Dev string `xml:"dev,attr"`
	Bus string `xml:"bus,attr"`
}

type domController struct {
	Type  string `xml:"type,attr"`
	Model string `xml:"model,attr,omitempty"`
}

type domInterface struct {
	Type   string             `xml:"type,attr"`
	MAC    *domMAC            `xml:"mac"`
	Source domInterfaceSource `xml:"source"`
	Model  domModel           `xml:"model"`
}

type domMAC struct {
	Address string `xml:"address,attr"`
}

type domInterfaceSource struct {
	Network string `xml:"network,attr,omitempty"`
	Bridge  string `xml:"bridge,attr,omitempty"`
	Dev     string `xml:"dev,attr,omitempty"`
	Mode    string `xml:"mode,attr,omitempty"`
}

type domModel struct {
	Type string `xml:"type,attr"`
}

type domConsole struct {
	Type   string            `xml:"type,attr"`
	Source *domConsoleSource `xml:"source"`
	Target domConsoleTarget  `xml:"target"`
}

type domConsoleSource struct {
	Path    string `xml:"path,attr,omitempty"`
	Host    string `xml:"host,attr,omitempty"`
	Service string `xml:"service,attr,omitempty"`
}

type domConsoleTarget struct {
	Type string `xml:"type,attr,omitempty"`
	Port string `xml:"port,attr,omitempty"`
}

type domChannel struct {
	Type   string           `xml:"type,attr"`
	Target domChannelTarget `xml:"target"`
}

type domChannelTarget struct {
	Type string `xml:"type,attr"`
	Name string `xml:"name,attr"`
}

type domGraphics struct {
	Type      string     `xml:"type,attr"`
	Autoport  string     `xml:"autoport,attr,omitempty"`
	Websocket int        `xml:"websocket,attr,omitempty"`
	Listen    *domListen `xml:"listen"`
}

type domListen struct {
	Type    string `xml:"type,attr"`
	Address string `xml:"address,attr,omitempty"`
}

type domVideo struct {
	Model domModel `xml:"model"`
}

type domRNG struct {
	Model   string        `xml:"model,attr"`
	Backend domRNGBackend `xml:"backend"`
}

type domRNGBackend struct {
	Model string `xml:"model,attr"`
	Value string `xml:",chardata"`
}

// kernelCmdline joins the cmdlines maps: key=value, or the bare value of key "_"; the keys of
// one map in sorted order, the maps in their order.
func kernelCmdline(maps []map[string]string) string {
	var words []string
	for _, m := range maps {
		keys := sortedKeys(m)
		for _, k := range keys {
			if k == "_" {
				words = append(words, m[k])
			} else {
				words = append(words, k+"="+m[k])
			}
		}
	}
	return strings.Join(words, " ")
}

// diskNames hands out target device names per prefix (vda, vdb, ...; sda, ...; hda, ...).
type diskNames map[string]int

func (n diskNames) next(prefix string) string {
	i := n[prefix]
	n[prefix] = i + 1
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('a'+(i-1)%26)) + name
	}
	return prefix + name
}

func isX86(arch string) bool {
	return arch == "" || arch == "x86_64" || arch == "i686"
}

// domainXML renders the definition of in with its resolved plan.
func domainXML(in domainInputs, plan domainPlan) (string, error) {
	def := domXML{
		Type:          orDefault(in.Type, "kvm"),
		Name:          in.Name,
		Description:   in.Description,
		Memory:        domMemory{Unit: "MiB", Value: in.Memory},
		CurrentMemory: domMemory{Unit: "MiB", Value: in.Memory},
		VCPU:          in.Vcpu,
		OS: domOS{
			Type:    domOSType{Arch: in.Arch, Machine: in.Machine, Value: "hvm"},
			Kernel:  plan.Kernel,
			Initrd:  plan.Initrd,
			Cmdline: kernelCmdline(in.Cmdlines),
		},
		Devices: domDevices{Emulator: in.Emulator},
	}
	if in.CPU != nil && in.CPU.Mode != "" {
		def.CPU = &domCPU{Mode: in.CPU.Mode}
	}
	if isX86(in.Arch) {
		def.Features = &domFeatures{ACPI: &struct{}{}, APIC: &struct{}{}, PAE: &struct{}{}}
	}
	for _, b := range in.BootDevices {
		for _, dev := range b.Devs {
			def.OS.Boot = append(def.OS.Boot, domBoot{Dev: dev})
		}
	}
	names := diskNames{}
	cdromBus, cdromPrefix := "ide", "hd"
	if strings.Contains(in.Machine, "q35") || !isX86(in.Arch) {
		cdromBus, cdromPrefix = "sata", "sd"
	}
	if !isX86(in.Arch) {
		cdromBus = "scsi"
	}
	scsi := false
	disks := append([]planDisk(nil), plan.Disks...)
	if plan.CloudInit != nil {
		disks = append(disks, *plan.CloudInit)
	}
	for _, d := range disks {
		disk := domDisk{Type: "file", Device: "disk", Driver: domDiskDriver{Name: "qemu", Type: orDefault(d.Format, "raw")}}
		if d.Block {
			disk.Type = "block"
			disk.Source.Dev = d.Path
		} else {
			disk.Source.File = d.Path
		}
		switch {
		case d.CDROM:
			disk.Device = "cdrom"
			disk.Driver.Type = "raw"
			disk.ReadOnly = &struct{}{}
			disk.Target = domDiskTarget{Dev: names.next(cdromPrefix), Bus: cdromBus}
			scsi = scsi || cdromBus == "scsi"
		case d.SCSI:
			disk.Target = domDiskTarget{Dev: names.next("sd"), Bus: "scsi"}
			disk.WWN = d.WWN
			scsi = true
		default:
			disk.Target = domDiskTarget{Dev: names.next("vd"), Bus: "virtio"}
		}
		def.Devices.Disks = append(def.Devices.Disks, disk)
	}
	if scsi {
		def.Devices.Controllers = append(def.Devices.Controllers, domController{Type: "scsi", Model: "virtio-scsi"})
	}
	for _, ifc := range plan.Interfaces {
		x := domInterface{Type: ifc.Type, Model: domModel{Type: "virtio"}}
		if ifc.MAC != "" {
			x.MAC = &domMAC{Address: ifc.MAC}
		}
		switch ifc.Type {
		case "network":
			x.Source.Network = ifc.Source
		case "bridge":
			x.Source.Bridge = ifc.Source
		case "direct":
			x.Source.Dev, x.Source.Mode = ifc.Source, ifc.Mode
		default:
			return "", fmt.Errorf("interface type %q", ifc.Type)
		}
		def.Devices.Interfaces = append(def.Devices.Interfaces, x)
	}
	for _, c := range in.Consoles {
		x := domConsole{Type: c.Type, Target: domConsoleTarget{Type: c.TargetType, Port: c.TargetPort}}
		if c.SourcePath != "" || c.SourceHost != "" || c.SourceService != "" {
			x.Source = &domConsoleSource{Path: c.SourcePath, Host: c.SourceHost, Service: c.SourceService}
		}
		def.Devices.Consoles = append(def.Devices.Consoles, x)
	}
	if boolOr(in.QemuAgent, false) {
		def.Devices.Channels = append(def.Devices.Channels, domChannel{Type: "unix",
			Target: domChannelTarget{Type: "virtio", Name: "org.qemu.guest_agent.0"}})
	}
	if g := in.Graphics; g != nil {
		x := domGraphics{Type: orDefault(g.Type, "spice"), Autoport: "yes", Websocket: g.Websocket}
		if !boolOr(g.Autoport, true) {
			x.Autoport = "no"
		}
		switch lt := orDefault(g.ListenType, "none"); lt {
		case "address":
			x.Listen = &domListen{Type: lt, Address: orDefault(g.ListenAddress, "127.0.0.1")}
		default:
			x.Listen = &domListen{Type: lt}
		}
		def.Devices.Graphics = append(def.Devices.Graphics, x)
	}
	if in.Video != nil && in.Video.Type != "" {
		def.Devices.Videos = append(def.Devices.Videos, domVideo{Model: domModel{Type: in.Video.Type}})
	}
	def.Devices.RNGs = append(def.Devices.RNGs, domRNG{Model: "virtio",
		Backend: domRNGBackend{Model: "random", Value: "/dev/urandom"}})
	return marshalXML(def)
}

// interfaceKinds are the inputs of a network interface that say what it attaches to.
var interfaceKinds = []string{"networkId", "networkName", "bridge", "macvtap", "vepa", "passthrough"}

// attachment is the one attachment an interface names (its input key and value).
func (i domainInterface) attachment() (string, string, int) {
	var key, value string
	n := 0
	for _, kv := range [][2]string{{"networkId", i.NetworkID}, {"networkName", i.NetworkName},
		{"bridge", i.Bridge}, {"macvtap", i.Macvtap}, {"vepa", i.Vepa}, {"passthrough", i.Passthrough}} {
		if kv[1] != "" {
			key, value = kv[0], kv[1]
			n++
		}
	}
	return key, value, n
}

var directModes = map[string]string{"macvtap": "bridge", "vepa": "vepa", "passthrough": "passthrough"}
