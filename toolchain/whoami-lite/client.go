package main

// The client side, for tests that run inside a container of the image (no curl there).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"time"
)

func get(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: whoami-lite get URL")
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
		fmt.Fprintln(os.Stderr, "usage: whoami-lite lookup NAME")
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
