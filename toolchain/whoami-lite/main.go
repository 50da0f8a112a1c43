// whoami-lite: a tiny HTTP server that tells who answered, for ha-swarm's test images.
//
// It stands in for traefik/whoami when that module cannot be fetched (the Go module proxy
// reachable here does not serve it), and it is the program of the integration tests' image
// too. It answers like whoami does, so tests can read the same lines: "Hostname: <hostname>",
// one "IP: <address>" per interface address, "RemoteAddr: ...", then the request line and
// headers.
//
//	whoami-lite [serve] [-port P] [-name N] [-counter-file F]   serve HTTP:
//	    GET /        the text above (with "Name: <name>" first when -name / WHOAMI_NAME is set)
//	    GET /api     the same facts as JSON
//	    GET /health  200 "OK"
//	    GET /count   with -counter-file / COUNTER_FILE: add one to the number kept in that file
//	                 and answer "Count: N" and "Hostname: ..." (counter.go); else 404
//	whoami-lite get URL         fetch URL, print the body; exit 1 on an error or a non-2xx status
//	whoami-lite lookup NAME     print the addresses NAME resolves to, one a line
//	whoami-lite docker-info     print the Name of the Docker daemon behind /var/run/docker.sock
//	whoami-lite -version
//
// Ports: -port (default $WHOAMI_PORT_NUMBER, else 80); $HTTP_PORTS, a space-separated list,
// serves several ports at once and wins over both.
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
	"time"
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

func text(f facts, r *http.Request) string {
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
	return b.String()
}

func handler(name, counterFile string) http.Handler {
	mux := http.NewServeMux()
	if counterFile != "" {
		mux.HandleFunc("/count", newCounter(counterFile).handle)
	} else {
		mux.HandleFunc("/count", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no counter here: start whoami-lite with COUNTER_FILE=/path/to/file (or -counter-file)", http.StatusNotFound)
		})
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(collect(name, r)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, text(collect(name, r), r))
	})
	return mux
}

func serve(args []string) {
	defPort := os.Getenv("WHOAMI_PORT_NUMBER")
	if defPort == "" {
		defPort = "80"
	}
	fs := flag.NewFlagSet("whoami-lite", flag.ExitOnError)
	port := fs.String("port", defPort, "port to listen on")
	name := fs.String("name", os.Getenv("WHOAMI_NAME"), "name printed in the answers")
	counterFile := fs.String("counter-file", os.Getenv("COUNTER_FILE"), "file that keeps the number of /count (counter mode)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(args)
	if *showVersion {
		fmt.Println("whoami-lite", version)
		return
	}
	ports := strings.Fields(os.Getenv("HTTP_PORTS"))
	if len(ports) == 0 {
		ports = []string{*port}
	}
	h := handler(*name, *counterFile)
	errs := make(chan error, len(ports))
	servers := make([]*http.Server, 0, len(ports))
	for _, p := range ports {
		srv := &http.Server{Addr: ":" + p, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { errs <- srv.ListenAndServe() }()
	}
	log.Printf("whoami-lite %s listening on :%s", version, strings.Join(ports, ", :"))
	if *counterFile != "" {
		log.Printf("whoami-lite: counter mode, /count keeps its number in %s", *counterFile)
	}
	// PID 1 in a scratch container: stop cleanly on SIGTERM/SIGINT.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errs:
		log.Fatal(err)
	case <-stop:
		for _, srv := range servers {
			_ = srv.Close()
		}
	}
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			serve(os.Args[2:])
			return
		case "get":
			os.Exit(get(os.Args[2:]))
		case "lookup":
			os.Exit(lookup(os.Args[2:]))
		case "docker-info":
			os.Exit(dockerInfo())
		}
	}
	serve(os.Args[1:])
}
