// Kubernetes for real: the program under the real Pulumi engine with the real Pulumi Kubernetes
// provider (built by scripts/kube.sh) against a real kube-apiserver (etcd, controller manager and
// a fake kubelet: testing/kube.ts). Every object the stacks declare is checked by the server,
// ESO's objects by ESO's own CRDs. The clouds' providers stay the local stand-ins.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { EngineProject, engineUnavailable, ok, ROOT } from "../../testing/engine";
import { K8S_OBJECT_LIMIT, OBJECT_DATA_LIMIT } from "../../kinds/distribution/service";
import { kubeBinDir, kubeUnavailable, LocalCluster } from "../../testing/kube";
import { makeKeyPair } from "../../testing/e2e";
import { decodeJwt } from "jose";

const unavailable = engineUnavailable() ?? kubeUnavailable();
if (unavailable) console.log(`skipping the real Kubernetes tests: ${unavailable}`);

type Entry = Record<string, unknown> & { id: string };
type Obj = Record<string, any>;

/** The namespaces a cluster admin makes before the stacks run: the customers' and the platform's. */
const NAMESPACES = ["acme-apps", "wayne-apps", "intake-system", "registry-intake"];

async function prepare(cluster: LocalCluster): Promise<void> {
  await cluster.installEsoCrds();
  await cluster.createNamespaces(NAMESPACES);
}

/** A cluster with ESO's CRDs and the namespaces, and a scratch project whose Kubernetes is that cluster's. */
function onCluster(stack: string) {
  const ctx = {} as { cluster: LocalCluster; p: EngineProject };
  beforeAll(async () => {
    ctx.cluster = await LocalCluster.start();
    await prepare(ctx.cluster);
    ctx.p = new EngineProject({ cluster: { kubeconfig: ctx.cluster.kubeconfig, binDir: kubeBinDir() } });
    await ctx.p.initStack(stack);
  }, 300_000);
  afterAll(async () => {
    ctx.p?.remove();
    await ctx.cluster?.stop();
  }, 60_000);
  const up = async (args: string[] = []) =>
    ok(await ctx.p.pulumi(["up", "--yes", "--skip-preview", "--stack", stack, ...args], { timeoutMs: 600_000 }), `pulumi up ${stack}`);
  const unchanged = async () =>
    ok(await ctx.p.pulumi(["preview", "--expect-no-changes", "--stack", stack], { timeoutMs: 600_000 }), `pulumi preview --expect-no-changes ${stack}`);
  const roster = () => parse(readFileSync(ctx.p.file("customers/roster.yaml"), "utf8")) as { customers: Entry[] };
  const setRoster = (customers: Entry[]) => ctx.p.write("customers/roster.yaml", stringify({ customers }));
  const config = async (...args: string[]) => ok(await ctx.p.pulumi(["config", ...args, "--stack", stack]), `pulumi config ${args.join(" ")}`);
  return { ctx, up, unchanged, roster, setRoster, config };
}

/** UIDs of the objects at these API paths (a missing one: "missing"). */
async function uids(cluster: LocalCluster, paths: string[]): Promise<string[]> {
  return Promise.all(paths.map(async (x) => (await cluster.get(x))?.metadata?.uid ?? "missing"));
}

/** `look` every 100 ms while `during` runs (and once more after): what it saw, in order. */
async function sampledThrough<T>(look: () => Promise<T>, during: () => Promise<unknown>): Promise<T[]> {
  const seen: T[] = [];
  let running = true;
  const sampler = (async () => {
    while (running) {
      seen.push(await look());
      await new Promise((r) => setTimeout(r, 100));
    }
    seen.push(await look());
  })();
  try {
    await during();
  } finally {
    running = false;
    await sampler;
  }
  return seen;
}

/**
 * The broker as its Deployment runs it: the container's own arguments, its Secret and ConfigMap
 * volumes written from the cluster as the kubelet writes them (and rewritten on change), on
 * loopback. The signing Secret the stack expects is made first, as an operator would.
 */
