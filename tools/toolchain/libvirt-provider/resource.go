package main

// The resource types this build serves, and what each one must do.

import (
	"context"
	"fmt"
	"strings"

	"github.com/digitalocean/go-libvirt"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// kind is one resource type of the libvirt package.
type kind interface {
	// check fills defaults into news and reports what is wrong with them (unknown values are
	// left alone).
	check(news resource.PropertyMap) (resource.PropertyMap, failures)
	// updatable names the inputs a change of which is applied in place (Update); a change of
	// any other input replaces the resource.
	updatable() map[string]bool
	create(ctx context.Context, lv *libvirt.Libvirt, inputs resource.PropertyMap) (string, resource.PropertyMap, error)
	// read returns the state of id as it is now, or "" when the object is gone.
	read(ctx context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) (string, resource.PropertyMap, error)
	update(ctx context.Context, lv *libvirt.Libvirt, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error)
	// delete removes id; an object already gone is not an error.
	delete(ctx context.Context, lv *libvirt.Libvirt, id string, state resource.PropertyMap) error
	// sameObject tells whether the old and new inputs name the same libvirt object (a
	// replacement must then delete the old one first).
	sameObject(olds, news resource.PropertyMap) bool
}

const (
	networkToken   = "libvirt:index/network:Network"
	poolToken      = "libvirt:index/pool:Pool"
	volumeToken    = "libvirt:index/volume:Volume"
	cloudInitToken = "libvirt:index/cloudInitDisk:CloudInitDisk"
	domainToken    = "libvirt:index/domain:Domain"
)

var kinds = map[string]kind{
	networkToken:   networkKind{},
	poolToken:      poolKind{},
	volumeToken:    volumeKind{},
	cloudInitToken: cloudInitKind{},
	domainToken:    domainKind{},
}

func unsupportedTypeError(typ string) error {
	return fmt.Errorf("resource type %q is not implemented by this build of the libvirt provider; "+
		"it implements only %s", typ, strings.Join(sortedKeys(kinds), ", "))
}

// kindOf finds the kind for a request's type (or, when empty, its URN's type).
func kindOf(urn, typ string) (kind, string, error) {
	if typ == "" && urn != "" {
		typ = string(resource.URN(urn).Type())
	}
	k, ok := kinds[typ]
	if !ok {
		return nil, typ, unsupportedTypeError(typ)
	}
	return k, typ, nil
}

// sameValues reports whether the plain values of keys are equal in olds and news.
func sameValues(olds, news resource.PropertyMap, keys ...string) bool {
	for _, k := range keys {
		o, okO := plain(olds[resource.PropertyKey(k)])
		n, okN := plain(news[resource.PropertyKey(k)])
		if !okO || !okN || !plainEqual(o, n) {
			return false
		}
	}
	return true
}
