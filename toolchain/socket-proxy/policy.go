package main

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Sections are the API sections a variable of the same name (upper case) grants, as in
// tecnativa/docker-socket-proxy.
var Sections = []string{
	"auth", "build", "commit", "configs", "containers", "distribution", "events", "exec", "grpc", "images", "info",
	"networks", "nodes", "_ping", "plugins", "secrets", "services", "session", "swarm", "system", "tasks", "version", "volumes",
}

// defaultOn: granted unless set to 0 (tecnativa's image sets these to 1).
var defaultOn = map[string]bool{"events": true, "_ping": true, "version": true}

// writeMethods: refused unless the variable of the same name is 1.
var writeMethods = []string{"POST", "DELETE", "PUT", "PATCH"}

// containerActions: refused even with CONTAINERS=1 unless ALLOW_<ACTION>=1.
var containerActions = []string{"exec", "attach", "kill", "archive", "export", "logs"}

var (
	versioned = regexp.MustCompile(`^/v[0-9.]+(/.*)?$`)
	container = regexp.MustCompile(`^/containers/[A-Za-z0-9_.-]+/([a-z]+)(/.*)?$`)
)

// Policy is what the environment allows.
type Policy struct {
	sections map[string]bool
	methods  map[string]bool
	actions  map[string]bool
}

// variable is the environment variable of a section: _ping is PING.
func variable(section string) string { return strings.ToUpper(strings.TrimPrefix(section, "_")) }

// PolicyFromEnv reads the variables with getenv; "1" and "true" (any case) grant, anything else refuses.
func PolicyFromEnv(getenv func(string) string) Policy {
	on := func(name string, fallback bool) bool {
		switch strings.ToLower(strings.TrimSpace(getenv(name))) {
		case "":
			return fallback
		case "1", "true", "yes", "on":
			return true
		default:
			return false
		}
	}
	p := Policy{sections: map[string]bool{}, methods: map[string]bool{"GET": true, "HEAD": true}, actions: map[string]bool{}}
	for _, s := range Sections {
		p.sections[s] = on(variable(s), defaultOn[s])
	}
	for _, m := range writeMethods {
		p.methods[m] = on(m, false)
	}
	for _, a := range containerActions {
		p.actions[a] = on("ALLOW_"+strings.ToUpper(a), false)
	}
	return p
}

// Refuse says why a request is refused, or "" when it may pass.
func (p Policy) Refuse(method, urlPath string) string {
	if !p.methods[strings.ToUpper(method)] {
		return "method " + method + " not allowed"
	}
	// A path with . or .. segments or doubled slashes could name one section and reach another.
	if !strings.HasPrefix(urlPath, "/") || path.Clean(urlPath) != strings.TrimSuffix(urlPath, "/") && urlPath != "/" {
		return "path not in clean form"
	}
	if m := versioned.FindStringSubmatch(urlPath); m != nil {
		urlPath = m[1]
	}
	section := strings.ToLower(strings.SplitN(strings.TrimPrefix(urlPath, "/"), "/", 2)[0])
	if !p.sections[section] {
		return "section /" + section + " not allowed"
	}
	if m := container.FindStringSubmatch(urlPath); section == "containers" && m != nil {
		if action := strings.ToLower(m[1]); contains(containerActions, action) && !p.actions[action] {
			return "container " + action + " not allowed"
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String lists what is allowed, for the log.
func (p Policy) String() string {
	var sections, methods []string
	for s, ok := range p.sections {
		if ok {
			sections = append(sections, "/"+s)
		}
	}
	for m, ok := range p.methods {
		if ok {
			methods = append(methods, m)
		}
	}
	sort.Strings(sections)
	sort.Strings(methods)
	return fmt.Sprintf("methods %s; sections %s", strings.Join(methods, " "), strings.Join(sections, " "))
}
