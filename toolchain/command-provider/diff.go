package main

// Diff of command:remote:Command: a change of triggers replaces the resource, a change of any
// other input updates it; stdout and stderr are outputs and never differ.

import (
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// diffInputs compares the old inputs with the new (checked) ones.
func diffInputs(olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for k := range keys {
		if outputOnly[string(k)] || strings.HasPrefix(string(k), "__") {
			continue
		}
		o, hasOld := olds[k]
		n, hasNew := news[k]
		hasOld = hasOld && !o.IsNull()
		hasNew = hasNew && !n.IsNull()
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !hasOld && !hasNew:
			continue
		case !hasOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		case valuesEqual(o, n):
			continue
		default:
			kind = pulumirpc.PropertyDiff_UPDATE
		}
		if k == "triggers" {
			kind = replaceKind[kind]
			resp.Replaces = append(resp.Replaces, string(k))
		}
		resp.Diffs = append(resp.Diffs, string(k))
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	sort.Strings(resp.Diffs)
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

var replaceKind = map[pulumirpc.PropertyDiff_Kind]pulumirpc.PropertyDiff_Kind{
	pulumirpc.PropertyDiff_ADD:    pulumirpc.PropertyDiff_ADD_REPLACE,
	pulumirpc.PropertyDiff_DELETE: pulumirpc.PropertyDiff_DELETE_REPLACE,
	pulumirpc.PropertyDiff_UPDATE: pulumirpc.PropertyDiff_UPDATE_REPLACE,
}

// valuesEqual compares two input values ignoring whether they are secret; a value that is not
// known yet (a preview) is a change.
func valuesEqual(o, n resource.PropertyValue) bool {
	po, pn := plain(o), plain(n)
	if pn.ContainsUnknowns() || po.ContainsUnknowns() {
		return false
	}
	return po.DeepEquals(pn)
}

// oldInputsOf returns the old inputs of a Diff: the engine's old inputs when it sends them,
// else the old state without its outputs.
func oldInputsOf(oldInputs, olds resource.PropertyMap) resource.PropertyMap {
	if len(oldInputs) > 0 {
		return oldInputs
	}
	m := resource.PropertyMap{}
	for k, v := range olds {
		if !outputOnly[string(k)] {
			m[k] = v
		}
	}
	return m
}
