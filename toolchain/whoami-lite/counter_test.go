package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func request(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestCountStartsAtOneAndGoesUpByOneOnEachRequest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "count")
	h := handler("", file)
	for want := 1; want <= 3; want++ {
		code, body := request(t, h, http.MethodGet, "/count")
		if code != http.StatusOK || !strings.HasPrefix(body, "Count: "+strconv.Itoa(want)+"\nHostname: ") {
			t.Fatalf("request %d: %d %q", want, code, body)
		}
	}
	if data, _ := os.ReadFile(file); string(data) != "3\n" {
		t.Fatalf("the file holds %q, want \"3\\n\"", data)
	}
}

func TestCountContinuesFromTheNumberAlreadyInTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "count")
	if err := os.WriteFile(file, []byte("41\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a second server on the same file (the task restarted on another node) goes on counting
	if _, body := request(t, handler("", file), http.MethodPost, "/count"); !strings.HasPrefix(body, "Count: 42\n") {
		t.Fatalf("got %q", body)
	}
	if _, body := request(t, handler("", file), http.MethodGet, "/count"); !strings.HasPrefix(body, "Count: 43\n") {
		t.Fatalf("got %q", body)
	}
}

func TestCountCreatesTheFileAndItsFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "counter", "count")
	if _, body := request(t, handler("", file), http.MethodGet, "/count"); !strings.HasPrefix(body, "Count: 1\n") {
		t.Fatalf("got %q", body)
	}
}

func TestConcurrentIncrementsLoseNoCount(t *testing.T) {
	file := filepath.Join(t.TempDir(), "count")
	// two servers on one file, as two tasks sharing an NFS volume: the file lock serialises them
	servers := []http.Handler{handler("", file), handler("", file)}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(h http.Handler) {
			defer wg.Done()
			if code, body := request(t, h, http.MethodGet, "/count"); code != http.StatusOK {
				t.Errorf("%d %q", code, body)
			}
		}(servers[i%2])
	}
	wg.Wait()
	if data, _ := os.ReadFile(file); string(data) != "40\n" {
		t.Fatalf("after 40 requests the file holds %q", data)
	}
}

func TestAFileThatHoldsNoNumberIsReportedAndKept(t *testing.T) {
	file := filepath.Join(t.TempDir(), "count")
	if err := os.WriteFile(file, []byte("not a number"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := request(t, handler("", file), http.MethodGet, "/count")
	if code != http.StatusInternalServerError || !strings.Contains(body, "not a count") {
		t.Fatalf("got %d %q", code, body)
	}
	if data, _ := os.ReadFile(file); string(data) != "not a number" {
		t.Fatalf("the file was changed to %q", data)
	}
}

func TestNoTemporaryFileIsLeftBehind(t *testing.T) {
	dir := t.TempDir()
	h := handler("", filepath.Join(dir, "count"))
	for i := 0; i < 3; i++ {
		request(t, h, http.MethodGet, "/count")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "count count.lock" {
		t.Fatalf("the folder holds %v", names)
	}
}

func TestWithoutACounterFileCountIsNotFoundAndOtherMethodsAreRefused(t *testing.T) {
	if code, body := request(t, handler("", ""), http.MethodGet, "/count"); code != http.StatusNotFound || !strings.Contains(body, "COUNTER_FILE") {
		t.Fatalf("got %d %q", code, body)
	}
	if code, _ := request(t, handler("", filepath.Join(t.TempDir(), "count")), http.MethodDelete, "/count"); code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE /count answered %d", code)
	}
}

func TestTheWhoamiAnswersAreUnchangedInCounterMode(t *testing.T) {
	code, body := request(t, handler("", filepath.Join(t.TempDir(), "count")), http.MethodGet, "/")
	if code != http.StatusOK || !strings.Contains(body, "Hostname: ") || !strings.Contains(body, "GET / HTTP/1.1") {
		t.Fatalf("got %d %q", code, body)
	}
}
