package bridgeglue

// Version is the version of the Pulumi package a plugin serves (the pulumi-docker or
// pulumi-libvirt pin of requirements.txt), set at link time by bridge-provider.sh with
// -X ha-swarm/bridgeglue.Version=X.Y.Z: each binary holds one provider.
var Version = "0.0.0-dev"

// UpstreamVersion is the Terraform provider's module version, set at link time like Version.
var UpstreamVersion = "dev"
