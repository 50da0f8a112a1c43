package main

// The property names the provider takes are those of the pulumi-libvirt 0.5.4 Python SDK (the
// wire names of its *Args input types), listed here and, when the SDK is installed in the
// repository's .venv, read again from its sources.

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sdkArgs are the input types of pulumi_libvirt 0.5.4 and their property names.
var sdkArgs = map[string][]string{
	"ProviderArgs": {"uri"},
	"NetworkArgs": {"addresses", "autostart", "bridge", "dhcp", "dns", "dnsmasqOptions", "domain", "mode", "mtu",
		"name", "routes", "xml"},
	"PoolArgs":          {"allocation", "available", "capacity", "name", "path", "source", "target", "type", "xml"},
	"VolumeArgs":        {"baseVolumeId", "baseVolumeName", "baseVolumePool", "format", "name", "pool", "size", "source", "xml"},
	"CloudInitDiskArgs": {"metaData", "name", "networkConfig", "pool", "userData"},
	"DomainArgs": {"arch", "autostart", "bootDevices", "cloudinit", "cmdlines", "consoles", "coreosIgnition", "cpu",
		"description", "disks", "emulator", "filesystems", "firmware", "fwCfgName", "graphics", "initrd", "kernel",
		"machine", "memory", "metadata", "name", "networkInterfaces", "nvram", "qemuAgent", "running", "tpm", "type",
		"vcpu", "video", "xml"},
	"NetworkDhcpArgs":                 {"enabled"},
	"NetworkDnsArgs":                  {"enabled", "forwarders", "hosts", "localOnly", "srvs"},
	"NetworkDnsForwarderArgs":         {"address", "domain"},
	"NetworkDnsHostArgs":              {"hostname", "ip"},
	"NetworkDnsSrvArgs":               {"domain", "port", "priority", "protocol", "service", "target", "weight"},
	"NetworkDnsmasqOptionsArgs":       {"options"},
	"NetworkDnsmasqOptionsOptionArgs": {"optionName", "optionValue"},
	"NetworkRouteArgs":                {"cidr", "gateway"},
	"NetworkXmlArgs":                  {"xslt"},
	"PoolTargetArgs":                  {"path"},
	"PoolSourceArgs":                  {"devices", "name"},
	"PoolSourceDeviceArgs":            {"path"},
	"PoolXmlArgs":                     {"xslt"},
	"VolumeXmlArgs":                   {"xslt"},
	"DomainCpuArgs":                   {"mode"},
	"DomainDiskArgs":                  {"blockDevice", "file", "scsi", "url", "volumeId", "wwn"},
	"DomainNetworkInterfaceArgs": {"addresses", "bridge", "hostname", "mac", "macvtap", "networkId", "networkName",
		"passthrough", "vepa", "waitForLease"},
	"DomainConsoleArgs":    {"sourceHost", "sourcePath", "sourceService", "targetPort", "targetType", "type"},
	"DomainGraphicsArgs":   {"autoport", "listenAddress", "listenType", "type", "websocket"},
	"DomainVideoArgs":      {"type"},
	"DomainBootDeviceArgs": {"devs"},
	"DomainXmlArgs":        {"xslt"},
}

