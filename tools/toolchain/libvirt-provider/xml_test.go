package main

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// labNetwork is the network components/lab.py declares.
func labNetwork() networkInputs {
	return networkInputs{
		Name: "ha-swarm-dev", Mode: "nat", Domain: "dev.ha-swarm.internal",
		Addresses: []string{"10.231.90.0/24"}, Autostart: ptr(true),
		DHCP: &networkDHCP{Enabled: ptr(true)}, DNS: &networkDNS{Enabled: ptr(true), LocalOnly: ptr(true)},
	}
}

func TestNetworkXMLForTheLabNetwork(t *testing.T) {
	doc, err := networkXML(labNetwork())
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if n.XMLName.Local != "network" || n.one(t, "name").text() != "ha-swarm-dev" {
		t.Fatalf("not the network:\n%s", doc)
	}
	if got := n.one(t, "forward").attr("mode"); got != "nat" {
		t.Errorf("forward mode %q", got)
	}
	dom := n.one(t, "domain")
	if dom.attr("name") != "dev.ha-swarm.internal" || dom.attr("localOnly") != "yes" {
		t.Errorf("domain %+v", dom.Attrs)
	}
	ip := n.one(t, "ip")
	if ip.attr("address") != "10.231.90.1" || ip.attr("prefix") != "24" {
		t.Errorf("ip %+v", ip.Attrs)
	}
	r := ip.one(t, "dhcp/range")
	if r.attr("start") != "10.231.90.2" || r.attr("end") != "10.231.90.254" {
		t.Errorf("dhcp range %+v", r.Attrs)
	}
	if len(n.all("bridge")) != 0 {
		t.Error("a bridge name was given although none was asked for")
	}
}

func TestNetworkXMLIsolatedWithoutDHCP(t *testing.T) {
	in := labNetwork()
	in.Mode = "none"
	in.DHCP = &networkDHCP{Enabled: ptr(false)}
	in.DNS = &networkDNS{Enabled: ptr(false)}
	in.Addresses = []string{"10.231.90.77/24", "fd00:231:90::/64"}
	in.Bridge = "virbr231"
	in.MTU = 1400
	doc, err := networkXML(in)
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if len(n.all("forward")) != 0 {
		t.Error("isolated network has a forward element")
	}
	if len(n.all("ip/dhcp")) != 0 {
		t.Error("dhcp although disabled")
	}
	if n.one(t, "dns").attr("enable") != "no" {
		t.Error("dns not disabled")
	}
	if got := n.one(t, "dns"); len(got.Children) != 0 {
		t.Error("disabled dns has children")
	}
	if n.one(t, "domain").attr("localOnly") != "" {
		t.Error("localOnly without dns.localOnly")
	}
	ips := n.all("ip")
	if len(ips) != 2 || ips[0].attr("address") != "10.231.90.1" || ips[1].attr("family") != "ipv6" ||
		ips[1].attr("address") != "fd00:231:90::1" || ips[1].attr("prefix") != "64" {
		t.Errorf("ips:\n%s", doc)
	}
	if b := n.one(t, "bridge"); b.attr("name") != "virbr231" || b.attr("stp") != "on" {
		t.Errorf("bridge %+v", b.Attrs)
	}
	if n.one(t, "mtu").attr("size") != "1400" {
		t.Error("mtu")
	}
}

