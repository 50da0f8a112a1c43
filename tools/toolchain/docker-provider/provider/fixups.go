package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
)

// fixUpstreamSchema corrects, in the Terraform schema itself, spurious diffs of the upstream
// provider that would make every `pulumi preview` after an update show changes.
//
//   - docker_service task_spec.restart_policy.delay and .window: the provider sends an unset value
//     as a zero duration, and reads it back as "0s", so a program that leaves them out (or sets
//     only one, as ha-swarm's Traefik service does with delay) saw "- delay/window: 0s" on every
//     run (pulumi-docker has the same bug, pulumi/pulumi-docker#1285). A diff between two values
//     that are the same duration ("" counting as zero) is suppressed.
func fixUpstreamSchema(p *schema.Provider) error {
	restart, err := nestedBlock(p.ResourcesMap, "docker_service", "task_spec", "restart_policy")
	if err != nil {
		return err
	}
	for _, key := range []string{"delay", "window"} {
		s, ok := restart[key]
		if !ok {
			return fmt.Errorf("docker_service task_spec.restart_policy has no %q", key)
		}
		s.DiffSuppressFunc = sameDuration
	}
	return nil
}

// nestedBlock returns the schema map of the block reached from resource through the given
// (single-item list or set) block attributes.
func nestedBlock(resources map[string]*schema.Resource, resource string, path ...string) (map[string]*schema.Schema, error) {
	r, ok := resources[resource]
	if !ok {
		return nil, fmt.Errorf("the upstream provider has no resource %s", resource)
	}
	m := r.Schema
	for i, key := range path {
		s, ok := m[key]
		if !ok {
			return nil, fmt.Errorf("%s has no block %v", resource, path[:i+1])
		}
		elem, ok := s.Elem.(*schema.Resource)
		if !ok {
			return nil, fmt.Errorf("%s %v is not a block", resource, path[:i+1])
		}
		m = elem.Schema
	}
	return m, nil
}

// sameDuration: a DiffSuppressFunc for duration strings; "" counts as zero, as the provider
// sends it.
func sameDuration(_, old, new string, _ *schema.ResourceData) bool {
	parse := func(s string) (time.Duration, bool) {
		if s == "" {
			return 0, true
		}
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	a, okA := parse(old)
	b, okB := parse(new)
	return okA && okB && a == b
}
