// whoami-lite: a tiny HTTP server that tells who answered, for ha-swarm's test images.
//
// It stands in for traefik/whoami when that module cannot be fetched (the Go module proxy
// reachable here does not serve it). It answers like whoami does, so tests can read the
// same lines: "Hostname: <container id>", one "IP: <address>" per interface address,
// "RemoteAddr: ...", then the request line and headers.
//
//	GET /        the text above (with "Name: <name>" first when -name / WHOAMI_NAME is set)
//	GET /api     the same facts as JSON
//	GET /health  200 "OK"
//
// Flags: -port (default 80, or $WHOAMI_PORT_NUMBER), -name (or $WHOAMI_NAME).
// Standard library only; built with CGO_ENABLED=0 into a FROM-scratch image.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

var version = "dev"

type facts struct {
	Hostname   string              `json:"hostname"`
	Name       string              `json:"name,omitempty"`
	IP         []string            `json:"ip"`
	Headers    map[string][]string `json:"headers"`
	URL        string              `json:"url"`
	Host       string              `json:"host"`
	Method     string              `json:"method"`
	RemoteAddr string              `json:"remoteAddr"`
}

func localIPs() []string {
	var ips []string
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ips
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP.String())
		}
	}
	return ips
}

func collect(name string, r *http.Request) facts {
	host, _ := os.Hostname()
	return facts{
		Hostname:   host,
		Name:       name,
		IP:         localIPs(),
		Headers:    r.Header,
		URL:        r.URL.RequestURI(),
		Host:       r.Host,
		Method:     r.Method,
		RemoteAddr: r.RemoteAddr,
	}
}

func main() {
	defPort := os.Getenv("WHOAMI_PORT_NUMBER")
	if defPort == "" {
		defPort = "80"
	}
	port := flag.String("port", defPort, "port to listen on")
	name := flag.String("name", os.Getenv("WHOAMI_NAME"), "name printed in the answers")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("whoami-lite", version)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(collect(*name, r)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f := collect(*name, r)
		var b strings.Builder
		if f.Name != "" {
			fmt.Fprintf(&b, "Name: %s\n", f.Name)
		}
		fmt.Fprintf(&b, "Hostname: %s\n", f.Hostname)
		for _, ip := range f.IP {
			fmt.Fprintf(&b, "IP: %s\n", ip)
		}
		fmt.Fprintf(&b, "RemoteAddr: %s\n", f.RemoteAddr)
		fmt.Fprintf(&b, "%s %s %s\n", r.Method, f.URL, r.Proto)
		fmt.Fprintf(&b, "Host: %s\n", r.Host)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range r.Header[k] {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, b.String())
	})

	srv := &http.Server{Addr: ":" + *port, Handler: mux}
	go func() {
		// PID 1 in a scratch container: stop cleanly on SIGTERM/SIGINT.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = srv.Close()
	}()
	log.Printf("whoami-lite %s listening on :%s", version, *port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
