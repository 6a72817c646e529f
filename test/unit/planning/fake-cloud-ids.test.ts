import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { rosterYaml } from "../../../testing/roster-gen";
import { loadStackContext } from "../../../core/stack";
import { runUnderMocks } from "../../../planning/engine";
import { MAKERS } from "../../../planning/fake-cloud";
import { mockOptions } from "../../../planning/mock-options";
import { program } from "../../../program";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");
const CTX = { accountId: "111122223333", region: "eu-west-1", githubOwner: "example-intake-dev" };

/** Ids given to more than one name, by type. */
function shared(rows: { type: string; id: string; name: string }[]): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const r of rows) {
    if (!r.id) continue;
    const key = `${r.type} ${r.id}`;
    const had = seen.get(key);
    if (had !== undefined && had !== r.name) out.push(`${key}: ${had} and ${r.name}`);
    seen.set(key, r.name);
  }
  return out;
}

describe("the fake cloud's ids (the plan's and the local providers')", () => {
  it("never gives two GitHub teams one id, across 200,000 teams; the same team reads back the same id", () => {
    const team = MAKERS["github:index/team:Team"];
    const rows = Array.from({ length: 200_000 }, (_, i) => {
      const name = `intake-cust-${String(i + 1).padStart(6, "0")}`;
      return { type: "team", name, id: team(name, { name }, CTX).id! };
    });
    expect(shared(rows)).toEqual([]);
    expect(rows.every((r) => /^[1-9]\d{14}$/.test(r.id))).toBe(true);
    expect(Number.isSafeInteger(Number(rows[0].id))).toBe(true);
    expect(team(rows[7].name, { name: rows[7].name }, CTX).id).toBe(rows[7].id);
  });

  it("gives no two resources of one type the same id in a 2,000-customer plan of every kind", async () => {
    const dir = tempDir("ids-");
    const file = path.join(dir, "roster.yaml");
    writeFileSync(file, rosterYaml(2000));
    const { settings, roster } = loadStackContext({ projectDir: ROOT, stack: "dev", rosterPath: file });
    expect(settings.enabledKinds).toEqual(["ghcr", "ecr", "acr", "gar", "distribution"]);
    const { resources } = await runUnderMocks(() => program(settings, roster), mockOptions(settings, {}));
    expect(resources.length).toBeGreaterThan(20_000);
    // RandomPassword's id is "none" for every password, as the real random provider gives it.
    expect(shared(resources.filter((r) => r.custom && r.type !== "random:index/randomPassword:RandomPassword"))).toEqual([]);
    expect(new Set(resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.id))).toEqual(new Set(["none"]));
  }, 300_000);

  it("plans 20,000 generated customers of every kind with exit 0 and no policy violation", () => {
    const dir = tempDir("plan20k-");
    const file = path.join(dir, "roster.yaml");
    writeFileSync(file, rosterYaml(20_000));
    const r = spawnSync(process.execPath, [path.join(ROOT, "cli/bin/intake.js"), "plan", "--stack", "dev", "--roster", file, "--project", ROOT], {
      encoding: "utf8",
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.status, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stdout).toMatch(/^Policy: no violations\.$/m);
  }, 900_000);
});
