package main

// libvirt:index/domain:Domain: a virtual machine, defined, given its DHCP host entries,
// autostarted if asked and started. Its id is the domain's UUID. Only autostart changes in
// place; any other change replaces it.

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const leaseWait = 5 * time.Minute

type domainKind struct{}

func (domainKind) updatable() map[string]bool { return map[string]bool{"autostart": true} }

func (domainKind) sameObject(olds, news resource.PropertyMap) bool {
	return sameValues(olds, news, "name")
}

func (domainKind) check(news resource.PropertyMap) (resource.PropertyMap, failures) {
	out := news.Copy()
	setDefault(out, "type", resource.NewStringProperty("kvm"))
	setDefault(out, "vcpu", resource.NewNumberProperty(1))
	setDefault(out, "memory", resource.NewNumberProperty(512))
	setDefault(out, "running", resource.NewBoolProperty(true))
	var f failures
	if !has(out, "name") {
		f.add("name", "name is required")
	}
	f.unsupported(out, "", "coreosIgnition", "fwCfgName", "filesystems", "firmware", "nvram", "tpm", "metadata", "xml")
	if has(out, "initrd") && !has(out, "kernel") {
		f.add("initrd", "initrd needs kernel")
	}
	if has(out, "cmdlines") && !has(out, "kernel") {
		f.add("cmdlines", "cmdlines are the arguments of kernel, which is not given")
	}
	var in domainInputs
	if err := decodeStrict(knownPart(out), &in); err != nil {
		f.add("", "%v", err)
		return out, f
	}
	known := knownPart(out)
	if _, ok := known["vcpu"]; ok && in.Vcpu < 1 {
		f.add("vcpu", "vcpu must be at least 1")
	}
	if _, ok := known["memory"]; ok && in.Memory < 1 {
		f.add("memory", "memory (MiB) must be positive")
	}
	for i, d := range in.Disks {
		p := fmt.Sprintf("disks[%d]", i)
		if d.URL != "" {
			f.add(p+".url", "disks from a url are not implemented by this build of the libvirt provider")
		}
		n := 0
		for _, s := range []string{d.VolumeID, d.File, d.BlockDevice, d.URL} {
			if s != "" {
				n++
			}
		}
		if n > 1 {
			f.add(p, "a disk is one of volumeId, file, blockDevice or url")
		}
	}
	for i, ifc := range in.NetworkInterfaces {
		p := fmt.Sprintf("networkInterfaces[%d]", i)
		key, _, n := ifc.attachment()
		if n > 1 {
			f.add(p, "an interface attaches to one of %s", strings.Join(interfaceKinds, ", "))
		}
		if boolOr(ifc.WaitForLease, false) && key != "networkId" && key != "networkName" && n == 1 {
			f.add(p+".waitForLease", "waitForLease needs a libvirt network (networkId or networkName)")
		}
		if ifc.MAC != "" {
			if _, err := net.ParseMAC(ifc.MAC); err != nil {
				f.add(p+".mac", "%q is not a MAC address", ifc.MAC)
			}
		}
		for _, a := range ifc.Addresses {
			if net.ParseIP(a) == nil {
				f.add(p+".addresses", "%q is not an IP address", a)
			}
		}
	}
	for i, c := range in.Consoles {
		p := fmt.Sprintf("consoles[%d]", i)
		if c.Type == "" {
			f.add(p+".type", "a console needs a type (e.g. pty)")
		}
	}
	return out, f
}

func (domainKind) create(ctx context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	var in domainInputs
	if err := decodeInputs(inputs, &in); err != nil {
		return "", nil, err
	}
	for i := range in.NetworkInterfaces {
		if in.NetworkInterfaces[i].MAC == "" {
			in.NetworkInterfaces[i].MAC = randomMAC()
		}
	}
	plan, nets, err := resolveDomain(lv, in)
	if err != nil {
		return "", nil, err
	}
	def, err := domainXML(in, plan)
	if err != nil {
		return "", nil, err
	}
	dom, err := lv.DomainDefineXML(def)
	if err != nil {
		return "", nil, fmt.Errorf("define domain %s: %w", in.Name, err)
	}
	undo := func(err error) (string, resource.PropertyMap, error) {
		removeDomain(lv, dom)
		removeDHCPHosts(lv, in.NetworkInterfaces, nets)
		return "", nil, err
	}
	if err := addDHCPHosts(lv, in.NetworkInterfaces, nets); err != nil {
		return undo(err)
	}
	if boolOr(in.Autostart, false) {
		if err := lv.DomainSetAutostart(dom, 1); err != nil {
			return undo(fmt.Errorf("autostart domain %s: %w", in.Name, err))
		}
	}
	if boolOr(in.Running, true) {
		if err := lv.DomainCreate(dom); err != nil {
			return undo(fmt.Errorf("start domain %s: %w", in.Name, err))
		}
	}
	leases := map[int][]string{}
	for i, ifc := range in.NetworkInterfaces {
		if boolOr(ifc.WaitForLease, false) {
			addrs, err := waitForLease(ctx, lv, nets[i], ifc.MAC)
			if err != nil {
				return undo(fmt.Errorf("domain %s: %w", in.Name, err))
			}
			leases[i] = addrs
		}
	}
	return formatUUID(dom.UUID), domainOutputs(inputs, in, nets, leases), nil
}

