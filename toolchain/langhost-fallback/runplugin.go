// RunPlugin of the fallback Python language host (sdk/v3@LANGHOST_FALLBACK_SDK), for today's CLI.
//
// toolchain/build.sh copies this file into the host's package (package main of
// sdk/python/cmd/pulumi-language-python) and renames the host's own RunPlugin to runPluginProgram.
//
// Why: the CLI runs a Python policy pack (`--policy-pack DIR`, PulumiPolicy.yaml) through the
// language host's RunPlugin. Today's CLI no longer fills the request's `program` (field 2); it sends
// `info` (field 5, a ProgramInfo: root_directory 1, program_directory 2, entry_point 3, options 4),
// which this host's generated code predates. The old host would then run python with an empty path in the
// project's folder, that is the Pulumi program itself instead of the policy pack. Here `info` is
// read from the request's unknown fields: the program becomes program_directory/entry_point, and
// options.virtualenv (relative to root_directory) the virtualenv it runs in, as today's host does.
//
// A policy pack (`kind` "analyzer", field 6) is started as today's host starts it: `python -u -m
// pulumi.policy ARGS PROGRAM_DIRECTORY` in the pack's folder. The `-u` matters: the pack announces
// its port with a write to stdout that it does not flush (pulumi_policy's serve), and stdout is a
// pipe here, so without it the CLI waits for the port for ever unless PYTHONUNBUFFERED happens to
// be set in the caller's environment.
package main

import (
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pluginInfo is what the host needs of a ProgramInfo.
type pluginInfo struct {
	rootDirectory, programDirectory, entryPoint, virtualenv string
	// kind is the request's field 6 ("analyzer" for a policy pack), empty from older CLIs.
	kind string
}

// analyzerKind is RunPluginRequest.kind for a policy pack (apitype.AnalyzerPlugin).
const analyzerKind = "analyzer"

// RunPlugin runs the plugin program the request describes, old form (`program`) or new (`info`).
func (host *pythonLanguageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info, ok := runPluginInfo(req.ProtoReflect().GetUnknown())
	if !ok {
		return host.runPluginProgram(req, server)
	}
	if info.kind == analyzerKind && info.programDirectory != "" {
		req.Program, req.Args = policyPackArgv(req.Args, info.programDirectory)
		req.Pwd = info.programDirectory
	} else if req.Program == "" && info.programDirectory != "" {
		req.Program = info.programDirectory
		if info.entryPoint != "" && info.entryPoint != "." {
			req.Program = filepath.Join(info.programDirectory, info.entryPoint)
		}
	}
	plugin := *host
	if info.virtualenv != "" {
		plugin.virtualenv = info.virtualenv
		plugin.virtualenvPath = resolveVirtualEnvironmentPath(info.rootDirectory, info.virtualenv)
	}
	return plugin.runPluginProgram(req, server)
}

// policyPackArgv is python's argv for a policy pack, split as the host's own code wants it (the
// first word, then the rest): `-u -m pulumi.policy ARGS PROGRAM_DIRECTORY`, as today's host runs it.
func policyPackArgv(args []string, programDirectory string) (string, []string) {
	rest := append([]string{"-m", "pulumi.policy"}, args...)
	return "-u", append(rest, programDirectory)
}

// runPluginInfo decodes fields 5 (info) and 6 (kind) of a RunPluginRequest from its unknown fields.
func runPluginInfo(unknown []byte) (pluginInfo, bool) {
	var info pluginInfo
	found := false
	kind := ""
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return info, false
		}
		unknown = unknown[n:]
		if num == 5 && typ == protowire.BytesType {
			value, m := protowire.ConsumeBytes(unknown)
			if m < 0 {
				return info, false
			}
			info, found = programInfo(value), true
			unknown = unknown[m:]
			continue
		}
		if num == 6 && typ == protowire.BytesType {
			value, m := protowire.ConsumeBytes(unknown)
			if m < 0 {
				return info, false
			}
			kind = string(value)
			unknown = unknown[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, unknown)
		if m < 0 {
			return info, false
		}
		unknown = unknown[m:]
	}
	info.kind = kind
	return info, found
}

// programInfo decodes a ProgramInfo message; fields it cannot read are left empty.
func programInfo(b []byte) pluginInfo {
	var info pluginInfo
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return info
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return info
			}
			b = b[m:]
			continue
		}
		value, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return info
		}
		b = b[m:]
		switch num {
		case 1:
			info.rootDirectory = string(value)
		case 2:
			info.programDirectory = string(value)
		case 3:
			info.entryPoint = string(value)
		case 4:
			var options structpb.Struct
			if proto.Unmarshal(value, &options) == nil {
				if venv, ok := options.GetFields()["virtualenv"]; ok {
					info.virtualenv = venv.GetStringValue()
				}
			}
		}
	}
	return info
}
