// Command pulumi-language-nodejs is a small Node.js language host for the
// Pulumi engine built by scripts/engine.sh.
//
// Pulumi's own host lives in a Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) that the
// module proxy used here does not serve, and the last host shipped inside
// sdk/v3 (v3.68.0) cannot run policy packs (its RunPlugin says "not
// supported"). This host speaks the current language-host protocol and starts
// the same Node.js entry points that Pulumi's host starts, from the program's
// own node_modules:
//
//   - Run: @pulumi/pulumi/cmd/run (TypeScript through the ts-node that
//     @pulumi/pulumi ships, as with the official host)
//   - RunPlugin: @pulumi/pulumi/cmd/run-policy-pack for policy packs
//     (analyzers), @pulumi/pulumi/cmd/run-plugin for other plugins
//
// It reports no required packages, so the engine never tries to download a
// plugin ahead of time; providers are found on $PATH or in the plugin cache
// when a program first uses them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitAfterUserActionableMessage is the exit code @pulumi/pulumi uses after it
// has already shown the user an actionable error.
const exitAfterUserActionableMessage = 32

func main() {
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	tracing := flags.String("tracing", "", "Zipkin-compatible tracing endpoint")
	logToStderr := flags.Bool("logtostderr", false, "log to stderr")
	verbose := flags.Int("v", 0, "log verbosity")
	logFlow := flags.Bool("logflow", false, "flow log settings to child processes")
	// Options older engines passed on the command line; current engines send them in ProgramInfo.
	typescript := flags.Bool("typescript", true, "run TypeScript through ts-node")
	tsconfig := flags.String("tsconfig", "", "path to tsconfig.json")
	nodeargs := flags.String("nodeargs", "", "arguments for the node process")
	_ = flags.String("root", "", "project root (ignored)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		cmdutil.ExitError(err.Error())
	}
	logging.InitLogging(*logToStderr, *verbose, *logFlow)
	cmdutil.InitTracing("pulumi-language-nodejs", "pulumi-language-nodejs", *tracing)

	h := &host{
		tracing: *tracing,
		defaults: runtimeOptions{
			typescript: *typescript, tsconfig: *tsconfig, nodeargs: *nodeargs,
		},
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if args := flags.Args(); len(args) > 0 {
		h.engineAddress = args[len(args)-1]
		if err := rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.ExitError(fmt.Sprintf("could not start health check host RPC server: %v", err))
		}
	}

	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.ExitError(fmt.Sprintf("could not start language host RPC server: %v", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.ExitError(fmt.Sprintf("language host RPC stopped serving: %v", err))
	}
}

type runtimeOptions struct {
	typescript bool
	tsconfig   string
	nodeargs   string
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	defaults      runtimeOptions
}

// options reads the runtime options of Pulumi.yaml (or PulumiPolicy.yaml) from the program info.
func (h *host) options(info *pulumirpc.ProgramInfo) runtimeOptions {
	opts := h.defaults
	if info == nil || info.GetOptions() == nil {
		return opts
	}
	m := info.GetOptions().AsMap()
	switch v := m["typescript"].(type) {
	case bool:
		opts.typescript = v
	case string:
		opts.typescript = v != "false"
	}
	if v, ok := m["tsconfig"].(string); ok {
		opts.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		opts.nodeargs = v
	}
	return opts
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// GetRequiredPlugins reports nothing: the engine then loads each provider when the program first uses it.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages reports nothing, for the same reason as GetRequiredPlugins.
func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("could not find node on the $PATH")
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

// GetProgramDependencies lists the dependencies in the program's package.json with their installed versions.
func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDirectory(req.GetInfo(), req.GetPwd())
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		_ = json.Unmarshal(b, &pkg)
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for name, want := range pkg.Dependencies {
		v := want
		var installed struct {
			Version string `json:"version"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json")); err == nil &&
			json.Unmarshal(b, &installed) == nil && installed.Version != "" {
			v = installed.Version
		}
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: name, Version: v})
	}
	return resp, nil
}

// InstallDependencies runs `npm install` unless node_modules is already there.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	dir := programDirectory(req.GetInfo(), req.GetDirectory())
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return errors.New("could not find npm on the $PATH")
	}
	cmd := exec.CommandContext(server.Context(), npm, "install")
	cmd.Dir = dir
	send := &streamWriter{send: func(b []byte, stderr bool) error {
		if stderr {
			return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
		}
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	cmd.Stdout, cmd.Stderr = send.out(), send.err()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w", dir, err)
	}
	return nil
}

func programDirectory(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	if fallback != "" {
		return fallback
	}
	wd, _ := os.Getwd()
	return wd
}

// locateModule resolves a Node.js module the way `require` does from dir.
func locateModule(ctx context.Context, node, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, node, "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("could not find %s from %s (has `npm install` been run?): %w: %s",
			module, dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// configJSON renders the stack configuration the way @pulumi/pulumi reads it from PULUMI_CONFIG.
func configJSON(req *pulumirpc.RunRequest) (string, string, error) {
	cfg := make(map[string]string, len(req.GetConfig()))
	for k, v := range req.GetConfig() {
		pk, err := config.ParseKey(k)
		if err != nil {
			return "", "", err
		}
		cfg[pk.Namespace()+":config:"+pk.Name()] = v
	}
	c, err := json.Marshal(cfg)
	if err != nil {
		return "", "", err
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	s, err := json.Marshal(keys)
	if err != nil {
		return "", "", err
	}
	return string(c), string(s), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH"}, nil
	}
	info := req.GetInfo()
	dir := programDirectory(info, req.GetPwd())
	runPath, err := locateModule(ctx, node, dir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "It looks like the Pulumi SDK has not been installed. " +
			"Have you run npm install or yarn install? " + err.Error()}, nil
	}
	opts := h.options(info)
	args, err := shlex.Split(opts.nodeargs)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("parsing nodeargs: %v", err)}, nil
	}
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine())
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", dir)
	if info != nil {
		add("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	entry := req.GetProgram()
	if info != nil && info.GetEntryPoint() != "" {
		entry = info.GetEntryPoint()
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	cfg, secretKeys, err := configJSON(req)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration: %v", err)}, nil
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+cfg, "PULUMI_CONFIG_SECRET_KEYS="+secretKeys)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	logging.V(5).Infof("Language host launching process: %s %s", node, strings.Join(args, " "))
	cmd := exec.Command(node, args...) // #nosec G204 -- starting node is the point
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			switch code := exitErr.ExitCode(); code {
			case exitAfterUserActionableMessage:
				return &pulumirpc.RunResponse{Bail: true}, nil
			default:
				return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
			}
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin starts a plugin written in Node.js: a policy pack (kind "analyzer") or a provider.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	node, err := exec.LookPath("node")
	if err != nil {
		return errors.New("could not find node on the $PATH")
	}
	dir := programDirectory(req.GetInfo(), req.GetProgram())
	module := "@pulumi/pulumi/cmd/run-plugin"
	if req.GetKind() == "analyzer" {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	runPath, err := locateModule(ctx, node, dir, module)
	if err != nil {
		return err
	}
	opts := h.options(req.GetInfo())
	args, err := shlex.Split(opts.nodeargs)
	if err != nil {
		return fmt.Errorf("parsing nodeargs: %w", err)
	}
	args = append(args, runPath)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)

	env := append(os.Environ(), req.GetEnv()...)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	logging.V(5).Infof("Language host launching plugin: %s %s", node, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, node, args...) // #nosec G204 -- starting node is the point
	cmd.Dir = dir
	cmd.Env = env
	w := &streamWriter{send: func(b []byte, stderr bool) error {
		if stderr {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
		}
		return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}}
	cmd.Stdout, cmd.Stderr = w.out(), w.err()
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("running plugin %s: %w", dir, err)
		}
		code = int32(exitErr.ExitCode()) // #nosec G115 -- exit codes fit
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// streamWriter forwards a child process's stdout and stderr to a gRPC stream, one write at a time.
type streamWriter struct {
	mu   sync.Mutex
	send func(b []byte, stderr bool) error
}

type streamHalf struct {
	w      *streamWriter
	stderr bool
}

func (s *streamWriter) out() io.Writer { return streamHalf{s, false} }
func (s *streamWriter) err() io.Writer { return streamHalf{s, true} }

func (h streamHalf) Write(p []byte) (int, error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	b := append([]byte(nil), p...)
	if err := h.w.send(b, h.stderr); err != nil {
		return 0, err
	}
	return len(p), nil
}
