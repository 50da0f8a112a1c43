// socket-proxy: a filtering HTTP proxy in front of the Docker socket, for ha-swarm's tests.
//
// It stands in for tecnativa/docker-socket-proxy (an HAProxy configuration) where that image
// cannot be pulled: it reads the same environment variables and applies the same rules, so a
// service spec written for one runs the other unchanged.
//
//   - Methods: GET and HEAD always; POST, DELETE, PUT, PATCH only when the variable of that name
//     is 1 (POST=1 ...). Anything else answers 403.
//   - Paths: the URL-decoded path, with or without an API version prefix (/v1.51/...), must
//     start with an API section whose variable is 1: SERVICES=1 lets /services and
//     /services/ID through, and so on. Granted by default, as tecnativa's are: EVENTS, PING,
//     VERSION. Every other section (CONTAINERS, INFO, NETWORKS, NODES, SECRETS, SWARM,
//     TASKS, ...) is refused unless set to 1. A path no section allows answers 403.
//   - Container sub-resources that write or leak (exec, attach, kill, archive, export, logs) stay
//     refused even with CONTAINERS=1, unless ALLOW_EXEC, ALLOW_ATTACH, ... say otherwise.
//
// One difference, on purpose: a section matches only as a whole path segment (/services, not
// /servicesX), where tecnativa's regular expressions match any path that begins with the name.
//
//	socket-proxy [-listen :2375] [-socket /var/run/docker.sock]
//
// The socket comes from SOCKET_PATH when -socket is not given. Standard library only; built with
// CGO_ENABLED=0 into a FROM-scratch image (toolchain/build-socket-proxy.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var version = "dev"

func main() {
	listen := flag.String("listen", ":2375", "address to listen on")
	socket := flag.String("socket", "", "the Docker socket (default $SOCKET_PATH, else /var/run/docker.sock)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("socket-proxy", version)
		return
	}
	path := *socket
	if path == "" {
		path = envOr("SOCKET_PATH", "/var/run/docker.sock")
	}
	policy := PolicyFromEnv(os.Getenv)
	log.Printf("socket-proxy %s: listening on %s, Docker API at unix://%s; %s", version, *listen, path, policy)
	server := &http.Server{Addr: *listen, Handler: Handler(policy, path), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

// Handler refuses what the policy does not allow (403) and passes the rest to the socket.
func Handler(policy Policy, socketPath string) http.Handler {
	backend := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
			r.Out.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socketPath)
			},
		},
		FlushInterval: -1, // /events streams
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := policy.Refuse(r.Method, r.URL.Path); why != "" {
			log.Printf("403 %s %s (%s) from %s", r.Method, r.URL.Path, why, r.RemoteAddr)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n")
			return
		}
		backend.ServeHTTP(w, r)
	})
}
