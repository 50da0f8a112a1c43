// Command pulumi-resource-docker is the Pulumi resource plugin `docker`: the Terraform docker
// provider behind pulumi-terraform-bridge, serving the schema cmd/pulumi-tfgen-docker made.
//
// schema.json is not kept in the repository: build-docker-provider.sh generates it and copies it
// here (in its build folder) before building this command.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"ha-swarm/bridgeglue"
	"ha-swarm/docker-provider/provider"
)

//go:embed schema.json
var pulumiSchema []byte

func main() {
	tfbridge.Main("docker", bridgeglue.Version, provider.Provider(), pulumiSchema)
}
