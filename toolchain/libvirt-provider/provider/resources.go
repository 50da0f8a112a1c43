// Package provider holds the ProviderInfo of ha-swarm's stand-in for pulumi-libvirt: the Terraform
// libvirt provider (github.com/dmacvicar/terraform-provider-libvirt) behind
// pulumi-terraform-bridge, under the tokens and configuration pulumi-libvirt v0.5.4 gives it, so
// that the Python SDK pulumi_libvirt 0.5.4 talks to it as to upstream's plugin.
// toolchain/check_schema.py libvirt compares the generated schema with that SDK.
package provider

import (
	"github.com/dmacvicar/terraform-provider-libvirt/libvirt"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"ha-swarm/bridgeglue"
)

// resourceNames: the Terraform resources and their Pulumi type names
// (libvirt:index/<lowerFirst name>:<name>), as in pulumi-libvirt. libvirt_combustion gets its
// token from the standard rule (bridgeglue.Tokens), as upstream's does.
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

// Provider returns the ProviderInfo shared by the schema generator (cmd/pulumi-tfgen-libvirt) and
// the resource plugin (cmd/pulumi-resource-libvirt). metadata is the bridge metadata
// (bridge-metadata.json): "{}" for tfgen, which writes a new one, and what tfgen wrote for the
// plugin, which embeds it.
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:                 shimv2.NewProvider(libvirt.Provider()),
		Name:              "libvirt",
		Description:       "A Pulumi package for creating and managing libvirt cloud resources (ha-swarm's build of the Terraform libvirt provider bridge).",
		Keywords:          []string{"pulumi", "libvirt"},
		License:           "Apache-2.0",
		Homepage:          "https://pulumi.io",
		Repository:        "https://github.com/pulumi/pulumi-libvirt",
		GitHubOrg:         "dmacvicar",
		Version:           bridgeglue.Version,
		TFProviderVersion: bridgeglue.UpstreamVersion,
		Config: map[string]*tfbridge.SchemaInfo{
			"uri": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"LIBVIRT_DEFAULT_URI"}}},
		},
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	bridgeglue.Tokens(&info, resourceNames, dataSourceNames)
	info.MustApplyAutoAliases()
	// `name` of Network, Pool, Volume, Domain, ... is optional where Terraform requires it: left
	// out, it is the resource's name plus a random suffix, as in pulumi-libvirt.
	info.SetAutonaming(255, "-")
	return info
}
