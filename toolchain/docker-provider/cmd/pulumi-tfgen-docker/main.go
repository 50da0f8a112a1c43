// Command pulumi-tfgen-docker writes the Pulumi package schema of ha-swarm's docker provider:
// `pulumi-tfgen-docker schema --out DIR --skip-docs --skip-examples` writes DIR/schema.json, which
// cmd/pulumi-resource-docker then embeds. Like pulumi-docker's, the schema has the package version
// (bridgeglue.Version, the pulumi-docker pin): see tfgenmain.Main (toolchain/bridgeglue).
package main

import (
	"ha-swarm/bridgeglue/tfgenmain"
	"ha-swarm/docker-provider/provider"
)

func main() {
	tfgenmain.Main(provider.Provider())
}
