import { writeFileSync } from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { generateRoster, rosterYaml } from "../bench/roster-gen";
import { mountedDocuments, platformSettings, shardBuckets, shardSettings, withHash, withStatus } from "../bench/scale-docs";
import { parseRoster } from "../customers/roster";
import { rosterForShard } from "../customers/shards";
import { runUnderMocks } from "../planning/engine";
import { mockOptions } from "../planning/plan";
import { program } from "../program";
import { readAclSource } from "../runtime/broker/store";
import { testSettings, unwrap } from "./helpers";
import { tempDir } from "./tmp";

// What `npm run bench -- scale` measures must be what the program mounts: its access-list parts
// are built beside the program (one shared hash, so 100,000 robots need no bcrypt each), and
// must stay equal to the program's own.
const K8S = { host: "registry.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } };
const HASH = bcrypt.hashSync("scale-bench", 4);
const SHARDS = 4;

function rosterOf(n: number) {
  const s = testSettings({ distribution: K8S });
  // One robot in a password rotation's overlap: its entry carries the previous hash too.
  const text = rosterYaml(n).replace("  - id: cust-00001\n", "  - id: cust-00001\n    credentials: { distribution: { generation: 2, previousUntil: 2026-12-31 } }\n");
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
  it("each shard's part is byte for byte the program's own acl.json for that shard stack (hashes aside)", async () => {
    const { settings, roster } = rosterOf(200);
    const platform = platformSettings(settings, SHARDS);
    const mounted = await mountedDocuments(platform, roster, HASH);
    expect(mounted.parts.map((p) => p.file)).toEqual(["acl.json", ...Array.from({ length: SHARDS }, (_, i) => `intake-broker-acl-shard-0${i}.json`)]);
    let rotated = 0;
    for (let i = 0; i < SHARDS; i++) {
      // The program as shard stack i runs it (only the distribution kind: the rest adds nothing to the access list).
      const s = { ...shardSettings(platform, i), enabledKinds: ["distribution" as const] };
      const { result } = await runUnderMocks(() => program(s, roster), mockOptions(s, {}));
      const own = withHash(await unwrap(result.distribution!.acl), HASH);
      const part = mounted.parts.find((p) => p.shard === i)!;
      expect(part.text).toBe(own);
      expect(part.entries).toBeGreaterThan(0);
      rotated += (part.text.match(/previousPasswordHash/g) ?? []).length;
    }
    expect(rotated).toBe(1);
  });

  it("the broker's own reader takes the parts whole, with every robot once, and the roster ConfigMap reads back as the roster", async () => {
    const { settings, roster } = rosterOf(400);
    const mounted = await mountedDocuments(platformSettings(settings, SHARDS), roster, HASH);
    const dir = tempDir("scale-bench-acl-");
    for (const p of mounted.parts) writeFileSync(path.join(dir, p.file), p.text);
    const acl = readAclSource(dir);
    const robots = roster.customers.filter((c) => c.registries.includes("distribution") && c.status !== "offboarded").map((c) => c.id);
    expect(acl.entries.map((e) => e.customer).sort()).toEqual(robots.sort());
    expect(acl.delivery?.username).toBe("intake-delivery");
    expect(mounted.parts.reduce((n, p) => n + p.entries, 0)).toBe(robots.length);
    const back = parseRoster(mounted.rosterConfigMap, "roster.yaml", { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
    expect(back.customers).toEqual(roster.customers);
    expect(mounted.deploymentBytes).toBeGreaterThan(0);
  });

  it("withStatus changes one customer's status and nothing else", () => {
    const text = rosterYaml(50);
    const before = parseRoster(text, "a.yaml");
    const after = parseRoster(withStatus(text, "cust-00007", "suspended"), "b.yaml");
    expect(after.customers.filter((c, i) => JSON.stringify(c) !== JSON.stringify(before.customers[i])).map((c) => [c.id, c.status])).toEqual([["cust-00007", "suspended"]]);
    expect(() => withStatus(text, "cust-99999", "suspended")).toThrow(/no customer cust-99999/);
  });
});
