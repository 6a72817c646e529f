import { createRequire } from "node:module";
import { main } from "@pulumi/pulumi/provider";
import { LocalProvider, requestOldInputs } from "./local-provider";

/**
 * Entry of the local provider plugins: `main.ts <package> <engine address> [...]`, started by
 * tools/providers/bin/pulumi-resource-<package>. Serves LocalProvider with the SDK's provider server.
 */

type Call = {
  request: {
    getArgs(): { toJavaScript(): Record<string, unknown> } | undefined;
    getVariablesMap(): { entries(): Iterable<[string, string]> };
    getOldInputs?(): { toJavaScript(): Record<string, unknown> } | undefined;
  };
};
type Callback = (err: unknown, resp?: { setAcceptsecrets(v: boolean): void } | null, ...rest: unknown[]) => void;
type Handler = (call: Call, callback: Callback) => unknown;

/**
 * The SDK's server hands the Provider interface neither the provider's configuration (Configure)
 * nor the old inputs (Diff, Update), and it tells the engine it accepts secrets while giving the
 * provider the secret wrappers as they are. Its gRPC handlers are wrapped here, before they are
 * registered, so that:
 * - Configure hands the config (aws `region`, github `owner`) to the provider;
 * - Configure answers acceptSecrets=false: the engine then sends plain values and marks every
 *   output named like a secret input secret again (as for any provider that knows no secrets);
 * - Diff and Update see the old inputs the engine sent.
 */
function wrapServerHandlers(provider: LocalProvider): void {
  const grpc = createRequire(require.resolve("@pulumi/pulumi/provider"))("@grpc/grpc-js") as {
    Server: { prototype: { addService(service: unknown, impl: Record<string, Handler>): void } };
  };
  const addService = grpc.Server.prototype.addService;
  // The SDK's provider server (provider/server.ts) registers a Server whose gRPC handlers are its
  // own methods, through @grpc/grpc-js's Server.addService(service, implementation). An SDK that
  // changed that gives the stand-in no configuration and no old inputs: say so and stop, rather
  // than serve a provider that answers wrongly.
  const moved = (what: string) => {
    console.error(
      `pulumi-resource-${pkg}: @pulumi/pulumi ${(require("@pulumi/pulumi/package.json") as { version: string }).version}: ${what}; the local provider cannot serve on this SDK`,
    );
    process.exit(1);
  };
  if (typeof addService !== "function" || addService.length !== 2) moved("@grpc/grpc-js Server.addService(service, implementation) moved");
  grpc.Server.prototype.addService = function (service, impl) {
    for (const name of ["configure", "diff", "update"]) if (typeof impl?.[name] !== "function") moved(`the provider server has no ${name} handler`);
    const original = (name: string) => (impl[name] as Handler).bind(impl);
    const configure = original("configure");
    impl.configure = (call, callback) => {
      const variables = Object.fromEntries(call.request.getVariablesMap().entries());
      provider.configure(call.request.getArgs()?.toJavaScript() ?? {}, variables);
      return configure(call, (err, resp, ...rest) => {
        resp?.setAcceptsecrets(false);
        callback(err, resp, ...rest);
      });
    };
    for (const name of ["diff", "update"]) {
      const handler = original(name);
      impl[name] = (call, callback) => requestOldInputs.run(call.request.getOldInputs?.()?.toJavaScript(), () => handler(call, callback));
    }
    grpc.Server.prototype.addService = addService;
    return addService.call(this, service, impl);
  };
}

const [pkg, ...args] = process.argv.slice(2);
if (!pkg) {
  console.error("usage: main.ts <package> <engine address>");
  process.exit(2);
}
const provider = new LocalProvider(pkg);
wrapServerHandlers(provider);
main(provider, args).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
