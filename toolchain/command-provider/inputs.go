package main

// The inputs of command:remote:Command: their defaults and checks (Check), and their decoding
// into Go values once they are known (Create, Update, Delete).

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const remoteCommandToken = "command:remote:Command"

// Values of the "logging" input.
const (
	logStdout          = "stdout"
	logStderr          = "stderr"
	logStdoutAndStderr = "stdoutAndStderr"
	logNone            = "none"
)

// Defaults of the connection (and proxy) fields, and of the command's own inputs.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// connection is one hop of connection / connection.proxy.
type connection struct {
	Host               string
	Port               int
	User               string
	Password           string
	PrivateKey         string
	PrivateKeyPassword string
	AgentSocketPath    string
	HostKey            string
	DialErrorLimit     int
	PerDialTimeout     int // seconds; 0: no bound
	Proxy              *connection
}

// commandInputs are the decoded inputs of a command:remote:Command.
type commandInputs struct {
	Connection             connection
	Environment            map[string]string
	Create, Update, Delete string
	HasStdin               bool
	Stdin                  string
	AddPreviousOutputInEnv bool
	Logging                string
}

func (in commandInputs) logsStdout() bool {
	return in.Logging == logStdout || in.Logging == logStdoutAndStderr
}

func (in commandInputs) logsStderr() bool {
	return in.Logging == logStderr || in.Logging == logStdoutAndStderr
}

// Kinds of value a field holds, for checking.
type fieldKind int

const (
	kString fieldKind = iota
	kNumber
	kBool
	kStringMap
	kArray
	kObject
)

var connectionFields = map[string]fieldKind{
	"host": kString, "port": kNumber, "user": kString, "password": kString,
	"privateKey": kString, "privateKeyPassword": kString, "agentSocketPath": kString,
	"hostKey": kString, "dialErrorLimit": kNumber, "perDialTimeout": kNumber, "proxy": kObject,
}

var commandFields = map[string]fieldKind{
	"connection": kObject, "environment": kStringMap, "create": kString, "update": kString,
	"delete": kString, "stdin": kString, "triggers": kArray, "addPreviousOutputInEnv": kBool,
	"logging": kString,
}

// outputOnly are properties of the resource that are never inputs.
var outputOnly = map[string]bool{"stdout": true, "stderr": true}

// unsupportedTypeError is what every token but command:remote:Command gets.
func unsupportedTypeError(token string) error {
	return fmt.Errorf("resource type %q is not supported: this build of pulumi-resource-command "+
		"implements only %s (command:local:Command, command:remote:CopyFile, "+
		"command:remote:CopyToRemote and the functions are not available)", token, remoteCommandToken)
}

// checkInputs fills the defaults of news and checks its types. Secrets stay secret (a secret
// object is unwrapped, completed and wrapped again) and unknown values are kept as they are.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, format string, args ...any) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: fmt.Sprintf(format, args...)})
	}
	out := resource.PropertyMap{}
	for _, k := range sortedKeys(news) {
		v := news[resource.PropertyKey(k)]
		switch {
		case strings.HasPrefix(k, "__") || outputOnly[k] || v.IsNull():
			continue // internal keys, outputs and nulls are not inputs
		case !isKnownField(k):
			fail(k, "unknown property %q of %s", k, remoteCommandToken)
			continue
		}
		out[resource.PropertyKey(k)] = v
	}

	conn, ok := out["connection"]
	if !ok {
		fail("connection", "missing required property 'connection'")
	} else {
		out["connection"] = mapWithin(conn, func(obj resource.PropertyMap) resource.PropertyMap {
			return checkConnection(obj, "connection", true, fail)
		}, func() { fail("connection", "connection must be an object") })
	}
	for _, k := range []string{"environment", "create", "update", "delete", "stdin", "triggers", "addPreviousOutputInEnv", "logging"} {
		if v, ok := out[resource.PropertyKey(k)]; ok {
			checkKind(k, v, commandFields[k], fail)
		}
	}
	if _, ok := out["addPreviousOutputInEnv"]; !ok {
		out["addPreviousOutputInEnv"] = resource.NewBoolProperty(true)
	}
	if v, ok := out["logging"]; !ok {
		out["logging"] = resource.NewStringProperty(logStdoutAndStderr)
	} else if p := plain(v); p.IsString() {
		switch p.StringValue() {
		case logStdout, logStderr, logStdoutAndStderr, logNone:
		default:
			fail("logging", "logging must be one of stdout, stderr, stdoutAndStderr, none (got %q)", p.StringValue())
		}
	}
	return out, failures
}

func isKnownField(k string) bool { _, ok := commandFields[k]; return ok }

// checkConnection completes one connection object (proxy: whether a nested proxy is allowed).
func checkConnection(obj resource.PropertyMap, path string, proxyAllowed bool,
	fail func(prop, format string, args ...any),
) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range obj {
		if v.IsNull() {
			continue
		}
		kind, known := connectionFields[string(k)]
		if !known || (k == "proxy" && !proxyAllowed) {
			fail(path+"."+string(k), "unknown property %q of %s", string(k), path)
			continue
		}
		out[k] = v
		if k != "proxy" {
			checkKind(path+"."+string(k), v, kind, fail)
		}
	}
	if _, ok := out["host"]; !ok {
		fail(path+".host", "missing required property '%s.host'", path)
	}
	if _, ok := out["port"]; !ok {
		out["port"] = resource.NewNumberProperty(defaultPort)
	}
	if _, ok := out["user"]; !ok {
		out["user"] = resource.NewStringProperty(defaultUser)
	}
	if _, ok := out["dialErrorLimit"]; !ok {
		out["dialErrorLimit"] = resource.NewNumberProperty(defaultDialErrorLimit)
	}
	if _, ok := out["perDialTimeout"]; !ok {
		out["perDialTimeout"] = resource.NewNumberProperty(defaultPerDialTimeout)
	}
	if p, ok := out["proxy"]; ok && proxyAllowed {
		out["proxy"] = mapWithin(p, func(o resource.PropertyMap) resource.PropertyMap {
			return checkConnection(o, path+".proxy", false, fail)
		}, func() { fail(path+".proxy", "%s.proxy must be an object", path) })
	}
	return out
}

