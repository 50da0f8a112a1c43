// Package provider holds the ProviderInfo of ha-swarm's stand-in for pulumi-docker: how the
// Terraform docker provider (kreuzwerker/terraform-provider-docker) is shown to Pulumi. The names
// it gives (tokens, property names, the shape of nested blocks) are those the Python SDK
// pulumi_docker sends and reads; toolchain/check_docker_schema.py compares the two.
package provider

import (
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	ptokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/terraform-providers/terraform-provider-docker/pulumishim"
)

// Version is the version of the Pulumi package (the pulumi-docker pin of requirements.txt), set
// at link time with -X ha-swarm/docker-provider/provider.Version=X.Y.Z.
var Version = "0.0.0-dev"

// UpstreamVersion is the Terraform provider's module version, set at link time like Version.
var UpstreamVersion = "dev"

const (
	pkgName = "docker"
	mainMod = "index"
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

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func resourceToken(name string) string {
	return pkgName + ":" + mainMod + "/" + lowerFirst(name) + ":" + name
}

func functionToken(name string) string {
	return pkgName + ":" + mainMod + "/" + name + ":" + name
}

// Provider returns the ProviderInfo shared by the schema generator (cmd/pulumi-tfgen-docker) and
// the resource plugin (cmd/pulumi-resource-docker).
func Provider() tfbridge.ProviderInfo {
	// The Terraform provider as it is: no correction of its diffs, so that the tests see what users
	// of pulumi-docker see (pulumi/pulumi-docker#1285 included).
	p := shimv2.NewProvider(pulumishim.Provider(UpstreamVersion))

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
		Version:           Version,
		TFProviderVersion: UpstreamVersion,
		TFProviderLicense: func() *tfbridge.TFProviderLicense { l := tfbridge.MPL20LicenseType; return &l }(),
		Config:            configOverrides(),
		Resources:         map[string]*tfbridge.ResourceInfo{},
		DataSources:       map[string]*tfbridge.DataSourceInfo{},
	}

	for tf, name := range resourceNames {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: ptokens.Type(resourceToken(name))}
	}
	for tf, name := range dataSourceNames {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{Tok: ptokens.ModuleMember(functionToken(name))}
	}
	applyOverrides(&info)

	// Whatever the upstream provider adds later is mapped the standard way
	// (docker_foo_bar -> docker:index/fooBar:FooBar, getFooBar).
	info.MustComputeTokens(tokens.SingleModule("docker_", mainMod, tokens.MakeStandard(pkgName)))
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
