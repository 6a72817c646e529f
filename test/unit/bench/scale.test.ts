import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { generateRoster, rosterYaml } from "../../../testing/roster-gen";
import { mountedDocuments, platformSettings, shardBuckets, shardSettings, withHash, withStatus } from "../../../testing/scale-docs";
import { loadRoster, parseRoster } from "../../../customers/roster";
import { rosterForShard } from "../../../customers/shards";
import { rosterMapName } from "../../../kinds/distribution/service";
import { runUnderMocks } from "../../../planning/engine";
import { mockOptions } from "../../../planning/mock-options";
import { program } from "../../../program";
import { readAclSource } from "../../../runtime/broker/store";
import { testSettings, unwrap } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

// What `npm run bench -- scale` measures must be what the program mounts: its access-list parts
// and roster parts are built beside the program (one shared hash, so 100,000 robots need no
// bcrypt each), and must stay equal to the program's own.
const K8S = { host: "registry.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } };
const HASH = bcrypt.hashSync("scale-bench", 4);
const SHARDS = 4;

function rosterOf(n: number) {
  const s = testSettings({ distribution: K8S });
  // One robot in a password rotation's overlap: its entry carries the previous hash too.
  const text = rosterYaml(n).replace(
    "  - id: cust-00001\n",
    "  - id: cust-00001\n    credentials: { distribution: { generation: 2, previousUntil: 2026-12-31 } }\n",
  );
  return { settings: s, roster: parseRoster(text, "generated.yaml", { tierTable: s.tierTable, prefix: { repoPrefix: s.repoPrefix } }) };
}

describe("scale bench: shard assignment in one pass", () => {
  it("puts every customer where rosterForShard does, in roster order", () => {
    const roster = generateRoster(400);
    const buckets = shardBuckets(roster, 7);
    for (let i = 0; i < 7; i++) expect(buckets[i].map((c) => c.id)).toEqual(rosterForShard(roster, i, 7).customers.map((c) => c.id));
  });
});

describe("scale bench: what the program mounts into the broker", () => {
  it("each shard's parts are byte for byte the program's own acl.json and roster ConfigMap for that shard stack (hashes aside)", async () => {
    const { settings, roster } = rosterOf(200);
    const platform = platformSettings(settings, SHARDS);
    const mounted = await mountedDocuments(platform, roster, HASH);
    expect(mounted.parts.map((p) => p.file)).toEqual(["acl.json", ...Array.from({ length: SHARDS }, (_, i) => `intake-broker-acl-shard-0${i}.json`)]);
    expect(mounted.rosterParts.map((p) => [p.shard, p.configMap, p.file])).toEqual(
      Array.from({ length: SHARDS }, (_, i) => [i, `intake-broker-roster-shard-0${i}`, `intake-broker-roster-shard-0${i}.yaml`]),
    );
    let rotated = 0;
    for (let i = 0; i < SHARDS; i++) {
      // The program as shard stack i runs it (only the distribution kind: the rest adds nothing to what the broker mounts).
      const s = { ...shardSettings(platform, i), enabledKinds: ["distribution" as const] };
      const { result, resources } = await runUnderMocks(() => program(s, roster), mockOptions(s, {}));
      const own = withHash(await unwrap(result.distribution!.acl), HASH);
      const part = mounted.parts.find((p) => p.shard === i)!;
      expect(part.text).toBe(own);
      expect(part.entries).toBeGreaterThan(0);
      rotated += (part.text.match(/previousPasswordHash/g) ?? []).length;
      const map = resources.find(
        (r) => r.type === "kubernetes:core/v1:ConfigMap" && (r.inputs as { metadata: { name: string } }).metadata.name === rosterMapName(s),
      );
      const rosterPart = mounted.rosterParts.find((p) => p.shard === i)!;
      expect(rosterPart.text).toBe((map!.inputs as { data: Record<string, string> }).data["roster.yaml"]);
      // Exactly rosterForShard's customers, in its order.
      const back = parseRoster(rosterPart.text, rosterPart.file, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
      expect(back.customers.map((c) => c.id)).toEqual(rosterForShard(roster, i, SHARDS).customers.map((c) => c.id));
      expect(rosterPart.customers).toBe(back.customers.length);
      // The bench's roster row suspends one customer in a part as written: withStatus must find it there.
      const first = back.customers[0].id;
      const changed = parseRoster(withStatus(rosterPart.text, first, "suspended"), rosterPart.file, {
        tierTable: settings.tierTable,
        prefix: { repoPrefix: settings.repoPrefix },
      });
      expect(changed.customers.filter((c) => c.status === "suspended").map((c) => c.id)).toContain(first);
    }
    expect(rotated).toBe(1);
  });

  it("the broker's own reader takes the parts whole, with every robot once, and the roster parts read back as the roster", async () => {
    const { settings, roster } = rosterOf(400);
    const mounted = await mountedDocuments(platformSettings(settings, SHARDS), roster, HASH);
    const dir = tempDir("scale-bench-acl-");
    mkdirSync(path.join(dir, "acl"));
    mkdirSync(path.join(dir, "roster"));
    for (const p of mounted.parts) writeFileSync(path.join(dir, "acl", p.file), p.text);
    for (const p of mounted.rosterParts) writeFileSync(path.join(dir, "roster", p.file), p.text);
    const acl = readAclSource(path.join(dir, "acl"));
    const robots = roster.customers.filter((c) => c.registries.includes("distribution") && c.status !== "offboarded").map((c) => c.id);
    expect(acl.entries.map((e) => e.customer).sort()).toEqual(robots.sort());
    expect(acl.delivery?.username).toBe("intake-delivery");
    expect(mounted.parts.reduce((n, p) => n + p.entries, 0)).toBe(robots.length);
    // The folder as the broker's --roster reads it (customers/roster.ts loadRoster of a folder): every
    // customer once, each as the whole roster has it (in shard order, not roster order).
    const back = loadRoster(path.join(dir, "roster"), { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
    const byId = (cs: typeof roster.customers) => [...cs].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(back.customers.length).toBe(roster.customers.length);
    expect(byId(back.customers)).toEqual(byId(roster.customers));
    expect(mounted.rosterParts.reduce((n, p) => n + p.customers, 0)).toBe(roster.customers.length);
    expect(mounted.deploymentBytes).toBeGreaterThan(0);
  });

  it("withStatus changes one customer's status and nothing else", () => {
    const text = rosterYaml(50);
    const before = parseRoster(text, "a.yaml");
    const after = parseRoster(withStatus(text, "cust-00007", "suspended"), "b.yaml");
    expect(after.customers.filter((c, i) => JSON.stringify(c) !== JSON.stringify(before.customers[i])).map((c) => [c.id, c.status])).toEqual([
      ["cust-00007", "suspended"],
    ]);
    expect(() => withStatus(text, "cust-99999", "suspended")).toThrow(/no customer cust-99999/);
  });
});
