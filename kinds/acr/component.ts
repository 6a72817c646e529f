import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as pulumi from "@pulumi/pulumi";
import type { EffectiveStatus } from "../../customers/status";
import { need, type KindBuilder } from "../../components/kind";
import { labelDescription } from "../../core/labels";

interface AcrNamespaceArgs {
  resourceGroupName: pulumi.Input<string>;
  registryName: pulumi.Input<string>;
  /** Repository path prefix inside the shared registry, ending in `/` (e.g. `intake/acme/`). */
  repositoryPrefix: string;
  scopeMapName: string;
  tokenName: string;
  /** Grant content/delete and metadata/write too. */
  allowDelete: boolean;
  /** With a product catalogue: the products the customer is entitled to, each `repositories/<prefix><product>/*` (none: no scope map or token at all). */
  products?: string[];
  status: EffectiveStatus;
  /** Scope maps and tokens take no tags: the labels go into the description. */
  description: string;
}

/** The repository-scoped actions of a scope map: on the customer's whole prefix, or on each of its products' folders. */
function acrScopeActions(repositoryPrefix: string, allowDelete: boolean, products?: string[]): string[] {
  const globs = products ? products.map((p) => `repositories/${repositoryPrefix}${p}/*`) : [`repositories/${repositoryPrefix}*`];
  const verbs = ["content/read", "content/write", "metadata/read", ...(allowDelete ? ["content/delete", "metadata/write"] : [])];
  return globs.flatMap((glob) => verbs.map((v) => `${glob}/${v}`));
}

/**
 * One customer's namespace in the shared ACR registry: a scope map on `repositories/<prefix>/*`
 * and a token bound to it, enabled only while the license is. Passwords are never declared:
 * the runtime mints them with an expiry (generateCredentials), so none sit in state.
 * Offboarded: token and scope map are deleted; the images stay in the registry.
 */
class AcrNamespace extends pulumi.ComponentResource {
  public readonly tokenId: pulumi.Output<string | undefined>;
  public readonly scopeMapId: pulumi.Output<string | undefined>;
  public readonly actions: string[];

  constructor(name: string, args: AcrNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:azure:AcrNamespace", name, {}, opts);
    if (!args.repositoryPrefix.endsWith("/")) throw new Error(`AcrNamespace ${name}: repositoryPrefix "${args.repositoryPrefix}" must end with "/"`);
    this.actions = acrScopeActions(args.repositoryPrefix, args.allowDelete, args.products);

    // Offboarded, or entitled to no product (a scope map must name an action): no token to mint with.
    if (args.status === "offboarded" || this.actions.length === 0) {
      this.tokenId = pulumi.output(undefined);
      this.scopeMapId = pulumi.output(undefined);
    } else {
      const scopeMap = new containerregistry.ScopeMap(
        `${name}-scope`,
        {
          resourceGroupName: args.resourceGroupName,
          registryName: args.registryName,
          scopeMapName: args.scopeMapName,
          description: args.description,
          actions: this.actions,
        },
        { parent: this },
      );
      const token = new containerregistry.Token(
        `${name}-token`,
        {
          resourceGroupName: args.resourceGroupName,
          registryName: args.registryName,
          tokenName: args.tokenName,
          scopeMapId: scopeMap.id,
          status: args.status === "active" ? "enabled" : "disabled",
        },
        { parent: this },
      );
      this.tokenId = token.id;
      this.scopeMapId = scopeMap.id;
    }
    this.registerOutputs({ tokenId: this.tokenId, scopeMapId: this.scopeMapId, actions: this.actions });
  }
}

/** A customer's ACR part: scope map and token (no password is declared: the runtime mints one with a 1 h expiry). */
export const build: KindBuilder = (ctx) => {
  const a = need(ctx.settings.acr, "settings.acr", ctx.customer.id);
  new AcrNamespace(
    `${ctx.name}-acr`,
    {
      resourceGroupName: a.resourceGroupName,
      registryName: ctx.platform.acrRegistryName ?? a.registryName,
      repositoryPrefix: ctx.names.acrRepositoryPrefix,
      scopeMapName: ctx.names.acrScopeMapName,
      tokenName: ctx.names.acrTokenName,
      allowDelete: ctx.customer.acr?.allowDelete ?? false,
      products: ctx.products,
      status: ctx.state.status,
      description: labelDescription(`registry-intake: ${ctx.customer.name}`, ctx.tags),
    },
    { parent: ctx.parent },
  );
  // No password is declared: the runtime mints one with a 1 h expiry.
  return {};
};
