// Package bridgeglue holds what ha-swarm's two bridged stand-ins, toolchain/docker-provider
// (pulumi-terraform-bridge v3.120.0) and toolchain/libvirt-provider (v3.99.0), share: the tokens of
// their ProviderInfo, and (package tfgenmain) the main of their schema generators. It uses only what
// both bridge versions have.
package bridgeglue

import (
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	ptokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// mainMod is the one module of both packages: PKG:index/...
const mainMod = "index"

// Tokens names the Terraform resources and data sources of info.P under the package info.Name, in
// its one module `index`: each key of resources gets the type PKG:index/<lowerFirst name>:<name>,
// each key of dataSources the function PKG:index/<name>:<name>, as the upstream Pulumi package
// maps them by hand; every other one (also what the Terraform provider adds later) gets the
// standard token, PKG_foo_bar -> PKG:index/fooBar:FooBar and getFooBar. It leaves the Fields of
// the entries to the caller.
func Tokens(info *tfbridge.ProviderInfo, resources, dataSources map[string]string) {
	pkg := info.Name
	if info.Resources == nil {
		info.Resources = map[string]*tfbridge.ResourceInfo{}
	}
	if info.DataSources == nil {
		info.DataSources = map[string]*tfbridge.DataSourceInfo{}
	}
	for tf, name := range resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{
			Tok: ptokens.Type(pkg + ":" + mainMod + "/" + lowerFirst(name) + ":" + name),
		}
	}
	for tf, name := range dataSources {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{
			Tok: ptokens.ModuleMember(pkg + ":" + mainMod + "/" + name + ":" + name),
		}
	}
	info.MustComputeTokens(tokens.SingleModule(pkg+"_", mainMod, tokens.MakeStandard(pkg)))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}
