// The seed of one credential group, state by state: who copies, where a mount takes its blobs
// from, and who takes over a copy that failed (runtime/delivery/seed.ts).
import { describe, expect, it } from "vitest";
import { Seed } from "../../../../runtime/delivery/seed";

const target = (name: string) => ({ repository: `intake/${name}/app` });
const [a, b, c] = ["acme", "globex", "initech"].map(target);
/** Whether a promise has settled after the queued callbacks ran. */
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe("the seed of a credential group", () => {
  it("none → copying: the first missing target copies, the others mount and wait for its platforms to land", async () => {
    const seed = new Seed([a, b, c], "builds/app", false);
    expect(seed.state).toBe("none");
    expect(seed.role(a)).toBe("copy");
    expect(seed.state).toBe("copying");
    expect(seed.copying?.target).toBe(a);
    expect(seed.role(b)).toBe("mount");
    const amd64 = seed.seedOf(b, "sha256:amd64");
    expect(await settled(amd64)).toBe(false);
    expect(seed.anyWaiting).toBe(true);
    seed.land(seed.copying!, "sha256:amd64");
    expect(await amd64).toEqual({ from: a.repository });
    expect(seed.anyWaiting).toBe(false);
    // A platform not landed yet still waits.
    expect(await settled(seed.seedOf(c, "sha256:arm64"))).toBe(false);
  });

  it("copying → held: the copy finished, every mount takes the whole image from it", async () => {
    const seed = new Seed([a, b], "builds/app", false);
    seed.role(a);
    const waiting = seed.seedOf(b, "sha256:arm64");
    seed.copied(a);
    expect(seed.state).toBe("held");
    expect(await waiting).toEqual({ from: a.repository });
    expect(seed.role(b)).toBe("mount");
  });

  it("copying → held by a check: a target found holding the image stops the copy and seeds the rest; a later find changes nothing", async () => {
    const seed = new Seed([a, b, c], "builds/app", false);
    seed.role(a);
    const copy = seed.copying!;
    seed.found(c);
    expect(copy.abort.signal.aborted).toBe(true);
    expect(seed.state).toBe("held");
    expect(await seed.seedOf(b, "sha256:amd64")).toEqual({ from: c.repository });
    seed.copyFailed(); // the stopped copy ends
    seed.found(b);
    expect(await seed.seedOf(a, "sha256:amd64")).toEqual({ from: c.repository });
  });

  it("copying → none → copying: a failed copy is taken over by the first target waiting, in the order asked", async () => {
    const seed = new Seed([a, b, c], "builds/app", false);
    seed.role(a);
    const late = seed.seedOf(c, "sha256:amd64");
    const early = seed.seedOf(b, "sha256:amd64");
    seed.copyFailed();
    expect(await early).toEqual({ takeover: true });
    expect(seed.state).toBe("copying");
    expect(seed.copying?.target).toBe(b);
    expect(await settled(late)).toBe(false);
    seed.copied(b);
    expect(await late).toEqual({ from: b.repository });
  });

  it("a mount of the copier's own target is told to take over", async () => {
    const seed = new Seed([a, b], "builds/app", false);
    seed.role(a);
    expect(await seed.seedOf(a, "sha256:amd64")).toEqual({ takeover: true });
  });

  it("from-source → none: mounts come from the source repository until one is refused, then the first to ask copies", async () => {
    const seed = new Seed([a, b], "builds/app", true);
    expect(seed.state).toBe("from-source");
    expect(seed.role(a)).toBe("mount");
    expect(await seed.seedOf(a, "sha256:amd64")).toEqual({ from: "builds/app" });
    seed.sourceRefused();
    expect(seed.state).toBe("none");
    expect(seed.role(b)).toBe("copy");
    expect(seed.role(a)).toBe("mount");
  });
});