// resolveDomain finds the paths of the volumes and the names of the networks in names; nets
// holds, per interface, its libvirt network (nil for other attachments).
func resolveDomain(lv *libvirt.Libvirt, in domainInputs) (domainPlan, []*libvirt.Network, error) {
	var plan domainPlan
	for i, d := range in.Disks {
		switch {
		case d.VolumeID != "":
			vol, ok, err := volumeByKey(lv, d.VolumeID)
			if err == nil && !ok {
				err = fmt.Errorf("volume %s does not exist", d.VolumeID)
			}
			if err != nil {
				return plan, nil, fmt.Errorf("disks[%d]: %w", i, err)
			}
			facts, err := describeVolume(lv, vol)
			if err != nil {
				return plan, nil, fmt.Errorf("disks[%d]: %w", i, err)
			}
			plan.Disks = append(plan.Disks, planDisk{Block: facts.Type == "block", Path: facts.Path,
				Format: facts.Format, SCSI: boolOr(d.SCSI, false), WWN: d.WWN})
		case d.File != "":
			disk := planDisk{Path: d.File, Format: "raw", SCSI: boolOr(d.SCSI, false), WWN: d.WWN}
			if strings.HasSuffix(strings.ToLower(d.File), ".iso") {
				disk.CDROM = true
			} else if strings.HasSuffix(strings.ToLower(d.File), ".qcow2") {
				disk.Format = "qcow2"
			}
			plan.Disks = append(plan.Disks, disk)
		case d.BlockDevice != "":
			plan.Disks = append(plan.Disks, planDisk{Block: true, Path: d.BlockDevice, Format: "raw",
				SCSI: boolOr(d.SCSI, false), WWN: d.WWN})
		}
	}
	if in.Cloudinit != "" {
		key := volumeKeyOf(in.Cloudinit)
		vol, ok, err := volumeByKey(lv, key)
		if err == nil && !ok {
			err = fmt.Errorf("volume %s does not exist", key)
		}
		if err != nil {
			return plan, nil, fmt.Errorf("cloudinit: %w", err)
		}
		facts, err := describeVolume(lv, vol)
		if err != nil {
			return plan, nil, fmt.Errorf("cloudinit: %w", err)
		}
		plan.CloudInit = &planDisk{CDROM: true, Path: facts.Path, Format: "raw"}
	}
	plan.Kernel = hostPath(lv, in.Kernel)
	plan.Initrd = hostPath(lv, in.Initrd)
	nets := make([]*libvirt.Network, len(in.NetworkInterfaces))
	for i, ifc := range in.NetworkInterfaces {
		key, value, _ := ifc.attachment()
		pi := planInterface{MAC: ifc.MAC}
		switch key {
		case "networkId", "networkName":
			n, err := lookupNetwork(lv, ifc)
			if err != nil {
				return plan, nil, fmt.Errorf("networkInterfaces[%d]: %w", i, err)
			}
			nets[i] = &n
			pi.Type, pi.Source = "network", n.Name
		case "bridge":
			pi.Type, pi.Source = "bridge", value
		case "macvtap", "vepa", "passthrough":
			pi.Type, pi.Source, pi.Mode = "direct", value, directModes[key]
		default:
			return plan, nil, fmt.Errorf("networkInterfaces[%d]: attaches to nothing (give one of %s)",
				i, strings.Join(interfaceKinds, ", "))
		}
		plan.Interfaces = append(plan.Interfaces, pi)
	}
	return plan, nets, nil
}

// hostPath is the path of a kernel or initrd: the path of the volume whose key it is, or
// itself (a path on the hypervisor host).
func hostPath(lv *libvirt.Libvirt, ref string) string {
	if ref == "" {
		return ""
	}
	if vol, ok, err := volumeByKey(lv, ref); err == nil && ok {
		if facts, err := describeVolume(lv, vol); err == nil {
			return facts.Path
		}
	}
	return ref
}

func lookupNetwork(lv *libvirt.Libvirt, ifc domainInterface) (libvirt.Network, error) {
	if ifc.NetworkID != "" {
		u, err := parseUUID(ifc.NetworkID)
		if err != nil {
			return libvirt.Network{}, err
		}
		n, err := lv.NetworkLookupByUUID(u)
		if err != nil {
			return n, fmt.Errorf("network %s: %w", ifc.NetworkID, err)
		}
		return n, nil
	}
	n, err := lv.NetworkLookupByName(ifc.NetworkName)
	if err != nil {
		return n, fmt.Errorf("network %s: %w", ifc.NetworkName, err)
	}
	return n, nil
}

