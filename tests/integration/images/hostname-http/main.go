// hostname-http: a stand-in for traefik/whoami in the integration tests (no image can be pulled there).
//
//	hostname-http                 serve HTTP on the ports of $HTTP_PORTS (default "80 8080"):
//	                              GET /health answers "ok"; any other path answers
//	                              "Hostname: <hostname>", the addresses and the request.
//	hostname-http get URL         fetch URL, print the body; exit 1 on an error or a non-2xx status
//	hostname-http lookup NAME     print the addresses NAME resolves to, one a line
//	hostname-http docker-info     print the Name of the Docker daemon behind /var/run/docker.sock
//
// Standard library only, built with CGO_ENABLED=0 into a single static binary, which is the
// whole root filesystem of the image.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
		case "get":
			os.Exit(get(os.Args[2:]))
		case "lookup":
			os.Exit(lookup(os.Args[2:]))
		case "docker-info":
			os.Exit(dockerInfo())
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [serve | get URL | lookup NAME | docker-info]\n", os.Args[0])
			os.Exit(2)
		}
	}
	serve()
}

func serve() {
	ports := strings.Fields(os.Getenv("HTTP_PORTS"))
	if len(ports) == 0 {
		ports = []string{"80", "8080"}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", answer)
	errs := make(chan error, len(ports))
	for _, port := range ports {
		server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errs <- server.ListenAndServe() }()
	}
	// As PID 1 of its container the program must end on SIGTERM itself.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case <-stop:
	}
}

func answer(w http.ResponseWriter, r *http.Request) {
	hostname, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "Hostname: %s\n", hostname)
	for _, ip := range addresses() {
		fmt.Fprintf(&b, "IP: %s\n", ip)
	}
	fmt.Fprintf(&b, "RemoteAddr: %s\n", r.RemoteAddr)
	fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
	fmt.Fprintf(&b, "Host: %s\n", r.Host)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range r.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, value)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func addresses() []string {
	var out []string
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, addr := range addrs {
		if ipnet, ok := addr.(*net.IPNet); ok && !ipnet.IP.IsLoopback() {
			out = append(out, ipnet.IP.String())
		}
	}
	return out
}

func get(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: hostname-http get URL")
		return 2
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, _ = os.Stdout.Write(body)
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(os.Stderr, "HTTP status %s\n", resp.Status)
		return 1
	}
	return 0
}

func lookup(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: hostname-http lookup NAME")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sort.Strings(addrs)
	for _, addr := range addrs {
		fmt.Println(addr)
	}
	return 0
}

func dockerInfo() int {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", "/var/run/docker.sock")
			},
		},
	}
	resp, err := client.Get("http://docker/info")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	var info struct{ Name string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(info.Name)
	return 0
}