// goTypes are the Go structs that decode each SDK input type.
var goTypes = map[string]reflect.Type{
	"NetworkArgs":                     reflect.TypeFor[networkInputs](),
	"PoolArgs":                        reflect.TypeFor[poolInputs](),
	"VolumeArgs":                      reflect.TypeFor[volumeInputs](),
	"CloudInitDiskArgs":               reflect.TypeFor[cloudInitInputs](),
	"DomainArgs":                      reflect.TypeFor[domainInputs](),
	"NetworkDhcpArgs":                 reflect.TypeFor[networkDHCP](),
	"NetworkDnsArgs":                  reflect.TypeFor[networkDNS](),
	"NetworkDnsForwarderArgs":         reflect.TypeFor[networkForwarder](),
	"NetworkDnsHostArgs":              reflect.TypeFor[networkDNSHost](),
	"NetworkDnsSrvArgs":               reflect.TypeFor[networkSRV](),
	"NetworkDnsmasqOptionsArgs":       reflect.TypeFor[networkDnsmasq](),
	"NetworkDnsmasqOptionsOptionArgs": reflect.TypeFor[networkDnsmasq]().Field(0).Type.Elem(),
	"NetworkRouteArgs":                reflect.TypeFor[networkRoute](),
	"NetworkXmlArgs":                  reflect.TypeFor[xsltInput](),
	"PoolTargetArgs":                  reflect.TypeFor[poolTarget](),
	"PoolSourceArgs":                  reflect.TypeFor[poolSource](),
	"PoolSourceDeviceArgs":            reflect.TypeFor[poolSource]().Field(1).Type.Elem(),
	"PoolXmlArgs":                     reflect.TypeFor[xsltInput](),
	"VolumeXmlArgs":                   reflect.TypeFor[xsltInput](),
	"DomainCpuArgs":                   reflect.TypeFor[domainCPU](),
	"DomainDiskArgs":                  reflect.TypeFor[domainDisk](),
	"DomainNetworkInterfaceArgs":      reflect.TypeFor[domainInterface](),
	"DomainConsoleArgs":               reflect.TypeFor[domainConsole](),
	"DomainGraphicsArgs":              reflect.TypeFor[domainGraphics](),
	"DomainVideoArgs":                 reflect.TypeFor[domainVideo](),
	"DomainBootDeviceArgs":            reflect.TypeFor[domainBootDevice](),
	"DomainXmlArgs":                   reflect.TypeFor[xsltInput](),
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestInputStructsUseTheSDKPropertyNames(t *testing.T) {
	for class, typ := range goTypes {
		want := append([]string(nil), sdkArgs[class]...)
		sort.Strings(want)
		if got := jsonNames(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Go struct %s takes %v, the SDK sends %v", class, typ, got, want)
		}
	}
}

// TestSDKStillHasThesePropertyNames reads the installed Python SDK, when there.
func TestSDKStillHasThesePropertyNames(t *testing.T) {
	dirs, _ := filepath.Glob("../../../.venv/lib/python3*/site-packages/pulumi_libvirt")
	if len(dirs) == 0 {
		t.Skip("no pulumi_libvirt Python SDK in ../../../.venv")
	}
	files, _ := filepath.Glob(filepath.Join(dirs[0], "*.py"))
	classRE := regexp.MustCompile(`(?ms)^@pulumi\.input_type\nclass (\w+):\n(.*?)(?:^\S|\z)`)
	getterRE := regexp.MustCompile(`@pulumi\.getter(?:\(name="(\w+)"\))?\n(?:\s+@[^\n]*\n)*\s+def (\w+)\(self\)`)
	found := map[string][]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range classRE.FindAllStringSubmatch(string(src), -1) {
			seen := map[string]bool{}
			for _, g := range getterRE.FindAllStringSubmatch(m[2], -1) {
				name := g[1]
				if name == "" {
					name = g[2]
				}
				seen[name] = true
			}
			found[m[1]] = sortedKeys(seen)
		}
	}
	for class, names := range sdkArgs {
		want := append([]string(nil), names...)
		sort.Strings(want)
		if got := found[class]; !reflect.DeepEqual(got, want) {
			t.Errorf("SDK %s has %v, this provider expects %v", class, got, want)
		}
	}
	plugin, err := os.ReadFile(filepath.Join(dirs[0], "pulumi-plugin.json"))
	if err != nil || !strings.Contains(string(plugin), `"name": "libvirt"`) {
		t.Errorf("pulumi-plugin.json: %v %s", err, plugin)
	}
	for token := range kinds {
		mod := strings.Split(token, ":")[1]
		file := strings.TrimPrefix(mod, "index/")
		// The SDK registers each resource under exactly this token.
		src, _ := os.ReadFile(filepath.Join(dirs[0], snakeCase(file)+".py"))
		if !strings.Contains(string(src), "'"+token+"'") {
			t.Errorf("SDK does not register %s", token)
		}
	}
}

func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