// domainOutputs is the state: the inputs with each interface's MAC and network name filled in,
// and the addresses leased to those that waited for one.
func domainOutputs(inputs resource.PropertyMap, in domainInputs, nets []*libvirt.Network, leases map[int][]string) resource.PropertyMap {
	out := inputs.Copy()
	v, ok := out["networkInterfaces"]
	if !ok || len(in.NetworkInterfaces) == 0 {
		return out
	}
	secret := v.IsSecret()
	if secret {
		v = v.SecretValue().Element
	}
	if !v.IsArray() || len(v.ArrayValue()) != len(in.NetworkInterfaces) {
		return out
	}
	arr := make([]resource.PropertyValue, len(v.ArrayValue()))
	for i, e := range v.ArrayValue() {
		arr[i] = e
		if !e.IsObject() {
			continue
		}
		obj := e.ObjectValue().Copy()
		setDefault(obj, "mac", resource.NewStringProperty(in.NetworkInterfaces[i].MAC))
		if nets[i] != nil {
			setDefault(obj, "networkName", resource.NewStringProperty(nets[i].Name))
			setDefault(obj, "networkId", resource.NewStringProperty(formatUUID(nets[i].UUID)))
		}
		if addrs, ok := leases[i]; ok {
			vals := make([]resource.PropertyValue, len(addrs))
			for j, a := range addrs {
				vals[j] = resource.NewStringProperty(a)
			}
			obj["addresses"] = resource.NewArrayProperty(vals)
		}
		arr[i] = resource.NewObjectProperty(obj)
	}
	nv := resource.NewArrayProperty(arr)
	if secret {
		nv = resource.MakeSecret(nv)
	}
	out["networkInterfaces"] = nv
	return out
}

func randomMAC() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
}

func (domainKind) read(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error) {
	dom, ok, err := domainByID(lv, id)
	if err != nil || !ok {
		return "", nil, err
	}
	out := state.Copy()
	if auto, err := lv.DomainGetAutostart(dom); err == nil {
		out["autostart"] = resource.NewBoolProperty(auto == 1)
	}
	if active, err := lv.DomainIsActive(dom); err == nil {
		out["running"] = resource.NewBoolProperty(active == 1)
	}
	return id, out, nil
}

func domainByID(lv *libvirt.Libvirt, id string) (libvirt.Domain, bool, error) {
	u, err := parseUUID(id)
	if err != nil {
		return libvirt.Domain{}, false, err
	}
	dom, err := lv.DomainLookupByUUID(u)
	if isMissing(err) {
		return dom, false, nil
	}
	if err != nil {
		return dom, false, fmt.Errorf("look up domain %s: %w", id, err)
	}
	return dom, true, nil
}

// update applies a change of autostart, the one input changed in place.
func (domainKind) update(_ context.Context, lv *libvirt.Libvirt, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	dom, ok, err := domainByID(lv, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("domain %s is gone", id)
	}
	auto := false
	if v, ok := plain(news["autostart"]); ok {
		auto, _ = v.(bool)
	}
	flag := int32(0)
	if auto {
		flag = 1
	}
	if err := lv.DomainSetAutostart(dom, flag); err != nil {
		return nil, fmt.Errorf("autostart of domain %s: %w", dom.Name, err)
	}
	out := olds.Copy()
	if v, ok := news["autostart"]; ok {
		out["autostart"] = v
	} else {
		delete(out, "autostart")
	}
	return out, nil
}

// delete stops and undefines the domain and removes its DHCP host entries.
func (domainKind) delete(_ context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) error {
	dom, ok, err := domainByID(lv, id)
	if err != nil {
		return err
	}
	if ok {
		if err := lv.DomainDestroy(dom); err != nil && !notRunning(err) {
			return fmt.Errorf("stop domain %s: %w", dom.Name, err)
		}
		if err := undefineDomain(lv, dom); err != nil && !isMissing(err) {
			return fmt.Errorf("undefine domain %s: %w", dom.Name, err)
		}
	}
	var in domainInputs
	if decodeInputs(state, &in) == nil {
		nets := make([]*libvirt.Network, len(in.NetworkInterfaces))
		for i, ifc := range in.NetworkInterfaces {
			if ifc.NetworkID == "" && ifc.NetworkName == "" {
				continue
			}
			if n, err := lookupNetwork(lv, ifc); err == nil {
				nets[i] = &n
			}
		}
		removeDHCPHosts(lv, in.NetworkInterfaces, nets)
	}
	return nil
}

