// Command pulumi-resource-command is a small, offline stand-in for Pulumi's
// "command" resource provider (github.com/pulumi/pulumi-command), whose Go
// modules the module proxy used here does not serve.
//
// It implements the parts of the provider that the @pulumi/command Node.js SDK
// in node_modules uses for local work:
//
//   - resource command:local:Command (create, update, delete, dir,
//     environment, interpreter, stdin, triggers; outputs stdout and stderr)
//   - function command:local:run (command, dir, environment, interpreter,
//     stdin; returns stdout and stderr)
//
// Remote (SSH) resources, assetPaths and archivePaths are not implemented and
// fail with a clear message. Behaviour follows the upstream provider: changed
// triggers replace the resource, other changed inputs run `update` (or
// `create` when no `update` is given), `delete` runs on destroy with
// PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR set, and stdout and stderr
// lose one trailing newline.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is the provider version reported to the engine. It matches the
// @pulumi/command package so the engine pairs the two; set with -ldflags "-X main.version=...".
var version = "4.5.0"

const (
	localCommandType = "command:local:Command"
	localRunFunction = "command:local:run"
)

// inputKeys are the inputs of command:local:Command that the stand-in copies into its state.
var inputKeys = []resource.PropertyKey{
	"archivePaths", "assetPaths", "create", "delete", "dir", "environment",
	"interpreter", "stdin", "triggers", "update",
}

func main() {
	err := provider.Main("command", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &commandProvider{}, nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *commandProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":"command","version":%q}`, version)}, nil
}

func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	if t != localCommandType {
		return status.Errorf(codes.Unimplemented,
			"%s is not supported by the offline stand-in pulumi-resource-command (only %s)", t, localCommandType)
	}
	return nil
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for _, k := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
		if v, ok := news[k]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{
				Property: string(k),
				Reason:   "not supported by the offline stand-in pulumi-resource-command",
			})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	var diffs, replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, k := range inputKeys {
		if ignored[string(k)] {
			continue
		}
		o, n := olds[k], news[k]
		if o.IsNull() && n.IsNull() {
			continue
		}
		if !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		replace := k == "triggers"
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case o.IsNull() && replace:
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		case o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull() && replace:
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		case n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE
		case replace:
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
		if replace {
			replaces = append(replaces, string(k))
		}
		diffs = append(diffs, string(k))
		detailed[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(diffs) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{
		Changes: changes, Diffs: diffs, Replaces: replaces,
		DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// state copies the inputs into a new property map and adds the command's outputs.
func state(inputs resource.PropertyMap, stdout, stderr string, secret bool) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range inputKeys {
		if v, ok := inputs[k]; ok && !v.IsNull() {
			out[k] = v
		}
	}
	so, se := resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	if secret {
		so, se = resource.MakeSecret(so), resource.MakeSecret(se)
	}
	out["stdout"], out["stderr"] = so, se
	return out
}

func str(v resource.PropertyValue) (string, bool) {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue(), true
	}
	return "", false
}

// run executes a shell command the way the upstream provider does and returns its output.
func run(ctx context.Context, props resource.PropertyMap, key resource.PropertyKey,
	extraEnv []string,
) (stdout, stderr string, secret bool, err error) {
	command, _ := str(props[key])
	secret = props[key].IsSecret() || props["environment"].ContainsSecrets() || props["stdin"].IsSecret()

	interpreter := []string{"/bin/sh", "-c"}
	if iv := props["interpreter"]; iv.IsArray() && len(iv.ArrayValue()) > 0 {
		interpreter = nil
		for _, e := range iv.ArrayValue() {
			s, _ := str(e)
			interpreter = append(interpreter, s)
		}
	}
	args := append(append([]string{}, interpreter[1:]...), command)
	cmd := exec.CommandContext(ctx, interpreter[0], args...) // #nosec G204 -- running commands is the point
	if dir, ok := str(props["dir"]); ok {
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), extraEnv...)
	if env := props["environment"]; env.IsSecret() || env.IsObject() {
		if env.IsSecret() {
			env = env.SecretValue().Element
		}
		if env.IsObject() {
			keys := env.ObjectValue().StableKeys()
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for _, k := range keys {
				s, _ := str(env.ObjectValue()[k])
				cmd.Env = append(cmd.Env, string(k)+"="+s)
			}
		}
	}
	if stdin, ok := str(props["stdin"]); ok {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	runErr := cmd.Run()
	stdout = strings.TrimSuffix(outBuf.String(), "\n")
	stderr = strings.TrimSuffix(errBuf.String(), "\n")
	if runErr != nil {
		return stdout, stderr, secret, fmt.Errorf("%w: running %q:\nStdout:\n%s\nStderr:\n%s", runErr, command, stdout, stderr)
	}
	return stdout, stderr, secret, nil
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	props, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	var stdout, stderr string
	var secret bool
	if _, ok := str(props["create"]); ok && !req.GetPreview() {
		if stdout, stderr, secret, err = run(ctx, props, "create", nil); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	out, err := marshal(state(props, stdout, stderr, secret))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: req.GetName() + hex.EncodeToString(b), Properties: out}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	stdout, _ := str(olds["stdout"])
	stderr, _ := str(olds["stderr"])
	secret := olds["stdout"].IsSecret()
	key := resource.PropertyKey("update")
	if _, ok := str(news[key]); !ok {
		key = "create"
	}
	if _, ok := str(news[key]); ok && !req.GetPreview() {
		if stdout, stderr, secret, err = run(ctx, news, key, nil); err != nil {
			return nil, err
		}
	}
	out, err := marshal(state(news, stdout, stderr, secret))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	props, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if _, ok := str(props["delete"]); ok {
		stdout, _ := str(props["stdout"])
		stderr, _ := str(props["stderr"])
		env := []string{"PULUMI_COMMAND_STDOUT=" + stdout, "PULUMI_COMMAND_STDERR=" + stderr}
		if _, _, _, err := run(ctx, props, "delete", env); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read returns the recorded state unchanged: a local command has nothing to read back.
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != localRunFunction {
		return nil, status.Errorf(codes.Unimplemented,
			"%s is not supported by the offline stand-in pulumi-resource-command (only %s)", req.GetTok(), localRunFunction)
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	ret := args.Copy()
	if !req.GetPreview() || !args.ContainsUnknowns() {
		stdout, stderr, secret, err := run(ctx, args, "command", nil)
		if err != nil {
			return nil, err
		}
		so, se := resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
		if secret {
			so, se = resource.MakeSecret(so), resource.MakeSecret(se)
		}
		ret["stdout"], ret["stderr"] = so, se
	}
	out, err := marshal(ret)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: out}, nil
}
