package main

// The connection to libvirt: dialled on first use from the provider's uri, shared by the
// operations in flight, dropped (ending them) by Cancel, dialled again when lost.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/google/uuid"
)

const localDialTimeout = 15 * time.Second

type connector struct {
	mu  sync.Mutex
	uri string
	lv  *libvirt.Libvirt
}

func (c *connector) configure(uri string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if uri != c.uri && c.lv != nil {
		_ = c.lv.Disconnect()
		c.lv = nil
	}
	c.uri = uri
}

// get returns a live connection, dialling one when there is none.
func (c *connector) get() (*libvirt.Libvirt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lv != nil && c.lv.IsConnected() {
		return c.lv, nil
	}
	lv, err := dial(c.uri)
	if err != nil {
		return nil, err
	}
	c.lv = lv
	return lv, nil
}

// drop closes the connection, which ends every call in flight on it.
func (c *connector) drop() {
	c.mu.Lock()
	lv := c.lv
	c.lv = nil
	c.mu.Unlock()
	if lv != nil {
		_ = lv.Disconnect()
	}
}

// with runs fn on a live connection; when ctx ends first the connection is dropped, so the
// calls fn is blocked in fail.
func (c *connector) with(ctx context.Context, fn func(lv *libvirt.Libvirt) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lv, err := c.get()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, c.drop)
	defer stop()
	err = fn(lv)
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return err
}

func dial(uri string) (*libvirt.Libvirt, error) {
	t, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	var d socket.Dialer
	var ssh *sshDialer
	if t.Transport == "ssh" {
		ssh = &sshDialer{t: t}
		d = ssh
	} else {
		d = dialers.NewLocal(dialers.WithSocket(t.Socket), dialers.WithLocalTimeout(localDialTimeout))
	}
	lv := libvirt.NewWithDialer(d)
	if err := lv.ConnectToURI(libvirt.ConnectURI(t.Open)); err != nil {
		where := t.Socket
		if ssh != nil {
			where = "ssh " + t.Host
			if msg := ssh.stderrOf(); msg != "" {
				err = fmt.Errorf("%w; ssh said: %s", err, msg)
			}
		}
		return nil, fmt.Errorf("connect to libvirt %s (%s, opening %s): %w", uri, where, t.Open, err)
	}
	return lv, nil
}

// isMissing tells whether err is libvirt's answer for an object that does not exist.
func isMissing(err error) bool {
	var e libvirt.Error
	if !errors.As(err, &e) {
		return false
	}
	switch libvirt.ErrorNumber(e.Code) {
	case libvirt.ErrNoDomain, libvirt.ErrNoNetwork, libvirt.ErrNoStoragePool, libvirt.ErrNoStorageVol:
		return true
	}
	return false
}

// notRunning tells whether err says the object to stop is not running (or gone).
func notRunning(err error) bool {
	var e libvirt.Error
	return isMissing(err) || (errors.As(err, &e) && libvirt.ErrorNumber(e.Code) == libvirt.ErrOperationInvalid)
}

func parseUUID(id string) (libvirt.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return libvirt.UUID{}, fmt.Errorf("id %q is not a libvirt UUID: %w", id, err)
	}
	return libvirt.UUID(u), nil
}

func formatUUID(u libvirt.UUID) string {
	return uuid.UUID(u).String()
}