func TestNetworkXMLDNSRoutesAndDnsmasqOptions(t *testing.T) {
	in := labNetwork()
	in.DNS.Hosts = []networkDNSHost{{Hostname: "a", IP: "10.231.90.5"}, {Hostname: "b", IP: "10.231.90.5"}}
	in.DNS.Forwarders = []networkForwarder{{Address: "10.0.0.53", Domain: "corp"}}
	in.DNS.SRVs = []networkSRV{{Service: "ldap", Protocol: "tcp", Domain: "x", Target: "t", Port: "389"}}
	in.Routes = []networkRoute{{CIDR: "10.1.0.0/16", Gateway: "10.231.90.2"}}
	in.DnsmasqOptions = &networkDnsmasq{}
	in.DnsmasqOptions.Options = append(in.DnsmasqOptions.Options, struct {
		OptionName  string `json:"optionName"`
		OptionValue string `json:"optionValue"`
	}{"server", "/x/1.2.3.4"})
	doc, err := networkXML(in)
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	host := n.one(t, "dns/host")
	if host.attr("ip") != "10.231.90.5" || len(host.all("hostname")) != 2 {
		t.Errorf("dns hosts:\n%s", doc)
	}
	if f := n.one(t, "dns/forwarder"); f.attr("addr") != "10.0.0.53" || f.attr("domain") != "corp" {
		t.Errorf("forwarder %+v", f.Attrs)
	}
	if s := n.one(t, "dns/srv"); s.attr("service") != "ldap" || s.attr("port") != "389" {
		t.Errorf("srv %+v", s.Attrs)
	}
	if r := n.one(t, "route"); r.attr("address") != "10.1.0.0" || r.attr("prefix") != "16" || r.attr("gateway") != "10.231.90.2" {
		t.Errorf("route %+v", r.Attrs)
	}
	if !strings.Contains(doc, `xmlns:dnsmasq="`+dnsmasqNamespace+`"`) ||
		!strings.Contains(doc, `<dnsmasq:option value="server=/x/1.2.3.4">`) {
		t.Errorf("dnsmasq options:\n%s", doc)
	}
}

func TestNetworkXMLRefusesBadAddresses(t *testing.T) {
	for _, a := range []string{"10.231.90.0", "10.231.90.0/31", "nonsense/24"} {
		in := labNetwork()
		in.Addresses = []string{a}
		if _, err := networkXML(in); err == nil {
			t.Errorf("address %q accepted", a)
		}
	}
}

func TestPoolXML(t *testing.T) {
	doc, err := poolXML(poolInputs{Name: "ha-swarm-dev", Type: "dir", Target: &poolTarget{Path: "/var/lib/libvirt/images/ha-swarm-dev"}})
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if n.XMLName.Local != "pool" || n.attr("type") != "dir" || n.one(t, "name").text() != "ha-swarm-dev" ||
		n.one(t, "target/path").text() != "/var/lib/libvirt/images/ha-swarm-dev" {
		t.Errorf("pool XML:\n%s", doc)
	}
	// The deprecated path works too.
	doc, _ = poolXML(poolInputs{Name: "p", Type: "dir", Path: "/srv/p"})
	if parseXMLTree(t, doc).one(t, "target/path").text() != "/srv/p" {
		t.Errorf("pool XML from path:\n%s", doc)
	}
}

func TestVolumeXML(t *testing.T) {
	doc, err := newVolumeXML("root.qcow2", 20<<30, "qcow2", "/pool/base.qcow2", "qcow2")
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if n.one(t, "name").text() != "root.qcow2" {
		t.Error("name")
	}
	c := n.one(t, "capacity")
	if c.attr("unit") != "bytes" || c.text() != "21474836480" {
		t.Errorf("capacity %+v %q", c.Attrs, c.text())
	}
	if n.one(t, "allocation").text() != "0" {
		t.Error("allocation")
	}
	if n.one(t, "target/format").attr("type") != "qcow2" || n.one(t, "target/permissions/mode").text() != "0644" {
		t.Errorf("target:\n%s", doc)
	}
	if n.one(t, "backingStore/path").text() != "/pool/base.qcow2" || n.one(t, "backingStore/format").attr("type") != "qcow2" {
		t.Errorf("backing store:\n%s", doc)
	}
	doc, _ = newVolumeXML("kernel", 1234, "raw", "", "")
	if len(parseXMLTree(t, doc).all("backingStore")) != 0 {
		t.Error("backing store without a base")
	}
}

func TestParseVolumeXMLAsLibvirtWritesIt(t *testing.T) {
	desc := `<volume type='file'>
  <name>root.qcow2</name>
  <key>/var/lib/libvirt/images/p/root.qcow2</key>
  <capacity unit='bytes'>21474836480</capacity>
  <allocation unit='bytes'>196616</allocation>
  <target>
    <path>/var/lib/libvirt/images/p/root.qcow2</path>
    <format type='qcow2'/>
  </target>
</volume>`
	f, err := parseVolumeXML(desc)
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != "file" || f.Path != "/var/lib/libvirt/images/p/root.qcow2" || f.Format != "qcow2" || f.Capacity != 21474836480 {
		t.Errorf("%+v", f)
	}
}

