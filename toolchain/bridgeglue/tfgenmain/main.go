// Package tfgenmain is the main of the two schema generators (cmd/pulumi-tfgen-docker,
// cmd/pulumi-tfgen-libvirt), apart from package bridgeglue so that the resource plugins, which
// import that one through their provider package, do not link tfgen and Pulumi's code generators.
package tfgenmain

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/spf13/afero"
)

// Main is the main of a schema generator, cmd/pulumi-tfgen-NAME: `pulumi-tfgen-NAME schema
// --out DIR --skip-docs --skip-examples` writes DIR/schema.json (and DIR/bridge-metadata.json when
// info has MetadataInfo) for the package info.Name at info.Version.
//
// It is tfgen.Main with one step added: tfgen leaves the package version out of schema.json (to
// keep it stable across commits); the upstream Pulumi packages write it back into the schema they
// embed (pulumi-libvirt's schema-embed.json), and so does this (info.Version, the pin).
func Main(info tfbridge.ProviderInfo) {
	if err := info.P.InternalValidate(); err != nil {
		fmt.Fprintf(os.Stderr, "Internal validation of the provider failed: %v\n", err)
		os.Exit(1)
	}
	tfgen.MainWithCustomGenerate(info.Name, info.Version, info, func(opts tfgen.GeneratorOptions) error {
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
		return stampVersion(opts.Root, "schema.json", info.Version)
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
