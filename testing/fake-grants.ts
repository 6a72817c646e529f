// ACR, Artifact Registry and GHCR as far as isolation goes, for `intake verify` without a cloud:
// one loopback registry per kind that judges every request by the grants the program declared (the
// offline plan's resources), as each cloud does:
// - ACR: the token a password was generated for must be enabled, and its scope map must hold
//   `repositories/<glob>/content/read` matching the repository (a trailing `*` spans folders);
// - Artifact Registry: the access token's service account needs a reader or writer role on the
//   repository (the first path segment after the project) through a RepositoryIamMember;
// - GHCR: the PAT's machine user must be in a team holding the repository (the first segment after
//   the owner) through a TeamRepository.
// Allowed: 404 (nothing pushed), refused: 403, no credential: 401. The credentials come from each
// kind's own minting with its SDK's client replaced (the test's vi.mock), so the names, token ids and
// service accounts asked for are the ones `intake verify` really asks for.
import { createServer, type Server } from "node:http";
import type { IntakeResource } from "../policy/model";

type Judge = (user: string, password: string, repository: string) => boolean | "unknown";

interface FakeGrantRegistry {
  /** Loopback address the fake answers on. */
  address: string;
  /** Requests judged: `<repository> <status>`. */
  judged: string[];
}

export interface FakeGrants {
  acr: FakeGrantRegistry & { issue(tokenName: string): string };
  gar: FakeGrantRegistry & { issue(email: string): string };
  ghcr: FakeGrantRegistry & { pats: Map<string, string> };
  /** A fetch that sends requests for `*.azurecr.io`, `*-docker.pkg.dev` and `ghcr.io` to the fakes. */
  fetch: typeof fetch;
  close(): Promise<void>;
}

const of = (resources: IntakeResource[], type: string) => resources.filter((r) => r.type === type).map((r) => r.props as Record<string, unknown>);
/** A scope-map glob as ACR reads it: `*` only as the last character, spanning any rest. */
const acrMatch = (glob: string, repository: string) => (glob.endsWith("*") ? repository.startsWith(glob.slice(0, -1)) : glob === repository);
const last = (s: unknown) => String(s).split("/").pop()!;

async function serve(name: string, judge: Judge): Promise<FakeGrantRegistry & { server: Server }> {
  const judged: string[] = [];
  const server = createServer((req, res) => {
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (req.url === "/v2/" || !auth) return void res.writeHead(401, { "www-authenticate": `Basic realm="${name}"` }).end();
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const [user, password] = [decoded.slice(0, decoded.indexOf(":")), decoded.slice(decoded.indexOf(":") + 1)];
    const m = /^\/v2\/(.+)\/(tags\/list|manifests\/[^/]+|blobs\/.+)$/.exec(req.url ?? "");
    if (!m) return void res.writeHead(404).end();
    const verdict = judge(user, password, m[1]);
    const status = verdict === "unknown" ? 401 : verdict ? 404 : 403;
    judged.push(`${m[1]} ${status}`);
    res
      .writeHead(status, { "content-type": "application/json" })
      .end(JSON.stringify({ errors: [{ code: status === 404 ? "NAME_UNKNOWN" : status === 403 ? "DENIED" : "UNAUTHORIZED" }] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, judged, server };
}

/** Start the three fakes over the plan's resources (`fromRecorded(plan.recorded)`). */
export async function startFakeGrants(resources: IntakeResource[]): Promise<FakeGrants> {
  // ACR: generated password → token name → the token's scope map (by its id) → actions.
  const acrPasswords = new Map<string, string>();
  const tokens = of(resources, "azure-native:containerregistry:Token");
  const scopeMaps = of(resources, "azure-native:containerregistry:ScopeMap");
  const acr = await serve("acr", (user, password, repository) => {
    if (acrPasswords.get(password) !== user) return "unknown";
    const token = tokens.find((t) => t.tokenName === user);
    if (!token || token.status !== "enabled") return "unknown";
    const actions = (scopeMaps.find((s) => s.id === token.scopeMapId)?.actions ?? []) as string[];
    return actions.some((a) => {
      const m = /^repositories\/(.+)\/content\/read$/.exec(a);
      return m !== null && acrMatch(m[1], repository);
    });
  });
  // Artifact Registry: access token → service account → the repositories it holds a reading role on.
  const garTokens = new Map<string, string>();
  const members = of(resources, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember");
  const gar = await serve("gar", (user, password, path) => {
    const email = garTokens.get(password);
    if (user !== "oauth2accesstoken" || !email) return "unknown";
    const repositoryId = path.split("/")[1];
    return members.some(
      (b) =>
        b.member === `serviceAccount:${email}` &&
        /^roles\/artifactregistry\.(reader|writer|repoAdmin|admin)$/.test(String(b.role)) &&
        last(b.repository) === repositoryId,
    );
  });
  // GHCR: PAT → machine user → its teams → the repositories they hold.
  const pats = new Map<string, string>();
  const memberships = of(resources, "github:index/teamMembership:TeamMembership");
  const holdings = of(resources, "github:index/teamRepository:TeamRepository");
  const ghcr = await serve("ghcr", (user, password, path) => {
    if (pats.get(user) !== password) return "unknown";
    const teams = new Set(memberships.filter((m) => String(m.username).toLowerCase() === user.toLowerCase()).map((m) => String(m.teamId)));
    const repository = path.split("/")[1];
    return holdings.some((h) => teams.has(String(h.teamId)) && h.repository === repository);
  });
  let n = 0;
  const route = (host: string) =>
    host.endsWith(".azurecr.io") ? acr.address : host.endsWith("-docker.pkg.dev") ? gar.address : host === "ghcr.io" ? ghcr.address : undefined;
  const fakeFetch: typeof fetch = (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const to = route(url.host);
    if (!to) throw new TypeError(`fake grants: no fake for ${url.host}`);
    return fetch(`http://${to}${url.pathname}${url.search}`, init);
  };
  return {
    acr: {
      address: acr.address,
      judged: acr.judged,
      issue: (tokenName) => {
        const p = `acr-password-${++n}`;
        acrPasswords.set(p, tokenName);
        return p;
      },
    },
    gar: {
      address: gar.address,
      judged: gar.judged,
      issue: (email) => {
        const t = `ya29.fake-${++n}`;
        garTokens.set(t, email);
        return t;
      },
    },
    ghcr: { address: ghcr.address, judged: ghcr.judged, pats },
    fetch: fakeFetch,
    async close() {
      await Promise.all([acr, gar, ghcr].map((f) => new Promise((r) => f.server.close(r))));
    },
  };
}
