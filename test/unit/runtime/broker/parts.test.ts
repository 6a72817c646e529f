// The broker of a sharded stack: the access list and the roster each a folder of parts, mounted as
// Kubernetes writes a projected volume (files linked through a `..data` link swapped on change).
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import { decodeJwt } from "jose";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { TokenBroker } from "../../../../runtime/broker/broker";
import { parseAcl } from "../../../../runtime/broker/store";
import { loadSigningKey, type SigningKey } from "../../../../runtime/broker/keys";
import { customer } from "../../../../testing/helpers";
import { e2eUnavailable, makeKeyPair } from "../../../../testing/e2e";
import { tempDir } from "../../../../testing/tmp";
import { AtomicVolume } from "../../../../testing/atomic-volume";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the broker parts tests: ${unavailable}`);

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const HASH = bcryptjs.hashSync("pw", 4);
const robot = (id: string) => ({
  customer: id,
  username: `intake-robot-${id}`,
  passwordHash: HASH,
  paths: [`intake/${id}/*`],
  actions: ["pull", "push"],
  enabled: true,
});
const acl = (ids: string[]) => JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries: ids.map(robot) });
const roster = (ids: string[], over: Record<string, Record<string, unknown>> = {}) =>
  stringify({ customers: ids.map((id) => customer(id, "enterprise", { license: { expires: "2099-12-31" }, ...over[id] })) });

async function within(limitMs: number, probe: () => Promise<boolean>): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!!unavailable)("the broker on a sharded stack's volumes: roster and access list in parts", () => {
  let key: SigningKey;
  let broker: TokenBroker | undefined;
  const logs: string[] = [];

  beforeAll(() => {
    const dir = tempDir("broker-parts-key-");
    const pair = makeKeyPair(dir);
    key = loadSigningKey(pair.key, pair.cert);
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
    logs.length = 0;
  });

  async function start(aclDir: string, rosterDir: string): Promise<(id: string) => Promise<string[]>> {
    broker = new TokenBroker({
      aclFile: aclDir,
      rosterFile: rosterDir,
      key,
      service: "svc",
      issuer: "iss",
      watchIntervalMs: 50,
      logger: pino({}, { write: (s: string) => void logs.push(s) }),
    });
    const base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}`;
    // The actions customer `id`'s robot is granted on its own repository ([] when refused).
    return async (id: string) => {
      const r = await fetch(`${base}/token?service=svc&scope=repository:intake/${id}/app:pull,push`, {
        headers: { authorization: basic(`intake-robot-${id}`, "pw") },
      });
      if (r.status !== 200) return [`status ${r.status}`];
      const access = (decodeJwt(((await r.json()) as { token: string }).token) as { access: { actions: string[] }[] }).access;
      return access[0]?.actions ?? [];
    };
  }

  it("reads one roster from its parts; a swap of the roster volume suspends a customer of one shard, the others untouched", async () => {
    const dir = tempDir("broker-parts-");
    const aclVol = new AtomicVolume(path.join(dir, "acl"));
    const rosterVol = new AtomicVolume(path.join(dir, "roster"));
    aclVol.write({ "acl-shard-00.json": acl(["acme"]), "acl-shard-01.json": acl(["globex", "initech"]) });
    rosterVol.write({ "roster-shard-00.yaml": roster(["acme"]), "roster-shard-01.yaml": roster(["globex", "initech"]) });
    const actions = await start(aclVol.dir, rosterVol.dir);
    for (const id of ["acme", "globex", "initech"]) expect(await actions(id)).toEqual(["pull", "push"]);

    rosterVol.write({ "roster-shard-00.yaml": roster(["acme"]), "roster-shard-01.yaml": roster(["globex", "initech"], { globex: { status: "suspended" } }) });
    await within(2000, async () => (await actions("globex")).length === 0);
    expect(await actions("initech")).toEqual(["pull", "push"]);
    expect(await actions("acme")).toEqual(["pull", "push"]);
    // Only the part that changed was read again.
    const reloads = logs.map((l) => JSON.parse(l)).filter((l) => l.event === "reload" && l.source !== "all");
    expect(reloads.map((l) => l.source)).toEqual(["roster part roster-shard-01.yaml"]);

    // A shard's access-list key removed from the volume: its robots are unknown at once.
    aclVol.write({ "acl-shard-00.json": acl(["acme"]) });
    aclVol.remove("acl-shard-01.json");
    await within(2000, async () => (await actions("initech"))[0] === "status 401");
    expect(await actions("acme")).toEqual(["pull", "push"]);
  });

  it("a customer in two roster parts is refused until they agree; the others keep working", async () => {
    const dir = tempDir("broker-parts-");
    const aclVol = new AtomicVolume(path.join(dir, "acl"));
    const rosterVol = new AtomicVolume(path.join(dir, "roster"));
    aclVol.write({ "a.json": acl(["acme", "globex"]) });
    rosterVol.write({ "roster-shard-00.yaml": roster(["acme"]), "roster-shard-01.yaml": roster(["globex"]) });
    const actions = await start(aclVol.dir, rosterVol.dir);
    rosterVol.write({ "roster-shard-00.yaml": roster(["acme"]), "roster-shard-01.yaml": roster(["globex", "acme"]) });
    await within(2000, async () => (await actions("acme")).length === 0);
    expect(logs.some((l) => l.includes("reload-conflict") && l.includes("customer acme is also in"))).toBe(true);
    expect(await actions("globex")).toEqual(["pull", "push"]);
    rosterVol.write({ "roster-shard-00.yaml": roster(["acme"]), "roster-shard-01.yaml": roster(["globex"]) });
    await within(2000, async () => (await actions("acme")).length === 2);
  });

  it("at start: a roster folder with no parts, or a customer in two parts, is refused naming the folder or both files", () => {
    const dir = tempDir("broker-parts-");
    mkdirSync(path.join(dir, "roster"));
    writeFileSync(path.join(dir, "acl.json"), acl(["acme"]));
    const o = {
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster"),
      key,
      service: "svc",
      issuer: "iss",
      logger: pino({ level: "silent" }),
    };
    expect(() => new TokenBroker(o)).toThrow(/roster: no roster parts \(\*\.yaml\) in this folder: each shard stack writes its own/);
    writeFileSync(path.join(dir, "roster", "a.yaml"), roster(["acme"]));
    writeFileSync(path.join(dir, "roster", "b.yaml"), roster(["acme"]));
    expect(() => new TokenBroker(o)).toThrow(/b\.yaml: customer acme is also in .*a\.yaml/);
  });

  it("a change made between loading and watching is still seen (what was read is the baseline)", async () => {
    const dir = tempDir("broker-parts-");
    writeFileSync(path.join(dir, "acl.json"), acl(["acme"]));
    writeFileSync(path.join(dir, "roster.yaml"), roster(["acme"]));
    broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key,
      service: "svc",
      issuer: "iss",
      watchIntervalMs: 50,
      logger: pino({ level: "silent" }),
    });
    // Loaded in the constructor; suspended before the watch begins (listen).
    writeFileSync(path.join(dir, "roster.yaml"), roster(["acme"], { acme: { status: "suspended" } }));
    const base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}`;
    await within(2000, async () => {
      const r = await fetch(`${base}/token?service=svc&scope=repository:intake/acme/app:pull`, {
        headers: { authorization: basic("intake-robot-acme", "pw") },
      });
      return ((decodeJwt(((await r.json()) as { token: string }).token) as { access: unknown[] }).access ?? []).length === 0;
    });
  });
});

describe("an access list that is not one", () => {
  const good = { version: 1, service: "svc", issuer: "iss", entries: [] };
  it("names the file and the field, says what it must be, and never echoes a value", () => {
    expect(() => parseAcl(JSON.stringify({ ...good, version: 2 }), "acl.json")).toThrow(
      /^acl\.json: not an access list:\n {2}version: must be 1 \(the access-list format this broker reads; write the file again with `pulumi stack output distributionAcl --show-secrets`\)$/,
    );
    const plain = JSON.stringify({
      ...good,
      entries: [
        { customer: "acme", username: "intake-robot-acme", passwordHash: "hunter2-plain-password", paths: ["intake/acme/*"], actions: ["pull"], enabled: true },
      ],
    });
    let message = "";
    try {
      parseAcl(plain, "acl.json");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/entries\.0\.passwordHash/);
    expect(message).not.toContain("hunter2");
  });
});
