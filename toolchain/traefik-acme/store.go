package main

// The replicated ACME store: Traefik's acme.json, gzipped and sealed with AES-256-GCM under the
// swarm secret traefik-acme-key, kept as swarm configs named traefik-acme-store-SEQ-SHA. Configs
// (unlike secrets) can be read back through the Docker API, so the issuer and every serving
// Traefik read the newest one without a service update (no restart); the key never leaves the
// tasks that mount the secret.

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

const (
	storePrefix = "traefik-acme-store-"
	seqLabel    = "ha-swarm.acme-store.seq"
	shaLabel    = "ha-swarm.acme-store.sha256"
	sealMagic   = "HSA1"
	keepStores  = 3
)

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// sealKey: the AES-256 key, the SHA-256 of the secret's content (any length, any encoding).
func sealKey(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) < 16 {
		return nil, fmt.Errorf("%s: a key of %d bytes is too short", path, len(raw))
	}
	sum := sha256.Sum256(raw)
	return sum[:], nil
}

func seal(key, plain []byte) ([]byte, error) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(sealMagic), nonce...)
	return gcm.Seal(out, nonce, z.Bytes(), []byte(sealMagic)), nil
}

// newGCM: AES-256-GCM under the store's key, for seal and unseal.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func unseal(key, sealed []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < len(sealMagic)+gcm.NonceSize() || string(sealed[:len(sealMagic)]) != sealMagic {
		return nil, errors.New("not a sealed ACME store")
	}
	nonce := sealed[len(sealMagic) : len(sealMagic)+gcm.NonceSize()]
	z, err := gcm.Open(nil, nonce, sealed[len(sealMagic)+gcm.NonceSize():], []byte(sealMagic))
	if err != nil {
		return nil, fmt.Errorf("the ACME store does not open with this key: %w", err)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// published: one store config as listed by the Docker API.
type published struct {
	ID   string
	Name string
	Seq  int
	Sha  string
}

func newest(stores []published) *published {
	if len(stores) == 0 {
		return nil
	}
	sortStores(stores)
	return &stores[len(stores)-1]
}

func sortStores(stores []published) {
	sort.Slice(stores, func(i, j int) bool {
		if stores[i].Seq != stores[j].Seq {
			return stores[i].Seq < stores[j].Seq
		}
		return stores[i].Name < stores[j].Name
	})
}

func listStores(d *docker) ([]published, error) {
	var configs []struct {
		ID   string
		Spec struct {
			Name   string
			Labels map[string]string
		}
	}
	filters, _ := json.Marshal(map[string][]string{"label": {seqLabel}})
	if err := d.call("GET", "/configs?filters="+urlQueryEscape(string(filters)), nil, &configs); err != nil {
		return nil, err
	}
	var out []published
	for _, c := range configs {
		seq, err := strconv.Atoi(c.Spec.Labels[seqLabel])
		if err != nil {
			continue
		}
		out = append(out, published{ID: c.ID, Name: c.Spec.Name, Seq: seq, Sha: c.Spec.Labels[shaLabel]})
	}
	return out, nil
}

func readStore(d *docker, key []byte, p published) ([]byte, error) {
	var config struct{ Spec struct{ Data []byte } }
	if err := d.call("GET", "/configs/"+p.ID, nil, &config); err != nil {
		return nil, err
	}
	return unseal(key, config.Spec.Data)
}

// publish: PLAIN as the store config after SEQ; an existing config of the same name counts as published.
func publish(d *docker, key, plain []byte, seq int) (published, error) {
	digest := sha(plain)
	name := fmt.Sprintf("%s%d-%s", storePrefix, seq, digest[:12])
	sealed, err := seal(key, plain)
	if err != nil {
		return published{}, err
	}
	spec := map[string]any{"Name": name, "Labels": map[string]string{seqLabel: strconv.Itoa(seq), shaLabel: digest}, "Data": sealed}
	var created struct{ ID string }
	err = d.call("POST", "/configs/create", spec, &created)
	var conflict *apiError
	if errors.As(err, &conflict) && conflict.status == 409 {
		err = nil
	}
	if err != nil {
		return published{}, err
	}
	return published{ID: created.ID, Name: name, Seq: seq, Sha: digest}, nil
}

// prune: all but the newest keepStores store configs removed (best effort).
func prune(d *docker) {
	stores, err := listStores(d)
	if err != nil || len(stores) <= keepStores {
		return
	}
	sortStores(stores)
	for _, s := range stores[:len(stores)-keepStores] {
		if err := d.call("DELETE", "/configs/"+s.ID, nil, nil); err != nil {
			logf("could not remove %s: %v", s.Name, err)
		}
	}
}

// acmeStore: the parts of Traefik's acme.json this program reads.
type acmeStore map[string]struct {
	Certificates []struct {
		Domain struct {
			Main string   `json:"main"`
			SANs []string `json:"sans"`
		} `json:"domain"`
		Certificate []byte `json:"certificate"`
		Key         []byte `json:"key"`
	} `json:"Certificates"`
}

func parseStore(plain []byte) (acmeStore, error) {
	var s acmeStore
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, fmt.Errorf("not an ACME store: %w", err)
	}
	return s, nil
}

func countCertificates(s acmeStore) int {
	n := 0
	for _, r := range s {
		n += len(r.Certificates)
	}
	return n
}

// writeAtomic: DATA into PATH through a temporary file in the same folder and a rename.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
