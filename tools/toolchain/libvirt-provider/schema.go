package main

// A small Pulumi package schema for "libvirt": the provider's config and the resource types
// this build serves (their properties are those of the pulumi-libvirt SDK; see the README).

import "encoding/json"

func schemaJSON(version string) string {
	str := map[string]any{"type": "string"}
	resources := map[string]any{}
	for _, token := range sortedKeys(kinds) {
		resources[token] = map[string]any{
			"description": "Served by the ha-swarm build of the libvirt provider.",
			"properties":  map[string]any{},
		}
	}
	schema := map[string]any{
		"name":    "libvirt",
		"version": version,
		"config": map[string]any{
			"variables": map[string]any{"uri": str},
		},
		"provider": map[string]any{
			"inputProperties": map[string]any{"uri": map[string]any{
				"type":        "string",
				"description": "libvirt connection URI (qemu:///system, qemu+ssh://user@host/system).",
			}},
		},
		"resources": resources,
	}
	out, _ := json.Marshal(schema)
	return string(out)
}
