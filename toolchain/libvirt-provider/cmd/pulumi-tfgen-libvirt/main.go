// Command pulumi-tfgen-libvirt writes the Pulumi package schema of ha-swarm's libvirt provider:
// `pulumi-tfgen-libvirt schema --out DIR --skip-docs --skip-examples` writes DIR/schema.json and
// DIR/bridge-metadata.json, which cmd/pulumi-resource-libvirt then embeds.
//
// It is tfgen.Main with one step added: tfgen leaves the package version out of schema.json (to
// keep it stable across commits); pulumi-libvirt writes it back into the schema it embeds
// (schema-embed.json), and so does this command (provider.Version, the pulumi-libvirt pin).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/spf13/afero"

	"ha-swarm/libvirt-provider/provider"
)

func main() {
	// A new bridge metadata history: the auto-aliasing records the tokens and MaxItemsOne
	// decisions of this schema, which are pulumi-libvirt's (check_schema.py libvirt proves it).
	info := provider.Provider([]byte("{}"))
	if err := info.P.InternalValidate(); err != nil {
		fmt.Fprintf(os.Stderr, "Internal validation of the provider failed: %v\n", err)
		os.Exit(1)
	}
	tfgen.MainWithCustomGenerate("libvirt", provider.Version, info, func(opts tfgen.GeneratorOptions) error {
		g, err := tfgen.NewGenerator(opts)
		if err != nil {
			return err
		}
		if _, err := g.Generate(); err != nil {
			return err
		}
		if opts.Language != tfgen.Schema {
			return nil
		}
		return stampVersion(opts.Root, "schema.json", provider.Version)
	})
}

// stampVersion sets the top-level "version" of the schema file written by the generator.
func stampVersion(fs afero.Fs, path, version string) error {
	data, err := afero.ReadFile(fs, path)
	if err != nil {
		return err
	}
	var spec pschema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	spec.Version = version
	out, err := json.MarshalIndent(spec, "", "    ")
	if err != nil {
		return err
	}
	return afero.WriteFile(fs, path, append(out, '\n'), 0o644)
}
