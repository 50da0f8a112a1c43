// traefik-acme: Let's Encrypt certificates served by Traefik on every manager of a Docker swarm,
// ordered by one issuer at a time. ha-swarm's `traefik.acme.ha` mode runs this image in two roles:
//
//	traefik-acme issuer [flags] -- TRAEFIK_FLAGS...
//	    The only ACME client (one replica on a manager). Before Traefik starts, its storage file
//	    is seeded from the newest replicated store (a swarm config sealed with the swarm secret
//	    traefik-acme-key), else, after -wait with none published, from -backup (the node's
//	    traefik-acme volume: today's single-Traefik store, or the copy a serving task left there),
//	    which is then published. After -settle (every serving Traefik routes HTTP-01 to this task
//	    by then) Traefik orders and renews; each change of its storage file is published as the
//	    next store config (the newest few are kept).
//	traefik-acme serve [flags] -- TRAEFIK_FLAGS...
//	    A serving Traefik (one on every manager). Every -interval the newest store is read and its
//	    certificates written to -work/certs with -work/dynamic/acme.yml for the file provider, and
//	    the store to -backup. It only reads the API (GET /configs: ha-swarm gives it the read-only
//	    proxy); with no store published, it serves the -backup of this node until one is.
//
// -docker is a DOCKER_HOST-style endpoint: tcp://HOST:PORT (ha-swarm: the issuer's proxy for the
// issuer, the read-only proxy for serve), or unix:///PATH.
//
// Both run Traefik as a child process, pass it SIGTERM/SIGINT, and end with it.
// Standard library only; built with CGO_ENABLED=0 into an image beside the traefik binary.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

var version = "dev"

// firstRead: how long a serving task waits for the published store before its Traefik starts.
const firstRead = 5 * time.Second

func logf(format string, args ...any) { log.Printf("traefik-acme: "+format, args...) }

type options struct {
	role     string
	endpoint string
	keyFile  string
	work     string
	backup   string
	traefik  string
	interval time.Duration
	wait     time.Duration
	settle   time.Duration
	args     []string
}

func parse(argv []string) (options, error) {
	if len(argv) == 0 || (argv[0] != "issuer" && argv[0] != "serve") {
		return options{}, errors.New("usage: traefik-acme issuer|serve [flags] -- TRAEFIK_FLAGS...")
	}
	o := options{role: argv[0]}
	fl := flag.NewFlagSet("traefik-acme "+o.role, flag.ContinueOnError)
	fl.StringVar(&o.endpoint, "docker", "", "the Docker API of a manager: tcp://HOST:PORT (a filtering proxy) or unix:///PATH")
	fl.StringVar(&o.keyFile, "key", "/run/secrets/traefik-acme-key", "the sealing key (swarm secret)")
	fl.StringVar(&o.work, "work", "/run/traefik-acme", "a private folder (tmpfs): issuer: acme.json; serve: certs/, dynamic/")
	fl.StringVar(&o.backup, "backup", "/acme/acme.json", "the node's copy of the store (the traefik-acme volume)")
	fl.StringVar(&o.traefik, "traefik", "/usr/local/bin/traefik", "the traefik binary")
	fl.DurationVar(&o.interval, "interval", 2*time.Second, "how often the store is looked at")
	fl.DurationVar(&o.wait, "wait", 20*time.Second, "issuer: how long to wait for a published store when there is none")
	fl.DurationVar(&o.settle, "settle", 25*time.Second, "issuer: how long to wait before Traefik starts ordering, so that every serving Traefik (swarm provider, 15 s poll) routes HTTP-01 to this task")
	if err := fl.Parse(argv[1:]); err != nil {
		return options{}, err
	}
	o.args = fl.Args()
	if o.endpoint == "" {
		return options{}, errors.New("-docker: the Docker API endpoint is required (tcp://HOST:PORT or unix:///PATH)")
	}
	if _, _, err := parseEndpoint(o.endpoint); err != nil {
		return options{}, err
	}
	return o, nil
}

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 && os.Args[1] == "-version" {
		fmt.Println(version)
		return
	}
	o, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	key, err := sealKey(o.keyFile)
	if err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(o.work, 0o700); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	d, err := newDocker(o.endpoint)
	if err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	if o.role == "issuer" {
		os.Exit(runIssuer(o, d, key))
	}
	os.Exit(runServe(o, d, key))
}

func readBackup(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logf("backup %s: %v", path, err)
		}
		return nil
	}
	if s, err := parseStore(data); err != nil || countCertificates(s) == 0 {
		return nil
	}
	return data
}

// latestStore: the newest published store and its content (nil, nil when none is published).
func latestStore(d *docker, key []byte) (*published, []byte, error) {
	stores, err := listStores(d)
	if err != nil {
		return nil, nil, err
	}
	p := newest(stores)
	if p == nil {
		return nil, nil, nil
	}
	plain, err := readStore(d, key, *p)
	return p, plain, err
}