async function runBroker(
  cluster: LocalCluster,
  p: EngineProject,
  namespace: string,
  deployment: Obj,
): Promise<{ port: number; service: string; log(): string; stop(): Promise<void> }> {
  const container = (deployment.spec.template.spec.containers as Obj[]).find((c) => c.name === "broker")!;
  const signing = (deployment.spec.template.spec.volumes as Obj[]).find((v) => v.name === "signing")!.secret.secretName as string;
  const keys = p.file("signing");
  mkdirSync(keys);
  const pair = makeKeyPair(keys);
  const made = await cluster.api("POST", `/api/v1/namespaces/${namespace}/secrets`, {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: { name: signing, namespace },
    data: { "tls.crt": readFileSync(pair.cert).toString("base64"), "tls.key": readFileSync(pair.key).toString("base64") },
  });
  rmSync(keys, { recursive: true, force: true });
  expect(made.status).toBe(201);
  const root = p.file("pod");
  const volumes = cluster.mountVolumes(namespace, deployment.spec.template, "broker", root);
  await volumes.synced();
  const args = (container.args as string[]).map((a) => (a.startsWith("/etc/") ? path.join(root, a) : /^0\.0\.0\.0:\d+$/.test(a) ? "127.0.0.1:0" : a));
  const child = spawn(process.execPath, [path.join(ROOT, "cli/bin/intake.js"), ...args, "--project", p.dir], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let log = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/token/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`the broker exited ${code}: ${log}`)));
  });
  return {
    port,
    service: args[args.indexOf("--service") + 1],
    log: () => log,
    async stop() {
      volumes.stop();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(-child.pid!, "SIGTERM");
        await exited;
      }
    },
  };
}

/**
 * A token request for `username` and a pull of `repository`, as the registry's client makes it:
 * `pull` when the token grants it, `empty` when the broker answers with a token that grants
 * nothing (how the token protocol refuses), else the HTTP status (`0`: no answer).
 */
async function tokenFor(port: number, service: string, username: string, password: string, repository: string): Promise<string> {
  const url = `http://127.0.0.1:${port}/token?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(`repository:${repository}:pull`)}`;
  const r = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } }).catch(() => undefined);
  if (!r) return "0";
  if (r.status !== 200) return String(r.status);
  const { token } = (await r.json()) as { token: string };
  const access = (decodeJwt(token).access ?? []) as { name: string; actions: string[] }[];
  return access.some((a) => a.name === repository && a.actions.includes("pull")) ? "pull" : "empty";
}

/** The page that documents saving the kept list across a whole destroy (its `sh` blocks are run as written). */
const KEPT_DOC = path.join("docs", "concepts", "kept-repositories.md");

/** The shell block of KEPT_DOC that holds `marker`. */
function docBlock(marker: string): string {
  const doc = readFileSync(path.join(ROOT, KEPT_DOC), "utf8");
  const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker));
  if (!block) throw new Error(`${KEPT_DOC} has no sh block with ${marker}`);
  return block;
}

