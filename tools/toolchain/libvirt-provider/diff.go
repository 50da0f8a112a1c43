package main

// Diff: the checked old inputs against the checked new ones. A change of an input a kind
// declares updatable is an update; any other change replaces the resource, deleting the old
// object first when the new one would have the same libvirt name.

import (
	"reflect"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

var replaceKind = map[pulumirpc.PropertyDiff_Kind]pulumirpc.PropertyDiff_Kind{
	pulumirpc.PropertyDiff_ADD:    pulumirpc.PropertyDiff_ADD_REPLACE,
	pulumirpc.PropertyDiff_DELETE: pulumirpc.PropertyDiff_DELETE_REPLACE,
	pulumirpc.PropertyDiff_UPDATE: pulumirpc.PropertyDiff_UPDATE_REPLACE,
}

func diffInputs(k kind, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	keys := map[string]bool{}
	for key := range olds {
		keys[string(key)] = true
	}
	for key := range news {
		keys[string(key)] = true
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	updatable := k.updatable()
	for key := range keys {
		if strings.HasPrefix(key, "__") {
			continue
		}
		o, hasOld := olds[resource.PropertyKey(key)]
		n, hasNew := news[resource.PropertyKey(key)]
		hasOld = hasOld && !isEmpty(o)
		hasNew = hasNew && !isEmpty(n)
		var change pulumirpc.PropertyDiff_Kind
		switch {
		case !hasOld && !hasNew:
			continue
		case !hasOld:
			change = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			change = pulumirpc.PropertyDiff_DELETE
		default:
			op, okO := plain(o)
			np, okN := plain(n)
			if okO && okN && plainEqual(op, np) {
				continue
			}
			change = pulumirpc.PropertyDiff_UPDATE
		}
		if !updatable[key] {
			change = replaceKind[change]
			resp.Replaces = append(resp.Replaces, key)
		}
		resp.Diffs = append(resp.Diffs, key)
		resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: change, InputDiff: true}
	}
	sort.Strings(resp.Diffs)
	sort.Strings(resp.Replaces)
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	if len(resp.Replaces) > 0 && k.sameObject(olds, news) {
		resp.DeleteBeforeReplace = true
	}
	return resp
}

// isEmpty: null, or a known empty list or map (the same as not given).
func isEmpty(v resource.PropertyValue) bool {
	p, known := plain(v)
	return known && normalize(p) == nil
}

// plainEqual compares plain values, taking an empty list or map as equal to none.
func plainEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if n := normalize(e); n != nil {
				out[k] = n
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// oldInputsOf is what Diff compares against: the old inputs, or for state written without
// them, the old outputs.
func oldInputsOf(oldInputs, olds resource.PropertyMap) resource.PropertyMap {
	if len(oldInputs) > 0 {
		return oldInputs
	}
	return olds
}