func runIssuer(o options, d *docker, key []byte) int {
	storage := filepath.Join(o.work, "acme.json")
	var seed []byte
	var current *published
	deadline := time.Now().Add(o.wait)
	for {
		p, plain, err := latestStore(d, key)
		if err == nil && p != nil {
			seed, current = plain, p
			logf("issuer: starting from the published store %s (%d certificates)", p.Name, countOf(plain))
			break
		}
		if err != nil {
			logf("issuer: reading the published store: %v", err)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return 1 // never order from an empty store because the swarm could not be read
			}
			if seed = readBackup(o.backup); seed != nil {
				p, err := publish(d, key, seed, 1)
				if err != nil {
					logf("issuer: publishing the backup: %v", err)
					return 1
				}
				current = &p
				logf("issuer: no store published; started from %s (%d certificates), published as %s", o.backup, countOf(seed), p.Name)
			} else {
				logf("issuer: no store published and no backup: starting empty")
			}
			break
		}
		time.Sleep(o.interval)
	}
	if seed != nil {
		if err := writeAtomic(storage, seed, 0o600); err != nil {
			logf("issuer: %v", err)
			return 1
		}
	}
	// A challenge that reached no issuer fails its order, and Traefik does not try that name again
	// until its configuration changes: first let every Traefik see this task.
	logf("issuer: starting Traefik in %s", o.settle)
	time.Sleep(o.settle)
	_, done, err := startTraefik(o)
	if err != nil {
		logf("issuer: %v", err)
		return 1
	}
	publishedSha, pending := "", ""
	if current != nil {
		publishedSha = current.Sha
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			return code
		case <-tick.C:
		}
		data, err := os.ReadFile(storage)
		if err != nil || len(data) == 0 {
			continue
		}
		digest := sha(data)
		if digest == publishedSha {
			pending = ""
			continue
		}
		if digest != pending { // publish what has stayed the same for one interval
			pending = digest
			continue
		}
		if _, err := parseStore(data); err != nil {
			continue
		}
		stores, err := listStores(d)
		if err != nil {
			logf("issuer: listing the published stores: %v", err)
			continue
		}
		seq := 1
		if p := newest(stores); p != nil {
			seq = p.Seq + 1
		}
		p, err := publish(d, key, data, seq)
		if err != nil {
			logf("issuer: publishing: %v", err)
			continue
		}
		publishedSha, pending = digest, ""
		logf("issuer: published %s (%d certificates)", p.Name, countOf(data))
		prune(d)
	}
}

func countOf(plain []byte) int {
	s, err := parseStore(plain)
	if err != nil {
		return 0
	}
	return countCertificates(s)
}

// serveState: what a serving task has applied (the store's digest) and the files of the last round.
type serveState struct {
	applied string
	keep    map[string]bool
}

func (st *serveState) apply(o options, plain []byte, from string) {
	files, n, err := applyStore(o.work, plain, st.keep)
	if err != nil {
		logf("serve: %s: %v", from, err)
		return
	}
	st.keep, st.applied = files, sha(plain)
	if err := os.MkdirAll(filepath.Dir(o.backup), 0o700); err == nil {
		if err := writeIfChanged(o.backup, plain, 0o600); err != nil {
			logf("serve: backup %s: %v", o.backup, err)
		}
	}
	logf("serve: %d certificates from %s", n, from)
}

// sync: one round of a serving task. It only reads the API (GET /configs): the issuer publishes.
func (st *serveState) sync(o options, d *docker, key []byte) {
	p, plain, err := latestStore(d, key)
	switch {
	case err != nil:
		logf("serve: reading the published store: %v", err)
		// The API cannot be read (yet): serve this node's copy meanwhile rather than no certificate.
		if st.applied == "" {
			if backup := readBackup(o.backup); backup != nil {
				st.apply(o, backup, o.backup)
			}
		}
	case p == nil:
		// Nothing published yet: serve this node's copy meanwhile.
		if st.applied == "" {
			if backup := readBackup(o.backup); backup != nil {
				st.apply(o, backup, o.backup)
			}
		}
	case p.Sha != st.applied:
		st.apply(o, plain, p.Name)
	}
}

func runServe(o options, d *docker, key []byte) int {
	st := &serveState{}
	// Certificates in place before Traefik starts (an empty file list when there are none yet).
	if _, _, err := applyStore(o.work, []byte("{}"), nil); err != nil {
		logf("serve: %v", err)
		return 1
	}
	// The first read gets a few seconds only: on a manager whose daemon has just restarted, the path
	// to the API (the overlay, the proxies' tasks) may take a while to come back, and a Traefik that
	// has not started fails its healthcheck (swarm replaces a task unhealthy three times in 30 s),
	// so the task would never count as running. It starts with its node's copy of the store then.
	st.sync(o, d.withTimeout(firstRead), key)
	_, done, err := startTraefik(o)
	if err != nil {
		logf("serve: %v", err)
		return 1
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			return code
		case <-tick.C:
			st.sync(o, d, key)
		}
	}
}

// startTraefik: Traefik as a child process; DONE receives its exit status.
func startTraefik(o options) (*exec.Cmd, <-chan int, error) {
	cmd := exec.Command(o.traefik, o.args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
			if code < 0 {
				code = 1
			}
		} else if err != nil {
			code = 1
		}
		logf("traefik exited (%d)", code)
		done <- code
	}()
	return cmd, done, nil
}
