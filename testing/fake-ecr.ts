// ECR's registry as far as isolation goes, for `intake verify` without AWS: STS sessions and
// GetAuthorizationToken answered in-process (aws-sdk-client-mock), and a registry endpoint on
// loopback that judges every request by the session policy the token was minted with, as IAM
// does: an Allow statement whose actions hold the request's and whose resource globs match the
// repository's ARN, else 403.
import { GetAuthorizationTokenCommand, ECRClient } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { createServer, type Server } from "node:http";

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
/** IAM's glob: `*` any run of characters (slashes too), `?` one. */
const globMatch = (glob: string, s: string) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  ).test(s);

/** Whether a policy document allows `action` on `arn`. */
export function policyAllows(policy: string, action: string, arn: string): boolean {
  const statements = (JSON.parse(policy) as { Statement: Statement[] }).Statement;
  return statements.some((s) => s.Effect === "Allow" && list(s.Action).some((a) => globMatch(a, action)) && list(s.Resource).some((r) => globMatch(r, arn)));
}

export interface FakeEcr {
  registry: string;
  /** Requests judged: `<action> <repository> <status>`. */
  judged: string[];
  close(): Promise<void>;
}

export async function startFakeEcr(o: { region: string; accountId: string }): Promise<FakeEcr> {
  const sessions = new Map<string, string>();
  let last = "";
  const sts = mockClient(STSClient);
  sts.on(AssumeRoleCommand).callsFake((input: { Policy?: string }) => {
    last = `session-${sessions.size + 1}`;
    sessions.set(last, input.Policy ?? "");
    return { Credentials: { AccessKeyId: `ASIA${last}`, SecretAccessKey: "s", SessionToken: last, Expiration: new Date(Date.now() + 3_600_000) } };
  });
  const judged: string[] = [];
  const server: Server = createServer((req, res) => {
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const [user, session] = auth ? Buffer.from(auth, "base64").toString("utf8").split(":") : [];
    if (req.url === "/v2/" || !auth) {
      res.writeHead(401, { "www-authenticate": `Basic realm="${o.accountId}.dkr.ecr.${o.region}.amazonaws.com",service="ecr.amazonaws.com"` }).end();
      return;
    }
    const m = /^\/v2\/(.+)\/(tags\/list|manifests\/[^/]+|blobs\/.+)$/.exec(req.url ?? "");
    const policy = user === "AWS" ? sessions.get(session) : undefined;
    if (!m || policy === undefined) return void res.writeHead(m ? 401 : 404).end();
    const action = m[2] === "tags/list" ? "ecr:ListImages" : req.method === "GET" || req.method === "HEAD" ? "ecr:BatchGetImage" : "ecr:PutImage";
    const status = policyAllows(policy, action, `arn:aws:ecr:${o.region}:${o.accountId}:repository/${m[1]}`) ? 404 : 403;
    judged.push(`${action} ${m[1]} ${status}`);
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: status === 403 ? "DENIED" : "NAME_UNKNOWN" }] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const registry = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const ecr = mockClient(ECRClient);
  ecr.on(GetAuthorizationTokenCommand).callsFake(() => ({
    authorizationData: [
      { authorizationToken: Buffer.from(`AWS:${last}`).toString("base64"), expiresAt: new Date(Date.now() + 43_200_000), proxyEndpoint: `http://${registry}` },
    ],
  }));
  return {
    registry,
    judged,
    async close() {
      sts.restore();
      ecr.restore();
      await new Promise((r) => server.close(r));
    },
  };
}
