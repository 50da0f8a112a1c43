package main

// The gRPC ResourceProvider glue: what the engine calls, for the one resource type served.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// engineLogger is the part of provider.HostClient used here (nil: no engine to log to).
type engineLogger interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	host    engineLogger
	version string

	// cancelled ends every operation in flight when the engine calls Cancel.
	cancelled context.Context
	cancel    context.CancelFunc
}

func newProvider(host engineLogger, version string) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{host: host, version: version, cancelled: ctx, cancel: cancel}
}

var marshalOpts = plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true, SkipNulls: true}

func unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	opts := marshalOpts
	opts.Label = label
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, opts)
}

func marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	opts := marshalOpts
	opts.Label = label
	return plugin.MarshalProperties(m, opts)
}

func checkType(urn, typ string) error {
	if typ == "" && urn != "" {
		typ = string(resource.URN(urn).Type())
	}
	if typ != remoteCommandToken {
		return status.Error(codes.InvalidArgument, unsupportedTypeError(typ).Error())
	}
	return nil
}

// opContext is ctx, also ended by Cancel and by the operation's custom timeout (seconds).
func (p *commandProvider) opContext(ctx context.Context, timeout float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.cancelled, cancel)
	if timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		return ctx, func() { cancelT(); stop(); cancel() }
	}
	return ctx, func() { stop(); cancel() }
}

func (p *commandProvider) logger(ctx context.Context, urn string) logFunc {
	return func(sev diag.Severity, msg string) {
		if p.host != nil {
			_ = p.host.Log(ctx, sev, resource.URN(urn), msg)
		}
	}
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *commandProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "no subpackage %q", req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON(p.version)}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: false}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	return &emptypb.Empty{}, nil
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal("check.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	inputs, failures := checkInputs(news)
	out, err := marshal("check.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal("diff.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal("diff.oldInputs", req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("diff.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	return diffInputs(oldInputsOf(oldInputs, olds), news), nil
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal("create.news", req.GetProperties())
	if err != nil {
		return nil, err
	}
	in, err := decodeInputs(news)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "create: %v", err)
	}
	ctx, done := p.opContext(ctx, req.GetTimeout())
	defer done()
	stdout, stderr, err := p.run(ctx, req.GetUrn(), in, in.Create, nil)
	if err != nil {
		return nil, err
	}
	out, err := marshal("create.outputs", withOutputs(news, stdout, stderr))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(resource.URN(req.GetUrn())), Properties: out}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal("update.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("update.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	in, err := decodeInputs(news)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "update: %v", err)
	}
	cmd := in.Update
	if cmd == "" {
		cmd = in.Create
	}
	stdout, stderr := previousOutputs(olds)
	if cmd != "" {
		ctx, done := p.opContext(ctx, req.GetTimeout())
		defer done()
		stdout, stderr, err = p.run(ctx, req.GetUrn(), in, cmd, olds)
		if err != nil {
			return nil, err
		}
	}
	out, err := marshal("update.outputs", withOutputs(news, stdout, stderr))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	state, err := unmarshal("delete.state", req.GetProperties())
	if err != nil {
		return nil, err
	}
	in, err := decodeInputs(state)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "delete: %v", err)
	}
	if in.Delete != "" {
		ctx, done := p.opContext(ctx, req.GetTimeout())
		defer done()
		if _, _, err := p.run(ctx, req.GetUrn(), in, in.Delete, state); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state as it is: a command has nothing to read back.
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// run connects and runs cmd (nothing when empty); prev, when not nil, is the state whose
// stdout/stderr go to PULUMI_COMMAND_STDOUT/STDERR if addPreviousOutputInEnv.
func (p *commandProvider) run(ctx context.Context, urn string, in commandInputs, cmd string,
	prev resource.PropertyMap,
) (string, string, error) {
	if cmd == "" {
		return "", "", nil
	}
	log := p.logger(ctx, urn)
	spec := runSpec{
		Command: cmd, Env: in.Environment, HasStdin: in.HasStdin, Stdin: in.Stdin,
		LogStdout: in.logsStdout(), LogStderr: in.logsStderr(),
		Where: fmt.Sprintf("%s@%s", in.Connection.User, in.Connection.addr()),
	}
	if prev != nil && in.AddPreviousOutputInEnv {
		out, errOut := previousOutputs(prev)
		spec.PrevOutEnv = map[string]string{"PULUMI_COMMAND_STDOUT": out, "PULUMI_COMMAND_STDERR": errOut}
	}
	client, err := dialConnection(ctx, in.Connection)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	return runRemote(ctx, client.Client, spec, log)
}

func previousOutputs(state resource.PropertyMap) (string, string) {
	m := plain(resource.NewObjectProperty(state)).ObjectValue()
	return str(m, "stdout"), str(m, "stderr")
}

// withOutputs is the state of the resource: its inputs plus stdout and stderr.
func withOutputs(inputs resource.PropertyMap, stdout, stderr string) resource.PropertyMap {
	out := inputs.Copy()
	out["stdout"] = resource.NewStringProperty(stdout)
	out["stderr"] = resource.NewStringProperty(stderr)
	return out
}

func newID(urn resource.URN) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "command"
	if urn.IsValid() {
		name = urn.Name()
	}
	return name + "-" + hex.EncodeToString(b)
}
