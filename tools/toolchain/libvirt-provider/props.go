package main

// Property maps as the engine sends them, turned into plain Go values and into the typed input
// structs of each resource (their json tags are the SDK's property names).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// plain is v as plain Go data (string, float64, bool, []any, map[string]any, nil); secrets and
// known outputs are unwrapped. ok is false when v holds an unknown value anywhere.
func plain(v resource.PropertyValue) (any, bool) {
	switch {
	case v.IsNull():
		return nil, true
	case v.IsComputed():
		return nil, false
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return nil, false
		}
		return plain(o.Element)
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsString():
		return v.StringValue(), true
	case v.IsNumber():
		return v.NumberValue(), true
	case v.IsBool():
		return v.BoolValue(), true
	case v.IsArray():
		out := make([]any, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			p, ok := plain(e)
			if !ok {
				return nil, false
			}
			out = append(out, p)
		}
		return out, true
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		if id, ok := ref.ID.V.(string); ok && ref.ID.IsString() {
			return id, true
		}
		return nil, false
	}
	return nil, false
}

func plainMap(m resource.PropertyMap) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	allKnown := true
	for k, v := range m {
		p, ok := plain(v)
		if !ok {
			allKnown = false
			continue
		}
		if p != nil {
			out[string(k)] = p
		}
	}
	return out, allKnown
}

// knownPart is the part of m whose top-level values are fully known, as plain data.
func knownPart(m resource.PropertyMap) map[string]any {
	out, _ := plainMap(m)
	return out
}

// decodeStrict fills dst (a pointer to an input struct) from plain data, refusing any property
// name the struct does not declare.
func decodeStrict(src map[string]any, dst any) error {
	raw, err := json.Marshal(src)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// decodeInputs decodes fully known inputs (Create, Update, Delete, Read).
func decodeInputs(m resource.PropertyMap, dst any) error {
	src, known := plainMap(m)
	if !known {
		return fmt.Errorf("some inputs are not known yet")
	}
	return decodeStrict(src, dst)
}

// setDefault sets m[key] to v when m has no non-null value there.
func setDefault(m resource.PropertyMap, key string, v resource.PropertyValue) {
	if cur, ok := m[resource.PropertyKey(key)]; !ok || cur.IsNull() {
		m[resource.PropertyKey(key)] = v
	}
}

// has tells whether m holds a non-null value (known or not) at key.
func has(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && !v.IsNull()
}

// failures collects Check failures.
type failures []*pulumirpc.CheckFailure

func (f *failures) add(property, format string, args ...any) {
	*f = append(*f, &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)})
}

// unsupported adds a failure for each key of m that is set although this build does not
// implement it.
func (f *failures) unsupported(m resource.PropertyMap, prefix string, keys ...string) {
	for _, k := range keys {
		if has(m, k) {
			f.add(prefix+k, "%s%s is not implemented by this build of the libvirt provider", prefix, k)
		}
	}
}

// sortedKeys is the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