// labDomain is a domain as components/lab.py declares it, with direct kernel boot.
func labDomain() (domainInputs, domainPlan) {
	in := domainInputs{
		Name: "ha-swarm-dev-node1", Type: "qemu", Vcpu: 2, Memory: 2048, Autostart: ptr(true),
		Cloudinit: "/pool/seed.iso;c7d8b1f2-0000-4000-8000-000000000000",
		Kernel:    "/pool/kernel", Initrd: "/pool/initrd",
		Cmdlines: []map[string]string{{"console": "ttyS0"}, {"root": "/dev/vda1"}, {"_": "ro"}},
		Disks:    []domainDisk{{VolumeID: "/pool/root.qcow2"}},
		NetworkInterfaces: []domainInterface{{NetworkID: "0b3a6a4e-7c1b-4f7e-9a43-6f0d7b1c2d3e",
			MAC: "52:54:00:12:34:56", Addresses: []string{"10.231.90.11"}, Hostname: "node1", WaitForLease: ptr(false)}},
		Consoles: []domainConsole{
			{Type: "pty", TargetType: "serial", TargetPort: "0"},
			{Type: "pty", TargetType: "virtio", TargetPort: "1"},
		},
	}
	plan := domainPlan{
		Disks:      []planDisk{{Path: "/pool/root.qcow2", Format: "qcow2"}},
		CloudInit:  &planDisk{CDROM: true, Path: "/pool/seed.iso", Format: "raw"},
		Interfaces: []planInterface{{Type: "network", Source: "ha-swarm-dev", MAC: "52:54:00:12:34:56"}},
		Kernel:     "/pool/kernel", Initrd: "/pool/initrd",
	}
	return in, plan
}

func TestDomainXMLForALabNode(t *testing.T) {
	in, plan := labDomain()
	doc, err := domainXML(in, plan)
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if n.attr("type") != "qemu" || n.one(t, "name").text() != "ha-swarm-dev-node1" {
		t.Errorf("domain head:\n%s", doc)
	}
	if m := n.one(t, "memory"); m.attr("unit") != "MiB" || m.text() != "2048" {
		t.Errorf("memory %+v %s", m.Attrs, m.text())
	}
	if n.one(t, "vcpu").text() != "2" {
		t.Error("vcpu")
	}
	if len(n.all("cpu")) != 0 {
		t.Error("cpu element without cpu.mode")
	}
	os := n.one(t, "os")
	if os.one(t, "type").text() != "hvm" || os.one(t, "kernel").text() != "/pool/kernel" ||
		os.one(t, "initrd").text() != "/pool/initrd" || os.one(t, "cmdline").text() != "console=ttyS0 root=/dev/vda1 ro" {
		t.Errorf("os:\n%s", doc)
	}
	disks := n.all("devices/disk")
	if len(disks) != 2 {
		t.Fatalf("disks:\n%s", doc)
	}
	root, seed := disks[0], disks[1]
	if root.attr("device") != "disk" || root.one(t, "source").attr("file") != "/pool/root.qcow2" ||
		root.one(t, "driver").attr("type") != "qcow2" || root.one(t, "target").attr("dev") != "vda" ||
		root.one(t, "target").attr("bus") != "virtio" {
		t.Errorf("root disk:\n%s", doc)
	}
	if seed.attr("device") != "cdrom" || seed.one(t, "source").attr("file") != "/pool/seed.iso" ||
		seed.one(t, "target").attr("bus") != "ide" || len(seed.all("readonly")) != 1 {
		t.Errorf("cloud-init cdrom:\n%s", doc)
	}
	ifc := n.one(t, "devices/interface")
	if ifc.attr("type") != "network" || ifc.one(t, "source").attr("network") != "ha-swarm-dev" ||
		ifc.one(t, "mac").attr("address") != "52:54:00:12:34:56" || ifc.one(t, "model").attr("type") != "virtio" {
		t.Errorf("interface:\n%s", doc)
	}
	consoles := n.all("devices/console")
	if len(consoles) != 2 || consoles[0].one(t, "target").attr("type") != "serial" ||
		consoles[0].one(t, "target").attr("port") != "0" || consoles[1].one(t, "target").attr("type") != "virtio" ||
		consoles[1].one(t, "target").attr("port") != "1" || consoles[1].attr("type") != "pty" {
		t.Errorf("consoles:\n%s", doc)
	}
	if len(n.all("devices/graphics")) != 0 || len(n.all("devices/video")) != 0 {
		t.Error("graphics or video without graphics asked")
	}
}

