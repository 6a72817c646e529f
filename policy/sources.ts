import type { IntakeResource } from "./model";
import { isSecretEnvelope, plainCredentialOutputs } from "./rules/secrets";
import { InvalidInput } from "../core/errors";

/** One resource of a `pulumi stack export` (deployment v3). */
interface ExportedResource {
  urn: string;
  custom?: boolean;
  id?: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  parent?: string;
  protect?: boolean;
  retainOnDelete?: boolean;
  additionalSecretOutputs?: string[];
  delete?: boolean;
}

export interface StackExport {
  version: number;
  deployment: { manifest?: unknown; resources?: ExportedResource[] };
}

/** Unwrap secret envelopes (`{ <sig>: <secret sig>, plaintext | ciphertext }`), noting which top-level props held one. */
function unwrap(v: unknown): unknown {
  if (isSecretEnvelope(v)) {
    const e = v as { plaintext?: string; ciphertext?: string };
    if (typeof e.plaintext === "string") {
      try {
        return JSON.parse(e.plaintext);
      } catch {
        return e.plaintext;
      }
    }
    return "[secret]";
  }
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

function holdsSecret(v: unknown): boolean {
  if (isSecretEnvelope(v)) return true;
  if (Array.isArray(v)) return v.some(holdsSecret);
  if (v && typeof v === "object") return Object.values(v).some(holdsSecret);
  return false;
}

export class StackExportError extends InvalidInput {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** Validate the shape of a stack export; throws naming the file and what is wrong. */
export function parseStackExport(text: string, file: string): StackExport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new StackExportError(file, `not JSON: ${(e as Error).message}`);
  }
  const d = doc as Partial<StackExport>;
  if (typeof d?.version !== "number" || typeof d.deployment !== "object" || d.deployment === null) {
    throw new StackExportError(file, "not a `pulumi stack export` file (needs version and deployment)");
  }
  if (d.version !== 3) throw new StackExportError(file, `deployment version ${d.version} is not supported (expected 3)`);
  const rs = d.deployment.resources ?? [];
  if (!Array.isArray(rs)) throw new StackExportError(file, "deployment.resources must be a list");
  rs.forEach((r, i) => {
    if (typeof r?.urn !== "string" || typeof r?.type !== "string") throw new StackExportError(file, `deployment.resources[${i}] has no urn or type`);
  });
  return d as StackExport;
}

/** Resources of a stack export, as the policies see them, and the stack's plain credential outputs. */
export function fromStackExport(exp: StackExport): { resources: IntakeResource[]; stackName?: string; plainOutputs: { urn: string; path: string }[] } {
  const rs = (exp.deployment.resources ?? []).filter((r) => !r.delete);
  const resources = rs
    .filter((r) => r.custom !== false && !r.type.startsWith("pulumi:providers:") && r.type !== "pulumi:pulumi:Stack")
    .map((r): IntakeResource => {
      const inputs = r.inputs ?? {};
      const outputs = r.outputs ?? {};
      const secretProps = new Set([
        ...Object.keys(inputs).filter((k) => holdsSecret(inputs[k])),
        ...Object.keys(outputs).filter((k) => holdsSecret(outputs[k])),
      ]);
      return {
        urn: r.urn,
        type: r.type,
        name: r.urn.split("::").pop() ?? r.urn,
        parent: r.parent,
        props: { ...(unwrap(outputs) as object), ...(unwrap(inputs) as object), id: r.id },
        secretProps,
        retainOnDelete: r.retainOnDelete ?? false,
        protect: r.protect ?? false,
        additionalSecretOutputs: r.additionalSecretOutputs ?? [],
      };
    });
  const stack = rs.find((r) => r.type === "pulumi:pulumi:Stack");
  const plainOutputs = stack ? plainCredentialOutputs(stack.outputs ?? {}).map((path) => ({ urn: stack.urn, path })) : [];
  const stackName = /^urn:pulumi:([^:]+)::/.exec(rs[0]?.urn ?? "")?.[1];
  return { resources, stackName, plainOutputs };
}

/** The analyzer's view of a resource (props and options only: retainOnDelete and secretness are not visible there). */
export function fromAnalyzer(args: {
  urn: string;
  type: string;
  name: string;
  props: Record<string, unknown>;
  opts: { protect: boolean; additionalSecretOutputs: string[]; parent?: string };
}): IntakeResource {
  return {
    urn: args.urn,
    type: args.type,
    name: args.name,
    parent: args.opts.parent,
    props: args.props,
    secretProps: null,
    retainOnDelete: undefined,
    protect: args.opts.protect,
    additionalSecretOutputs: args.opts.additionalSecretOutputs ?? [],
  };
}
