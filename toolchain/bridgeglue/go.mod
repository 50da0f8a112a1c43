module ha-swarm/bridgeglue

go 1.23

// The lowest versions of the two modules that use this one (libvirt-provider's), so that adding it
// changes no version either of them selects. It is built only inside those two modules (their
// go.mod replaces it with ../bridgeglue), with their go.sum and their replace directives (the
// bridge needs Pulumi's fork of the plugin SDK): it has no go.sum of its own.
require (
	github.com/pulumi/pulumi-terraform-bridge/v3 v3.99.0
	github.com/pulumi/pulumi/pkg/v3 v3.143.0
	github.com/pulumi/pulumi/sdk/v3 v3.143.0
	github.com/spf13/afero v1.9.5
)
