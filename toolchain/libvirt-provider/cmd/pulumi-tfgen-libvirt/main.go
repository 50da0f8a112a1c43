// Command pulumi-tfgen-libvirt writes the Pulumi package schema of ha-swarm's libvirt provider:
// `pulumi-tfgen-libvirt schema --out DIR --skip-docs --skip-examples` writes DIR/schema.json and
// DIR/bridge-metadata.json, which cmd/pulumi-resource-libvirt then embeds. Like pulumi-libvirt's
// schema-embed.json, the schema has the package version (bridgeglue.Version, the pulumi-libvirt
// pin): see tfgenmain.Main (toolchain/bridgeglue).
package main

import (
	"ha-swarm/bridgeglue/tfgenmain"
	"ha-swarm/libvirt-provider/provider"
)

func main() {
	// A new bridge metadata history: the auto-aliasing records the tokens and MaxItemsOne
	// decisions of this schema, which are pulumi-libvirt's (check_schema.py libvirt proves it).
	tfgenmain.Main(provider.Provider([]byte("{}")))
}
