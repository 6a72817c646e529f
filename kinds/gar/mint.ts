import { namesFor } from "../../core/naming";
import { TOKEN_SECONDS, type MintedCredential, type Minter } from "../../runtime/mint/types";

/** The part of a google-auth-library AuthClient the minting uses (GoogleAuth#getClient() gives one). */
export interface GoogleRequester {
  request<T>(opts: { url: string; method: "POST"; data: unknown }): Promise<{ data: T }>;
}

export interface GarMintOptions {
  customerId: string;
  repoPrefix: string;
  project: string;
  location: string;
  client: GoogleRequester;
}

export const GAR_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * IAM Credentials generateAccessToken, impersonating the customer's service account (the runtime's
 * identity holds Token Creator on that account only). 1 h: 12 h needs an org-policy exception.
 */
export async function mintGar(o: GarMintOptions): Promise<MintedCredential> {
  const n = namesFor(o.customerId, { repoPrefix: o.repoPrefix });
  const email = `${n.gcpServiceAccountId}@${o.project}.iam.gserviceaccount.com`;
  const { data } = await o.client.request<{ accessToken: string; expireTime: string }>({
    url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`,
    method: "POST",
    data: { scope: [GAR_SCOPE], lifetime: `${TOKEN_SECONDS}s` },
  });
  if (!data?.accessToken) throw new Error(`generateAccessToken for ${email} returned no token`);
  const registry = `${o.location}-docker.pkg.dev`;
  return {
    kind: "gar",
    registry,
    namespace: `${registry}/${o.project}/${n.garRepositoryId}/`,
    username: "oauth2accesstoken",
    password: data.accessToken,
    expiresAt: new Date(data.expireTime),
    scope: { serviceAccount: email, repository: `projects/${o.project}/locations/${o.location}/repositories/${n.garRepositoryId}` },
  };
}

let quiet = false;
/**
 * Keep google-auth-library's MetadataLookupWarning off stderr from now on: off Google Cloud its
 * credential discovery finds no metadata server and warns (at times after the discovery has
 * failed); the missing-credential line that follows says what to set, in one line. Every other
 * warning goes through.
 */
function withoutMetadataWarning(): void {
  if (quiet) return;
  quiet = true;
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof warning === "string" ? (typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type) : warning.name;
    if (type === "MetadataLookupWarning") return;
    return (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
}

/** A 1 h access token of the customer's service account, by impersonation. */
export const mint: Minter = async (c, ctx) => {
  const s = ctx.settings;
  const { GoogleAuth } = await import("google-auth-library");
  withoutMetadataWarning();
  const client = await new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }).getClient();
  return mintGar({ customerId: c.id, repoPrefix: s.repoPrefix, project: s.gar!.project, location: s.gar!.location, client: client as never });
};
