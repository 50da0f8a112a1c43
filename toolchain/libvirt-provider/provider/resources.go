// Package provider holds the ProviderInfo of ha-swarm's stand-in for pulumi-libvirt: the Terraform
// libvirt provider (github.com/dmacvicar/terraform-provider-libvirt) behind
// pulumi-terraform-bridge, under the tokens and configuration pulumi-libvirt v0.5.4 gives it, so
// that the Python SDK pulumi_libvirt 0.5.4 talks to it as to upstream's plugin.
// toolchain/check_schema.py libvirt compares the generated schema with that SDK.
package provider

import (
	"unicode"

	"github.com/dmacvicar/terraform-provider-libvirt/libvirt"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	ptokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is the version of the Pulumi package (the pulumi-libvirt pin of requirements.txt), set
// at link time with -X ha-swarm/libvirt-provider/provider.Version=X.Y.Z.
var Version = "0.0.0-dev"

// UpstreamVersion is the Terraform provider's module version, set at link time like Version.
var UpstreamVersion = "dev"

const (
	pkgName = "libvirt"
	mainMod = "index"
)

// resourceNames: the Terraform resources and their Pulumi type names
// (libvirt:index/<lowerFirst name>:<name>), as in pulumi-libvirt. libvirt_combustion gets its
// token from the standard rule below, as upstream's does.
var resourceNames = map[string]string{
	"libvirt_cloudinit_disk": "CloudInitDisk",
	"libvirt_domain":         "Domain",
	"libvirt_ignition":       "Ignition",
	"libvirt_network":        "Network",
	"libvirt_pool":           "Pool",
	"libvirt_volume":         "Volume",
}

// dataSourceNames: the data sources pulumi-libvirt maps by hand (libvirt:index/<name>:<name>).
// The provider's other data sources (libvirt_node_*) get standard tokens (getNodeInfo, ...).
var dataSourceNames = map[string]string{
	"libvirt_network_dns_host_template":        "getNetworkDnsHostTemplate",
	"libvirt_network_dns_srv_template":         "getNetworkDnsSrvTemplate",
	"libvirt_network_dnsmasq_options_template": "getNetworkDnsmasqOptionsTemplate",
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// Provider returns the ProviderInfo shared by the schema generator (cmd/pulumi-tfgen-libvirt) and
// the resource plugin (cmd/pulumi-resource-libvirt). metadata is the bridge metadata
// (bridge-metadata.json): "{}" for tfgen, which writes a new one, and what tfgen wrote for the
// plugin, which embeds it.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:                 shimv2.NewProvider(libvirt.Provider()),
		Name:              pkgName,
		Description:       "A Pulumi package for creating and managing libvirt cloud resources (ha-swarm's build of the Terraform libvirt provider bridge).",
		Keywords:          []string{"pulumi", "libvirt"},
		License:           "Apache-2.0",
		Homepage:          "https://pulumi.io",
		Repository:        "https://github.com/pulumi/pulumi-libvirt",
		GitHubOrg:         "dmacvicar",
		Version:           Version,
		TFProviderVersion: UpstreamVersion,
		Config: map[string]*tfbridge.SchemaInfo{
			"uri": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"LIBVIRT_DEFAULT_URI"}}},
		},
		Resources:    map[string]*tfbridge.ResourceInfo{},
		DataSources:  map[string]*tfbridge.DataSourceInfo{},
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	for tf, name := range resourceNames {
		info.Resources[tf] = &tfbridge.ResourceInfo{
			Tok: ptokens.Type(pkgName + ":" + mainMod + "/" + lowerFirst(name) + ":" + name),
		}
	}
	for tf, name := range dataSourceNames {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{
			Tok: ptokens.ModuleMember(pkgName + ":" + mainMod + "/" + name + ":" + name),
		}
	}
	info.MustComputeTokens(tokens.SingleModule("libvirt_", mainMod, tokens.MakeStandard(pkgName)))
	info.MustApplyAutoAliases()
	// `name` of Network, Pool, Volume, Domain, ... is optional where Terraform requires it: left
	// out, it is the resource's name plus a random suffix, as in pulumi-libvirt.
	info.SetAutonaming(255, "-")
	return info
}