func TestDomainXMLOptions(t *testing.T) {
	in, plan := labDomain()
	in.Type = "kvm"
	in.CPU = &domainCPU{Mode: "host-passthrough"}
	in.Machine = "q35"
	in.QemuAgent = ptr(true)
	in.Graphics = &domainGraphics{Type: "vnc", ListenType: "address", ListenAddress: "0.0.0.0"}
	in.Video = &domainVideo{Type: "virtio"}
	in.BootDevices = []domainBootDevice{{Devs: []string{"hd", "network"}}}
	in.Description = "node one"
	plan.Disks = append(plan.Disks, planDisk{Block: true, Path: "/dev/sdz", Format: "raw", SCSI: true, WWN: "5000c50015ea71ad"})
	plan.Interfaces = append(plan.Interfaces,
		planInterface{Type: "bridge", Source: "br0", MAC: "52:54:00:00:00:02"},
		planInterface{Type: "direct", Source: "eth1", Mode: "vepa"})
	doc, err := domainXML(in, plan)
	if err != nil {
		t.Fatal(err)
	}
	n := parseXMLTree(t, doc)
	if n.attr("type") != "kvm" || n.one(t, "cpu").attr("mode") != "host-passthrough" ||
		n.one(t, "os/type").attr("machine") != "q35" || n.one(t, "description").text() != "node one" {
		t.Errorf("head:\n%s", doc)
	}
	boots := n.all("os/boot")
	if len(boots) != 2 || boots[0].attr("dev") != "hd" || boots[1].attr("dev") != "network" {
		t.Errorf("boot order:\n%s", doc)
	}
	disks := n.all("devices/disk")
	if len(disks) != 3 || disks[1].attr("type") != "block" || disks[1].one(t, "source").attr("dev") != "/dev/sdz" ||
		disks[1].one(t, "target").attr("bus") != "scsi" || disks[1].one(t, "wwn").text() != "5000c50015ea71ad" {
		t.Errorf("block disk:\n%s", doc)
	}
	if c := disks[2]; c.one(t, "target").attr("bus") != "sata" || c.one(t, "target").attr("dev") == disks[1].one(t, "target").attr("dev") {
		t.Errorf("q35 cdrom:\n%s", doc)
	}
	if n.one(t, "devices/controller").attr("model") != "virtio-scsi" {
		t.Error("no virtio-scsi controller")
	}
	ifcs := n.all("devices/interface")
	if len(ifcs) != 3 || ifcs[1].one(t, "source").attr("bridge") != "br0" || ifcs[2].attr("type") != "direct" ||
		ifcs[2].one(t, "source").attr("mode") != "vepa" || len(ifcs[2].all("mac")) != 0 {
		t.Errorf("interfaces:\n%s", doc)
	}
	if ch := n.one(t, "devices/channel/target"); ch.attr("name") != "org.qemu.guest_agent.0" {
		t.Error("qemu agent channel")
	}
	g := n.one(t, "devices/graphics")
	if g.attr("type") != "vnc" || g.attr("autoport") != "yes" || g.one(t, "listen").attr("address") != "0.0.0.0" {
		t.Errorf("graphics:\n%s", doc)
	}
	if n.one(t, "devices/video/model").attr("type") != "virtio" {
		t.Error("video")
	}
}

func TestKernelCmdline(t *testing.T) {
	got := kernelCmdline([]map[string]string{{"b": "2", "a": "1"}, {"_": "quiet"}, {"console": "ttyS0,115200"}})
	if got != "a=1 b=2 quiet console=ttyS0,115200" {
		t.Errorf("cmdline %q", got)
	}
	if kernelCmdline(nil) != "" {
		t.Error("empty cmdline")
	}
}

func TestDiskNames(t *testing.T) {
	n := diskNames{}
	var got []string
	for range 28 {
		got = append(got, n.next("vd"))
	}
	if got[0] != "vda" || got[25] != "vdz" || got[26] != "vdaa" || got[27] != "vdab" || n.next("hd") != "hda" {
		t.Errorf("names %v", got)
	}
}