/** The decoded `.dockerconfigjson` of a Secret. */
async function dockerConfig(cluster: LocalCluster, namespace: string, name: string): Promise<string | undefined> {
  const s = await cluster.get(`/api/v1/namespaces/${namespace}/secrets/${name}`);
  const v = s?.data?.[".dockerconfigjson"];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

describe.skipIf(!!unavailable)("prod on a real API server with the real Kubernetes provider: registry, broker, refreshed pull secrets", () => {
  const { ctx, up, unchanged, roster, setRoster } = onCluster("prod");
  const NS = "registry-intake";
  const brokerObjects = [`/api/v1/namespaces/${NS}/secrets/intake-broker-acl`, `/api/v1/namespaces/${NS}/configmaps/intake-broker-roster`];

  it("every object is accepted, the Deployments roll out, and a second preview changes nothing", async () => {
    const r = await up();
    expect(r.stdout).toMatch(/\+ \d+ created/);
    await unchanged();
    const deployments = (await ctx.cluster.get(`/apis/apps/v1/namespaces/${NS}/deployments`))!.items as Obj[];
    expect(deployments.map((d) => d.metadata.labels["app.kubernetes.io/component"]).sort()).toEqual(["broker", "registry"]);
    for (const d of deployments) expect(d.status.availableReplicas, d.metadata.name).toBe(d.spec.replicas);
    expect(await ctx.cluster.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/intake-registry-data`)).toBeDefined();
    expect(await uids(ctx.cluster, brokerObjects)).not.toContain("missing");
    // The refresher's Secret exists, empty, for the CronJob to fill.
    expect(JSON.parse((await dockerConfig(ctx.cluster, "acme-apps", "intake-acme-acr"))!)).toEqual({ auths: {} });
  }, 900_000);

  it("a suspension is applied in place: the broker answers throughout and refuses the suspended robot after; its objects and pods are never away; a Secret the refresher filled keeps its token", async () => {
    // The refresher's kubectl patch: another field manager writes the token.
    const token = JSON.stringify({ auths: { "intakeprodregistry.azurecr.io": { username: "intake-acme", password: "refreshed-token" } } });
    const patched = await ctx.cluster.api(
      "PATCH",
      "/api/v1/namespaces/acme-apps/secrets/intake-acme-acr?fieldManager=kubectl-patch",
      { data: { ".dockerconfigjson": Buffer.from(token).toString("base64") } },
      "application/merge-patch+json",
    );
    expect(patched.status).toBe(200);
    const deployment = async () =>
      ((await ctx.cluster.get(`/apis/apps/v1/namespaces/${NS}/deployments`))!.items as Obj[]).find(
        (d) => d.metadata.labels["app.kubernetes.io/component"] === "broker",
      )!;
    const pods = async () =>
      ((await ctx.cluster.get(`/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dbroker`))!.items as Obj[])
        .map((x) => x.metadata.uid)
        .sort();
    // A second active customer on the registry, whose robot must answer throughout.
    setRoster([
      ...roster().customers,
      {
        id: "wayne",
        name: "Wayne Enterprises",
        tier: "enterprise",
        license: { expires: "2099-12-31" },
        github: { members: ["bruce-wayne"] },
        kubernetes: { namespace: "wayne-apps" },
      },
    ]);
    await up();
    const before = { objects: await uids(ctx.cluster, brokerObjects), deployment: (await deployment()).metadata.uid, pods: await pods() };
    const aclBefore = (await ctx.cluster.get(brokerObjects[0]))!.data["acl.json"];
    // The broker running on what the cluster mounts: acme's robot and wayne's.
    const broker = await runBroker(ctx.cluster, ctx.p, NS, await deployment());
    try {
      const outputs = JSON.parse(ok(await ctx.p.pulumi(["stack", "output", "--json", "--show-secrets", "--stack", "prod"]), "pulumi stack output").stdout);
      const entries = JSON.parse(Buffer.from(aclBefore, "base64").toString("utf8")) as { entries: Obj[]; delivery: Obj };
      const robot = (id: string) => ({
        ...outputs.customers[id].credentials.distribution,
        repository: entries.entries.find((e) => e.customer === id)!.paths[0].replace("*", "app"),
      });
      const [acme, wayne] = [robot("acme"), robot("wayne")];
      const status = (r: { id: string; secret: string; repository: string }) => tokenFor(broker.port, broker.service, r.id, r.secret, r.repository);
      expect([await status(acme), await status(wayne)]).toEqual(["pull", "pull"]);
      setRoster(roster().customers.map((c) => (c.id === "acme" ? { ...c, status: "suspended" } : c)));
      // Watch the broker's objects and its answers through the up, every 100 ms.
      const seen = await sampledThrough(
        async () => ({ objects: [...(await uids(ctx.cluster, brokerObjects)), (await deployment())?.metadata.uid ?? "missing"], wayne: await status(wayne) }),
        () => up(),
      );
      expect(seen.length).toBeGreaterThan(5);
      expect(seen.flatMap((s) => s.objects)).not.toContain("missing");
      expect(new Set(seen.map((s) => s.objects.join()))).toEqual(new Set([[...before.objects, before.deployment].join()]));
      expect(new Set(seen.map((s) => s.wayne))).toEqual(new Set(["pull"]));
      expect(await pods()).toEqual(before.pods);
      // The kubelet's next sync and the broker's reload (within 2 s): acme's robot is refused, the other still answered.
      let answer = "pull";
      for (let i = 0; i < 50 && answer === "pull"; i++) {
        answer = await status(acme);
        if (answer === "pull") await new Promise((r) => setTimeout(r, 100));
      }
      expect(answer).toBe("empty");
      expect(await status(wayne)).toBe("pull");
    } finally {
      await broker.stop();
    }
    // The access list did change: acme's robot is disabled.
    const acl = JSON.parse(Buffer.from((await ctx.cluster.get(brokerObjects[0]))!.data["acl.json"], "base64").toString("utf8"));
    expect(aclBefore).not.toBe((await ctx.cluster.get(brokerObjects[0]))!.data["acl.json"]);
    expect(acl.entries.find((e: Obj) => e.customer === "acme").enabled).toBe(false);
    // The refreshed token is still there, the labels say suspended, and nothing is left to change.
    expect(await dockerConfig(ctx.cluster, "acme-apps", "intake-acme-acr")).toBe(token);
    expect((await ctx.cluster.get("/api/v1/namespaces/acme-apps/secrets/intake-acme-acr"))!.metadata.labels["intake-status"]).toBe("suspended");
    await unchanged();
  }, 900_000);

  it("the 1 MiB the program keeps the broker's roster and access list under is the server's own: the most it writes is accepted, a byte over 1 MiB is refused", async () => {
    // Only data counts (the program keeps 16 KiB for metadata); the server's answer is what it says.
    const map = (name: string, bytes: number) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: NS },
      data: { "roster.yaml": "x".repeat(bytes) },
    });
    const fits = await ctx.cluster.api("POST", `/api/v1/namespaces/${NS}/configmaps`, map("fits", OBJECT_DATA_LIMIT));
    expect(fits.status).toBe(201);
    const over = await ctx.cluster.api<{ message: string }>("POST", `/api/v1/namespaces/${NS}/configmaps`, map("over", K8S_OBJECT_LIMIT + 1));
    expect(over.status).toBe(422);
    expect(over.body.message).toMatch(/may not be more than 1048576 bytes/);
    const secret = await ctx.cluster.api("POST", `/api/v1/namespaces/${NS}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "over", namespace: NS },
      stringData: { "acl.json": "x".repeat(K8S_OBJECT_LIMIT + 1) },
    });
    expect(secret.status).toBe(422);
    await ctx.cluster.api("DELETE", `/api/v1/namespaces/${NS}/configmaps/fits`);
  }, 60_000);

  it("a whole destroy keeps the registry's claim (and its images); the next up, given the saved keptList, adopts it and the kept cloud registries", async () => {
    const claim = `/api/v1/namespaces/${NS}/persistentvolumeclaims/intake-registry-data`;
    const [uid] = await uids(ctx.cluster, [claim]);
    const volume = (await ctx.cluster.get(claim))!.spec.volumeName;
    // The kept list goes with the stack's outputs: saved before the destroy and handed to the next up
    // by the documented lines of docs/concepts/kept-repositories.md (all but its interactive destroy).
    const lines = docBlock("pulumi config set-all")
      .split("\n")
      .filter((l) => l.startsWith("pulumi "));
    expect(lines.map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
      "pulumi stack output",
      "pulumi destroy --stack",
      "pulumi config set-all",
      "pulumi up --stack",
    ]);
    ok(await ctx.p.shell(lines[0]), lines[0]);
    const saved = JSON.parse(readFileSync(ctx.p.file("kept.json"), "utf8")) as { declared: string[]; kept: string[] };
    expect(saved.declared).toContain(`pvc:${NS}/intake-registry-data`);
    expect(saved.declared.filter((k) => k.startsWith("acr:"))).toHaveLength(1);
    ok(await ctx.p.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "prod"], { timeoutMs: 600_000 }), "pulumi destroy");
    expect(await uids(ctx.cluster, [claim])).toEqual([uid]);
    expect((await ctx.cluster.get(`/apis/apps/v1/namespaces/${NS}/deployments`))!.items).toEqual([]);
    // Without the kept list the next up would fail on the first kept name (the stand-in clouds refuse it as the real ones do).
    const keys = [...saved.declared, ...saved.kept];
    ok(await ctx.p.shell(lines[2]), lines[2]);
    const r = await up();
    expect(r.stdout).toMatch(new RegExp(`= ${keys.length} imported`));
    expect(await uids(ctx.cluster, [claim])).toEqual([uid]);
    expect((await ctx.cluster.get(claim))!.spec.volumeName).toBe(volume);
    const deployments = (await ctx.cluster.get(`/apis/apps/v1/namespaces/${NS}/deployments`))!.items as Obj[];
    expect(deployments.map((d) => d.metadata.labels["app.kubernetes.io/component"]).sort()).toEqual(["broker", "registry"]);
    const registry = deployments.find((d) => d.metadata.labels["app.kubernetes.io/component"] === "registry")!;
    expect(registry.spec.template.spec.volumes.find((v: Obj) => v.name === "data").persistentVolumeClaim.claimName).toBe("intake-registry-data");
    await unchanged();
  }, 900_000);
});

