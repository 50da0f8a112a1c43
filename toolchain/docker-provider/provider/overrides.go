package provider

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// applyOverrides: where the bridge's default naming differs from what pulumi_docker 5.2.0's
// Python SDK sends and reads (found by toolchain/check_docker_schema.py, which compares the
// two). By default the bridge names a list or set block in the plural (ipam_config ->
// ipamConfigs); pulumi-docker kept a few in the singular.
func applyOverrides(info *tfbridge.ProviderInfo) {
	fields := func(tf string) map[string]*tfbridge.SchemaInfo {
		r := info.Resources[tf]
		if r.Fields == nil {
			r.Fields = map[string]*tfbridge.SchemaInfo{}
		}
		return r.Fields
	}

	// Provider configuration (the Provider resource's inputs and the docker:registryAuth key).
	info.Config["registry_auth"] = &tfbridge.SchemaInfo{Name: "registryAuth"}

	// Container: `command` (a list of strings) and `networks_advanced` (a set of blocks).
	fields("docker_container")["command"] = &tfbridge.SchemaInfo{Name: "command"}
	fields("docker_container")["networks_advanced"] = &tfbridge.SchemaInfo{Name: "networksAdvanced"}

	// RemoteImage: `name` is the image reference to pull, required, never auto-named (an entry in
	// Fields keeps SetAutonaming off it).
	fields("docker_image")["name"] = &tfbridge.SchemaInfo{}

}
