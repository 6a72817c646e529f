import { median, runChild } from "./child";

interface TypeMeasure {
  type: string;
  count: number;
  seconds: number;
  maxRssMiB: number;
}

const TYPES = ["component", "ecr", "gar", "github", "random", "acr"];
const COUNT = 2000;

/**
 * What one registration of each resource type costs under the mock engine (same engine as
 * the plan), each in its own process: where a plan's time goes by kind.
 */
export async function run(): Promise<void> {
  const rows = TYPES.map((t) => {
    const ms = Array.from({ length: 2 }, () => runChild<TypeMeasure>("types-child.ts", [t, String(COUNT)]));
    return ms.find((m) => m.seconds === median(ms.map((x) => x.seconds))) ?? ms[0];
  });
  const ecr = rows.find((r) => r.type === "ecr")!;
  console.log(`types suite: ${COUNT} registrations of one type per process (same engine as the plan)`);
  console.log(["type", "ms each", "vs ecr", "peak MiB"].map((h) => h.padStart(30)).join(""));
  for (const r of rows) {
    console.log(
      [r.type, ((r.seconds * 1000) / r.count).toFixed(2), `${(r.seconds / ecr.seconds).toFixed(2)}x`, r.maxRssMiB.toFixed(0)]
        .map((c) => c.padStart(30))
        .join(""),
    );
  }
}
