// Command pulumi-resource-command is a resource plugin for the Pulumi package "command" that
// implements only command:remote:Command (a command run on a host over SSH), compatible with the
// inputs and outputs of the pulumi-command 1.x SDKs.
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
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
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