// mapWithin applies f to the object inside v, looking through a secret wrapper (kept) and leaving
// unknown values alone; notObject is called when v holds something else.
func mapWithin(v resource.PropertyValue, f func(resource.PropertyMap) resource.PropertyMap,
	notObject func(),
) resource.PropertyValue {
	switch {
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return v
	case v.IsSecret():
		return resource.MakeSecret(mapWithin(v.SecretValue().Element, f, notObject))
	case v.IsObject():
		return resource.NewObjectProperty(f(v.ObjectValue()))
	default:
		notObject()
		return v
	}
}

func checkKind(prop string, v resource.PropertyValue, kind fieldKind, fail func(prop, format string, args ...any)) {
	v = plain(v)
	if v.ContainsUnknowns() && !v.IsObject() && !v.IsArray() {
		return
	}
	switch kind {
	case kString:
		if !v.IsString() {
			fail(prop, "%s must be a string", prop)
		}
	case kNumber:
		if !v.IsNumber() {
			fail(prop, "%s must be a number", prop)
		}
	case kBool:
		if !v.IsBool() {
			fail(prop, "%s must be a boolean", prop)
		}
	case kArray:
		if !v.IsArray() {
			fail(prop, "%s must be an array", prop)
		}
	case kObject:
		if !v.IsObject() {
			fail(prop, "%s must be an object", prop)
		}
	case kStringMap:
		if !v.IsObject() {
			fail(prop, "%s must be a map of strings", prop)
			return
		}
		for k, e := range v.ObjectValue() {
			if !e.IsString() && !e.ContainsUnknowns() {
				fail(prop+"."+string(k), "%s.%s must be a string", prop, string(k))
			}
		}
	}
}

// plain returns v without any secret wrappers, at any depth.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return plain(o.Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = plain(e)
		}
		return resource.NewObjectProperty(m)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = plain(e)
		}
		return resource.NewArrayProperty(a)
	default:
		return v
	}
}

func sortedKeys(m resource.PropertyMap) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys
}

// decodeInputs turns checked, fully known inputs (or a resource's state) into commandInputs.
func decodeInputs(props resource.PropertyMap) (commandInputs, error) {
	m := plain(resource.NewObjectProperty(props)).ObjectValue()
	if m.ContainsUnknowns() {
		return commandInputs{}, fmt.Errorf("inputs are not all known")
	}
	in := commandInputs{
		Create:                 str(m, "create"),
		Update:                 str(m, "update"),
		Delete:                 str(m, "delete"),
		AddPreviousOutputInEnv: true,
		Logging:                logStdoutAndStderr,
	}
	if v, ok := m["stdin"]; ok && v.IsString() {
		in.HasStdin, in.Stdin = true, v.StringValue()
	}
	if v, ok := m["addPreviousOutputInEnv"]; ok && v.IsBool() {
		in.AddPreviousOutputInEnv = v.BoolValue()
	}
	if v := str(m, "logging"); v != "" {
		in.Logging = v
	}
	if v, ok := m["environment"]; ok && v.IsObject() {
		in.Environment = map[string]string{}
		for k, e := range v.ObjectValue() {
			if e.IsString() {
				in.Environment[string(k)] = e.StringValue()
			}
		}
	}
	c, ok := m["connection"]
	if !ok || !c.IsObject() {
		return in, fmt.Errorf("missing connection")
	}
	in.Connection = decodeConnection(c.ObjectValue())
	if in.Connection.Host == "" {
		return in, fmt.Errorf("connection.host is empty")
	}
	if p := in.Connection.Proxy; p != nil && p.Host == "" {
		return in, fmt.Errorf("connection.proxy.host is empty")
	}
	return in, nil
}

func decodeConnection(m resource.PropertyMap) connection {
	c := connection{
		Host:               str(m, "host"),
		Port:               num(m, "port", defaultPort),
		User:               str(m, "user"),
		Password:           str(m, "password"),
		PrivateKey:         str(m, "privateKey"),
		PrivateKeyPassword: str(m, "privateKeyPassword"),
		AgentSocketPath:    str(m, "agentSocketPath"),
		HostKey:            str(m, "hostKey"),
		DialErrorLimit:     num(m, "dialErrorLimit", defaultDialErrorLimit),
		PerDialTimeout:     num(m, "perDialTimeout", defaultPerDialTimeout),
	}
	if c.User == "" {
		c.User = defaultUser
	}
	if p, ok := m["proxy"]; ok && p.IsObject() {
		pc := decodeConnection(p.ObjectValue())
		pc.Proxy = nil
		c.Proxy = &pc
	}
	return c
}

func str(m resource.PropertyMap, k resource.PropertyKey) string {
	if v, ok := m[k]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

func num(m resource.PropertyMap, k resource.PropertyKey, def int) int {
	if v, ok := m[k]; ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return def
}
