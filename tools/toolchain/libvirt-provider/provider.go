package main

// The gRPC ResourceProvider glue: what the engine calls, dispatched to the kind of the
// resource, with the connection to libvirt the provider's uri names.

import (
	"context"
	"os"
	"time"

	"github.com/digitalocean/go-libvirt"
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

const uriConfigKey = "libvirt:config:uri"

type libvirtProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	host    engineLogger
	version string
	conn    connector

	// cancelled ends every operation in flight when the engine calls Cancel.
	cancelled context.Context
	cancel    context.CancelFunc
}

func newProvider(host engineLogger, version string) *libvirtProvider {
	ctx, cancel := context.WithCancel(context.Background())
	p := &libvirtProvider{host: host, version: version, cancelled: ctx, cancel: cancel}
	p.conn.configure(defaultURIFromEnv(""))
	return p
}

func defaultURIFromEnv(uri string) string {
	if uri != "" {
		return uri
	}
	if env := os.Getenv("LIBVIRT_DEFAULT_URI"); env != "" {
		return env
	}
	return defaultURI
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

func kindFor(urn, typ string) (kind, error) {
	k, _, err := kindOf(urn, typ)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return k, nil
}

// opContext is ctx, also ended by Cancel and by the operation's custom timeout (seconds).
func (p *libvirtProvider) opContext(ctx context.Context, timeout float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if p.cancelled.Err() != nil {
		cancel()
	}
	stop := context.AfterFunc(p.cancelled, cancel)
	if timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		return ctx, func() { cancelT(); stop(); cancel() }
	}
	return ctx, func() { stop(); cancel() }
}

func (p *libvirtProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *libvirtProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "no subpackage %q", req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON(p.version)}, nil
}

// CheckConfig accepts the provider's inputs as they are once uri (when known) parses.
func (p *libvirtProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal("checkConfig.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	var f failures
	if v, ok := plain(news["uri"]); ok {
		if s, _ := v.(string); s != "" {
			if _, err := parseURI(s); err != nil {
				f.add("uri", "%v", err)
			}
		}
	}
	out, err := marshal("checkConfig.inputs", news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: f}, nil
}

// DiffConfig: a new uri is an update of the provider, never a replacement of its resources.
func (p *libvirtProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal("diffConfig.olds", req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = unmarshal("diffConfig.olds", req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal("diffConfig.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}
	o, okO := plain(olds["uri"])
	n, okN := plain(news["uri"])
	if !okO || !okN || !plainEqual(o, n) {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs = []string{"uri"}
	}
	return resp, nil
}

func (p *libvirtProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	uri := ""
	if args := req.GetArgs(); args != nil {
		m, err := unmarshal("configure.args", args)
		if err != nil {
			return nil, err
		}
		if v, ok := plain(m["uri"]); ok {
			uri, _ = v.(string)
		}
	}
	if uri == "" {
		uri = req.GetVariables()[uriConfigKey]
	}
	uri = defaultURIFromEnv(uri)
	if _, err := parseURI(uri); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	p.conn.configure(uri)
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: false}, nil
}

func (p *libvirtProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	p.conn.drop()
	return &emptypb.Empty{}, nil
}

func (p *libvirtProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("check.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	inputs, f := k.check(news)
	out, err := marshal("check.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: f}, nil
}

func (p *libvirtProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
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
	return diffInputs(k, oldInputsOf(oldInputs, olds), news), nil
}

// run runs fn with a live connection, bounded by ctx, Cancel and the timeout.
func (p *libvirtProvider) run(ctx context.Context, timeout float64, fn func(ctx context.Context, lv *libvirt.Libvirt) error) error {
	ctx, done := p.opContext(ctx, timeout)
	defer done()
	err := p.conn.with(ctx, func(lv *libvirt.Libvirt) error { return fn(ctx, lv) })
	if err != nil {
		return status.Error(codes.Unknown, err.Error())
	}
	return nil
}

func (p *libvirtProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("create.news", req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: req.GetProperties()}, nil
	}
	var id string
	var outs resource.PropertyMap
	err = p.run(ctx, req.GetTimeout(), func(ctx context.Context, lv *libvirt.Libvirt) error {
		var err error
		id, outs, err = k.create(ctx, lv, news)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := marshal("create.outputs", outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

func (p *libvirtProvider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal("read.state", req.GetProperties())
	if err != nil {
		return nil, err
	}
	var id string
	var outs resource.PropertyMap
	err = p.run(ctx, 0, func(ctx context.Context, lv *libvirt.Libvirt) error {
		var err error
		id, outs, err = k.read(ctx, lv, req.GetId(), state)
		return err
	})
	if err != nil {
		return nil, err
	}
	if id == "" {
		return &pulumirpc.ReadResponse{}, nil
	}
	out, err := marshal("read.outputs", outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: out, Inputs: req.GetInputs()}, nil
}

func (p *libvirtProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
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
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
	}
	var outs resource.PropertyMap
	err = p.run(ctx, req.GetTimeout(), func(ctx context.Context, lv *libvirt.Libvirt) error {
		var err error
		outs, err = k.update(ctx, lv, req.GetId(), olds, news)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := marshal("update.outputs", outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

func (p *libvirtProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	k, err := kindFor(req.GetUrn(), req.GetType())
	if err != nil {
		return nil, err
	}
	state, err := unmarshal("delete.state", req.GetProperties())
	if err != nil {
		return nil, err
	}
	err = p.run(ctx, req.GetTimeout(), func(ctx context.Context, lv *libvirt.Libvirt) error {
		return k.delete(ctx, lv, req.GetId(), state)
	})
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
