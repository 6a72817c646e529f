import { resourceFacts } from "../../kinds";
import { customerOf, shown, type Finding, type IntakeRule } from "../model";

/** Credential-bearing properties of the types no kind declares (each kind says its own: `secrets`). */
const SHARED_SECRETS: Record<string, string[]> = {
  "kubernetes:core/v1:Secret": ["stringData", "data"],
};

/** Every credential a resource carries is a secret (in state, in outputs, in the plan). */
export const credentialsSecret: IntakeRule = {
  name: "credentials-are-secret",
  description: "Access keys, service-account keys, robot passwords, pull secrets and token passwords are only ever secrets.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const facts = resourceFacts(r.type);
    const props = facts?.secrets ?? SHARED_SECRETS[r.type];
    if (!props) return [];
    const { id } = customerOf(r, ctx.repoPrefix);
    const out: Finding[] = [];
    for (const prop of props) {
      const present = r.props[prop] !== undefined && r.props[prop] !== null;
      const declaredSecret = r.additionalSecretOutputs.includes(prop) || (r.secretProps?.has(prop) ?? false);
      if (present && r.secretProps !== null && !declaredSecret) {
        out.push({ customer: id ?? null, message: `${shown(r)}: ${prop} is held in plain text; it must be a secret` });
      }
      // Outputs the engine will produce: the resource must declare them secret up front.
      if (!present && facts?.secretOutputs?.includes(prop) && !declaredSecret) {
        out.push({ customer: id ?? null, message: `${shown(r)}: output ${prop} is not declared secret (additionalSecretOutputs)` });
      }
    }
    return out;
  },
};

/** Stack outputs (stack exports): a credential-looking output that is not a secret. */
const CREDENTIAL_NAME = /(secret|password|passwd|token|privatekey|pat|credential|apikey|accesskey)s?$|^(secrets?|passwords?|tokens?|credentials?|keys?)$/i;

/** Under a credential-named key every plain string is a credential; elsewhere, strings whose own key names one. */
export function plainCredentialOutputs(outputs: Record<string, unknown>, path = "", underCredential = false): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(outputs ?? {})) {
    const p = path ? `${path}.${k}` : k;
    if (isSecretEnvelope(v)) continue;
    // Names of Kubernetes pull secrets (`pullSecrets`, `secretName`) are not credentials.
    const credential = (underCredential || CREDENTIAL_NAME.test(k)) && !/^pullSecrets$|Names?$/i.test(k);
    if (typeof v === "string" && credential && !/(^|\.)(id|username|user|registry|namespace|expiresAt)$/i.test(k)) out.push(p);
    else if (v && typeof v === "object") out.push(...plainCredentialOutputs(v as Record<string, unknown>, p, credential));
  }
  return out;
}

/** The marker `pulumi stack export` writes around a secret value. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretEnvelope(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}
