// Command pulumi-resource-libvirt is a resource plugin for the Pulumi package "libvirt" that
// implements, with a pure-Go libvirt RPC client, the resources of the pulumi-libvirt 0.5.x SDKs
// that ha-swarm uses: Network, Pool, Volume, CloudInitDisk and Domain.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set at build time with -ldflags "-X main.version=X.Y.Z".
var version = "0.0.0-dev"

func main() {
	err := provider.Main("libvirt", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		var logger engineLogger
		if host != nil {
			logger = host
		}
		return newProvider(logger, version), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
