// Package provider holds the ProviderInfo of ha-swarm's stand-in for pulumi-docker: how the
// Terraform docker provider (kreuzwerker/terraform-provider-docker) is shown to Pulumi. The names
// it gives (tokens, property names, the shape of nested blocks) are those the Python SDK
// pulumi_docker sends and reads; toolchain/check_docker_schema.py compares the two.
package provider

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"github.com/terraform-providers/terraform-provider-docker/pulumishim"

	"ha-swarm/bridgeglue"
)

// resourceNames maps each Terraform resource to the Pulumi type name pulumi_docker uses
// (docker:index/<camelName>:<Name>). Two differ from the Terraform names: docker_image, which
// pulls an image, is RemoteImage (pulumi-docker's own Image builds one), and docker_config is
// ServiceConfig.
var resourceNames = map[string]string{
	"docker_buildx_builder": "BuildxBuilder",
	"docker_config":         "ServiceConfig",
	"docker_container":      "Container",
	"docker_image":          "RemoteImage",
	"docker_network":        "Network",
	"docker_plugin":         "Plugin",
	"docker_registry_image": "RegistryImage",
	"docker_secret":         "Secret",
	"docker_service":        "Service",
	"docker_tag":            "Tag",
	"docker_volume":         "Volume",
}

// dataSourceNames maps each Terraform data source to its Pulumi function (docker:index/<name>:<name>).
var dataSourceNames = map[string]string{
	"docker_image":                    "getRemoteImage",
	"docker_logs":                     "getLogs",
	"docker_network":                  "getNetwork",
	"docker_plugin":                   "getPlugin",
	"docker_registry_image":           "getRegistryImage",
	"docker_registry_image_manifests": "getRegistryImageManifests",
}

// Provider returns the ProviderInfo shared by the schema generator (cmd/pulumi-tfgen-docker) and
// the resource plugin (cmd/pulumi-resource-docker).
func Provider() tfbridge.ProviderInfo {
	// The Terraform provider as it is: no correction of its diffs, so that the tests see what users
	// of pulumi-docker see (pulumi/pulumi-docker#1285 included).
	p := shimv2.NewProvider(pulumishim.Provider(bridgeglue.UpstreamVersion))

	info := tfbridge.ProviderInfo{
		P:           p,
		Name:        "docker",
		DisplayName: "Docker",
		Description: "A Pulumi package for interacting with Docker in Pulumi programs " +
			"(ha-swarm's build of the Terraform docker provider bridge).",
		Keywords:          []string{"pulumi", "docker"},
		License:           "Apache-2.0",
		Homepage:          "https://pulumi.io",
		Repository:        "https://github.com/pulumi/pulumi-docker",
		Publisher:         "Pulumi",
		GitHubOrg:         "kreuzwerker",
		Version:           bridgeglue.Version,
		TFProviderVersion: bridgeglue.UpstreamVersion,
		TFProviderLicense: func() *tfbridge.TFProviderLicense { l := tfbridge.MPL20LicenseType; return &l }(),
		Config:            configOverrides(),
	}

	// The names above; whatever the upstream provider adds later is mapped the standard way
	// (docker_foo_bar -> docker:index/fooBar:FooBar, getFooBar).
	bridgeglue.Tokens(&info, resourceNames, dataSourceNames)
	applyOverrides(&info)

	// A resource's `name` is optional and, when left out, made from the resource's name and a
	// random suffix, as in pulumi-docker; RemoteImage's `name` (the image to pull) stays required
	// (the empty entry in its Fields keeps SetAutonaming off it).
	info.SetAutonaming(255, "-")
	return info
}

// configOverrides: the provider's configuration, as pulumi_docker's Provider and docker.config
// read it. `host` falls back to $DOCKER_HOST (the Python SDK reads that variable itself too).
func configOverrides() map[string]*tfbridge.SchemaInfo {
	return map[string]*tfbridge.SchemaInfo{
		"host": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}}},
	}
}