func undefineDomain(lv *libvirt.Libvirt, dom libvirt.Domain) error {
	flags := libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata |
		libvirt.DomainUndefineNvram | libvirt.DomainUndefineCheckpointsMetadata
	if err := lv.DomainUndefineFlags(dom, flags); err != nil {
		if isMissing(err) {
			return err
		}
		return lv.DomainUndefineFlags(dom, 0)
	}
	return nil
}

// removeDomain is the best-effort undoing of a domain just defined.
func removeDomain(lv *libvirt.Libvirt, dom libvirt.Domain) {
	_ = lv.DomainDestroy(dom)
	_ = undefineDomain(lv, dom)
}

// addDHCPHosts gives each address of each interface on a libvirt network a DHCP host entry
// (MAC, hostname, address), replacing entries for the same MAC or address.
func addDHCPHosts(lv *libvirt.Libvirt, ifcs []domainInterface, nets []*libvirt.Network) error {
	for i, ifc := range ifcs {
		if nets[i] == nil || len(ifc.Addresses) == 0 {
			continue
		}
		n := *nets[i]
		existing, err := dhcpHostsOf(lv, n)
		if err != nil {
			return err
		}
		for _, addr := range ifc.Addresses {
			entry := netDHCPHost{MAC: ifc.MAC, Name: ifc.Hostname, IP: addr}
			if strings.Contains(addr, ":") {
				entry.MAC = "" // DHCPv6 hosts are matched by name
			}
			for _, old := range existing {
				if old.IP == addr || (entry.MAC != "" && strings.EqualFold(old.MAC, entry.MAC)) {
					if err := updateDHCPHost(lv, n, libvirt.NetworkUpdateCommandDelete, old); err != nil {
						return fmt.Errorf("network %s: drop the DHCP host entry for %s: %w", n.Name, old.IP, err)
					}
				}
			}
			if err := updateDHCPHost(lv, n, libvirt.NetworkUpdateCommandAddLast, entry); err != nil {
				return fmt.Errorf("network %s: add the DHCP host entry %s for %s: %w", n.Name, addr, ifc.MAC, err)
			}
		}
	}
	return nil
}

// removeDHCPHosts drops, best effort, the entries addDHCPHosts made.
func removeDHCPHosts(lv *libvirt.Libvirt, ifcs []domainInterface, nets []*libvirt.Network) {
	for i, ifc := range ifcs {
		if i >= len(nets) || nets[i] == nil || len(ifc.Addresses) == 0 || ifc.MAC == "" {
			continue
		}
		existing, err := dhcpHostsOf(lv, *nets[i])
		if err != nil {
			continue
		}
		for _, old := range existing {
			for _, addr := range ifc.Addresses {
				if old.IP == addr && (old.MAC == "" || strings.EqualFold(old.MAC, ifc.MAC)) {
					_ = updateDHCPHost(lv, *nets[i], libvirt.NetworkUpdateCommandDelete, old)
				}
			}
		}
	}
}

func dhcpHostsOf(lv *libvirt.Libvirt, n libvirt.Network) ([]netDHCPHost, error) {
	desc, err := lv.NetworkGetXMLDesc(n, 0)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	var def netXML
	if err := xml.Unmarshal([]byte(desc), &def); err != nil {
		return nil, fmt.Errorf("network %s: read XML: %w", n.Name, err)
	}
	var hosts []netDHCPHost
	for _, ip := range def.IPs {
		if ip.DHCP != nil {
			hosts = append(hosts, ip.DHCP.Hosts...)
		}
	}
	return hosts, nil
}

func updateDHCPHost(lv *libvirt.Libvirt, n libvirt.Network, cmd libvirt.NetworkUpdateCommand, h netDHCPHost) error {
	h.XMLName = xml.Name{Local: "host"}
	body, err := xml.Marshal(h)
	if err != nil {
		return err
	}
	flags := libvirt.NetworkUpdateAffectConfig
	if active, err := lv.NetworkIsActive(n); err == nil && active == 1 {
		flags |= libvirt.NetworkUpdateAffectLive
	}
	return lv.NetworkUpdateCompat(n, cmd, libvirt.NetworkSectionIPDhcpHost, -1, string(body), flags)
}

// waitForLease polls the network's leases until mac has one; it returns the leased addresses.
func waitForLease(ctx context.Context, lv *libvirt.Libvirt, n *libvirt.Network, mac string) ([]string, error) {
	deadline := time.Now().Add(leaseWait)
	for {
		leases, _, err := lv.NetworkGetDhcpLeases(*n, libvirt.OptString{mac}, 1, 0)
		if err != nil {
			return nil, fmt.Errorf("leases of network %s: %w", n.Name, err)
		}
		var addrs []string
		for _, l := range leases {
			addrs = append(addrs, l.Ipaddr)
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no DHCP lease for %s on network %s after %s", mac, n.Name, leaseWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
