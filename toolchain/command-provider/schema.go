package main

// A small Pulumi package schema for "command": the one resource this build serves, its input
// and output properties and the types they use.

import "encoding/json"

func schemaJSON(version string) string {
	str := map[string]any{"type": "string"}
	num := map[string]any{"type": "number"}
	integer := map[string]any{"type": "integer"}
	secretStr := map[string]any{"type": "string", "secret": true}
	ref := func(t string) map[string]any { return map[string]any{"$ref": "#/types/" + t} }
	describe := func(m map[string]any, d string) map[string]any {
		c := map[string]any{"description": d}
		for k, v := range m {
			c[k] = v
		}
		return c
	}
	hop := func(proxy bool) map[string]any {
		props := map[string]any{
			"host":               describe(str, "The address of the host to connect to."),
			"port":               describe(num, "The port to connect to. Defaults to 22."),
			"user":               describe(str, "The user to connect as. Defaults to root."),
			"password":           describe(secretStr, "The password to authenticate with."),
			"privateKey":         describe(secretStr, "The contents of an SSH private key to authenticate with."),
			"privateKeyPassword": describe(secretStr, "The passphrase of an encrypted privateKey."),
			"agentSocketPath":    describe(str, "SSH agent socket path. Defaults to the environment variable SSH_AUTH_SOCK."),
			"hostKey":            describe(str, "The expected host key (authorized_keys format); when set, any other key is refused."),
			"dialErrorLimit":     describe(integer, "How many dial attempts may fail before giving up. Defaults to 10."),
			"perDialTimeout":     describe(integer, "Max number of seconds for each dial attempt. 0 means no bound. Defaults to 15."),
		}
		if proxy {
			props["proxy"] = describe(ref("command:remote:ProxyConnection"), "The bastion host to connect through.")
		}
		for k, d := range map[string]any{"port": 22, "user": "root", "dialErrorLimit": 10, "perDialTimeout": 15} {
			props[k].(map[string]any)["default"] = d
		}
		return map[string]any{"type": "object", "properties": props, "required": []string{"host"}}
	}
	conn := hop(true)
	conn["description"] = "Instructions for how to connect to a remote endpoint."
	proxy := hop(false)
	proxy["description"] = "Instructions for how to connect to a remote endpoint via a bastion host."

	inputs := map[string]any{
		"connection":             describe(ref("command:remote:Connection"), "The parameters with which to connect to the remote host."),
		"environment":            map[string]any{"type": "object", "additionalProperties": str, "description": "Additional environment variables (the SSH server must accept them via AcceptEnv)."},
		"create":                 describe(str, "The command to run once on resource creation."),
		"update":                 describe(str, "The command to run when the resource is updated; the create command when empty."),
		"delete":                 describe(str, "The command to run on resource deletion."),
		"stdin":                  describe(str, "Passed to the command's process as standard input."),
		"triggers":               map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true, "description": "The resource is replaced when any of these values change."},
		"addPreviousOutputInEnv": describe(map[string]any{"type": "boolean", "default": true}, "Set PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR from the previous run."),
		"logging":                describe(ref("command:remote:Logging"), "Which of stdout and stderr are logged. Defaults to stdoutAndStderr."),
	}
	outputs := map[string]any{
		"stdout": describe(str, "The standard output of the command's process."),
		"stderr": describe(str, "The standard error of the command's process."),
	}
	for k, v := range inputs {
		outputs[k] = v
	}
	schema := map[string]any{
		"name":        "command",
		"displayName": "Command",
		"version":     version,
		"description": "Run commands on remote hosts over SSH (this build implements only command:remote:Command).",
		"config":      map[string]any{},
		"provider":    map[string]any{"type": "object"},
		"types": map[string]any{
			"command:remote:Connection":      conn,
			"command:remote:ProxyConnection": proxy,
			"command:remote:Logging": map[string]any{
				"type": "string",
				"enum": []map[string]any{
					{"value": "stdout", "description": "Capture stdout in logs but not stderr"},
					{"value": "stderr", "description": "Capture stderr in logs but not stdout"},
					{"value": "stdoutAndStderr", "description": "Capture stdout and stderr in logs"},
					{"value": "none", "description": "Capture no logs"},
				},
			},
		},
		"resources": map[string]any{
			remoteCommandToken: map[string]any{
				"description":     "A command to run on a remote host. The connection is established via ssh.",
				"inputProperties": inputs,
				"requiredInputs":  []string{"connection"},
				"properties":      outputs,
				"required":        []string{"connection", "stdout", "stderr"},
			},
		},
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		panic(err) // static data: cannot happen
	}
	return string(b)
}
