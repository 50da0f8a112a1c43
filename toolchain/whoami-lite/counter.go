package main

// The counter mode, the example stateful service of stacks/counter.yml: with COUNTER_FILE set
// (or -counter-file), GET or POST /count adds one to the number kept in that file and answers
//
//	Count: <the new number>
//	Hostname: <the container's hostname>
//
// The file is written the crash-safe way (a temporary file in the same folder, fsync, rename,
// fsync of the folder), so a reader never sees half a number, and the read-add-write holds an
// exclusive lock on COUNTER_FILE.lock (flock; on NFS the kernel turns it into an NFS lock), so
// several tasks sharing the file do not lose counts. A file that does not hold a number is never
// overwritten: /count then answers 500 and says why.

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

type counter struct {
	path     string
	mu       sync.Mutex
	warnOnce sync.Once
}

func newCounter(path string) *counter {
	return &counter{path: path}
}

// increment adds one to the number in the file and returns the new number.
func (c *counter) increment() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return 0, err
	}
	unlock, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	n, err := readCount(c.path)
	if err != nil {
		return 0, err
	}
	n++
	if err := writeCount(c.path, n); err != nil {
		return 0, err
	}
	return n, nil
}

// lock takes an exclusive lock on PATH.lock; where the file system has no locks (an NFSv3 mount
// without a lock manager) it goes on with the in-process lock only, and says so once.
func (c *counter) lock() (func(), error) {
	f, err := os.OpenFile(c.path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		if errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
			c.warnOnce.Do(func() { log.Printf("counter: no file locks on %s (%v): one task at a time only", c.path, err) })
			return func() { _ = f.Close() }, nil
		}
		_ = f.Close()
		return nil, fmt.Errorf("lock %s.lock: %w", c.path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// readCount reads the number in PATH: 0 when the file does not exist yet or is empty.
func readCount(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s holds %q, not a count: fix or remove it", path, truncate(text, 40))
	}
	return n, nil
}

// writeCount replaces PATH with a file holding N: temporary file, fsync, rename, fsync the folder.
func writeCount(path string, n int64) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := fmt.Fprintf(tmp, "%d\n", n); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// handle serves /count.
func (c *counter) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	n, err := c.increment()
	if err != nil {
		log.Printf("counter: %v", err)
		http.Error(w, "counter: "+err.Error(), http.StatusInternalServerError)
		return
	}
	host, _ := os.Hostname()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, "Count: %d\nHostname: %s\n", n, host)
}
