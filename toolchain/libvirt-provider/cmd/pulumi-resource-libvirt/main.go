// Command pulumi-resource-libvirt is the Pulumi resource plugin `libvirt`: the Terraform libvirt
// provider behind pulumi-terraform-bridge, serving the schema cmd/pulumi-tfgen-libvirt made.
//
// schema.json and bridge-metadata.json are not kept in the repository: build-libvirt-provider.sh
// generates them and copies them here (in its build folder) before building this command.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"ha-swarm/bridgeglue"
	"ha-swarm/libvirt-provider/provider"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	tfbridge.Main("libvirt", bridgeglue.Version, provider.Provider(bridgeMetadata), pulumiSchema)
}