describe.skipIf(!!unavailable)("dev on a real API server: every pull-secret mode change, with the Secret ESO and the refresher wrote", () => {
  const { ctx, up, unchanged, config, roster, setRoster } = onCluster("dev");
  const secret = "/api/v1/namespaces/acme-apps/secrets/intake-acme-ecr";
  const external = "/apis/external-secrets.io/v1/namespaces/acme-apps/externalsecrets/intake-acme-ecr";
  const token = (n: string) => JSON.stringify({ auths: { "111122223333.dkr.ecr.eu-west-1.amazonaws.com": { username: "AWS", password: n } } });
  const current = () => dockerConfig(ctx.cluster, "acme-apps", "intake-acme-ecr");

  /** A writer's update of the Secret's data, as ESO's controller (creationPolicy Merge) or the refresher's kubectl patch sends it. */
  async function writes(manager: string, value: string): Promise<void> {
    const r = await ctx.cluster.api(
      "PATCH",
      `${secret}?fieldManager=${encodeURIComponent(manager)}`,
      { data: { ".dockerconfigjson": Buffer.from(value).toString("base64") } },
      "application/merge-patch+json",
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  const ESO = "externalsecrets.external-secrets.io/intake-acme-ecr";

  it("eso, refresher, eso, none, eso: the Secret is one object throughout, keeps the token its writer put there, and nothing is left to change", async () => {
    await up();
    await unchanged();
    const [uid] = await uids(ctx.cluster, [secret]);
    expect((await ctx.cluster.get(external))!.spec.target.creationPolicy).toBe("Merge");
    await writes(ESO, token("from-eso"));
    // eso -> refresher: the ExternalSecret goes, the Secret and ESO's token stay.
    await config("set", "--path", "registry-intake:pullSecrets.mode", "refresher");
    await up();
    expect(await ctx.cluster.get(external)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 2000)); // the garbage collector's turn, had anything owned the Secret
    expect(await current()).toBe(token("from-eso"));
    await unchanged();
    // The refresher writes; refresher -> eso.
    await writes("kubectl-patch", token("from-refresher"));
    await config("set", "--path", "registry-intake:pullSecrets.mode", "eso");
    await up();
    expect(await current()).toBe(token("from-refresher"));
    await writes(ESO, token("from-eso-again"));
    await unchanged();
    // eso -> none (no pullSecrets at all), then none -> eso.
    const file = ctx.p.file("Pulumi.dev.yaml");
    const withEso = readFileSync(file, "utf8");
    const doc = parse(withEso) as { config: Record<string, unknown> };
    delete doc.config["registry-intake:pullSecrets"];
    ctx.p.write("Pulumi.dev.yaml", stringify(doc));
    await up();
    await unchanged();
    ctx.p.write("Pulumi.dev.yaml", withEso);
    await up();
    await unchanged();
    expect(await current()).toBe(token("from-eso-again"));
    expect(await uids(ctx.cluster, [secret])).toEqual([uid]);
  }, 1_800_000);

  it("a Secret an ExternalSecret created and owns (creationPolicy Owner, an earlier version of this program) is taken over without a field conflict", async () => {
    // The stack forgets the Secret (and the ExternalSecret that names it); ESO's Owner policy made it: its owner reference and its apply.
    const state = JSON.parse(ok(await ctx.p.pulumi(["stack", "export", "--stack", "dev"]), "pulumi stack export").stdout).deployment.resources as {
      urn: string;
      type: string;
    }[];
    const urn = state.find((r) => r.type === "kubernetes:core/v1:Secret" && r.urn.endsWith("::acme-pull-secrets-ecr"))!.urn;
    ok(await ctx.p.pulumi(["state", "delete", urn, "--target-dependents", "--yes", "--stack", "dev"]), "pulumi state delete");
    const es = (await ctx.cluster.get(external))!;
    const owned = await ctx.cluster.api(
      "PATCH",
      `${secret}?fieldManager=${encodeURIComponent(ESO)}&force=true`,
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "intake-acme-ecr",
          namespace: "acme-apps",
          ownerReferences: [
            {
              apiVersion: "external-secrets.io/v1",
              kind: "ExternalSecret",
              name: "intake-acme-ecr",
              uid: es.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from(token("owned-by-eso")).toString("base64") },
      },
      "application/apply-patch+yaml",
    );
    expect(owned.status, JSON.stringify(owned.body)).toBe(200);
    await up();
    await unchanged();
    expect((await ctx.cluster.get(secret))!.metadata.annotations["pulumi.com/patchForce"]).toBe("true");
  }, 900_000);

  it("a key rotation changes the ECR generator's key Secret in place (never away); an offboarding removes the customer's objects from its namespace", async () => {
    const auth = "/api/v1/namespaces/acme-apps/secrets/intake-acme-ecr-auth";
    const [uid] = await uids(ctx.cluster, [auth]);
    expect(uid).not.toBe("missing");
    const keyBefore = (await ctx.cluster.get(auth))!.data["access-key-id"];
    const acme = roster().customers.find((c) => c.id === "acme")!;
    setRoster(roster().customers.map((c) => (c.id === "acme" ? { ...acme, credentials: { ecr: { generation: 2, previousUntil: "2099-12-31" } } } : c)));
    const seen = await sampledThrough(
      () => uids(ctx.cluster, [auth]),
      () => up(),
    );
    expect(seen.length).toBeGreaterThan(5);
    expect(new Set(seen.flat())).toEqual(new Set([uid]));
    expect((await ctx.cluster.get(auth))!.data["access-key-id"]).not.toBe(keyBefore);
    await unchanged();
    // Offboarded: its pull secrets, their writers and what they authenticate with are gone from acme-apps.
    setRoster(roster().customers.map((c) => (c.id === "acme" ? { ...c, status: "offboarded" } : c)));
    await up();
    const names = async (plural: string, api = "/api/v1") =>
      ((await ctx.cluster.get(`${api}/namespaces/acme-apps/${plural}`))!.items as Obj[])
        .map((o) => o.metadata.name)
        .filter((n) => n.startsWith("intake-acme-"));
    expect(await names("secrets")).toEqual([]);
    expect(await names("externalsecrets", "/apis/external-secrets.io/v1")).toEqual([]);
    expect(await names("ecrauthorizationtokens", "/apis/generators.external-secrets.io/v1alpha1")).toEqual([]);
    expect(await names("serviceaccounts")).toEqual([]);
    await unchanged();
  }, 900_000);
});
