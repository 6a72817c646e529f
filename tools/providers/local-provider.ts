import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type * as provider from "@pulumi/pulumi/provider";
import {
  CLOUD_NAMED_TYPES,
  cloudRefusal,
  cloudUpdateRefusal,
  deleteLeaves,
  MAKERS,
  PUT_TYPES,
  type FakeCloudContext,
  type State,
} from "../../planning/fake-cloud";
import { replacedBy } from "../../planning/replace-on";
import { PACKAGE_ROOT } from "../../core/package";

/**
 * A local stand-in for one cloud provider plugin (aws, azure-native, gcp, github, kubernetes,
 * random), served by the SDK's own provider server (tools/providers/main.ts). Resources "exist" in one
 * JSON file shared by every plugin process (the fake cloud); their outputs come from the MAKERS
 * the offline plan uses, and their replacements from REPLACE_ON (replacedBy), so the plan and a real engine agree.
 */

// Wire sentinels of the Pulumi property protocol (sdk/nodejs/runtime/rpc.ts).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

/** Packages whose resources live only in the stack's state (no cloud object): random. */
const STATELESS_PACKAGES = new Set(["random"]);

/** The old inputs of the Diff/Update request being served (the SDK's Provider interface drops them). */
export const requestOldInputs = new AsyncLocalStorage<State | undefined>();

interface FakeCloudRecord {
  type: string;
  id: string;
  urn: string;
  inputs: State;
  outputs: State;
  created: string;
  updated?: string;
}

export interface FakeCloudDocument {
  context: Partial<FakeCloudContext>;
  /** Keyed by `<type>|<id>`. */
  resources: Record<string, FakeCloudRecord>;
}

/** `$INTAKE_FAKE_CLOUD`, else `$PULUMI_HOME/intake-fake-cloud.json`, else `~/.pulumi/intake-fake-cloud.json`. */
function fakeCloudPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INTAKE_FAKE_CLOUD) return path.resolve(env.INTAKE_FAKE_CLOUD);
  return path.join(env.PULUMI_HOME || path.join(os.homedir(), ".pulumi"), "intake-fake-cloud.json");
}

const recordKey = (type: string, id: string) => `${type}|${id}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The fake cloud file. Readers read the file as it is (every write replaces it whole with a
 * rename, so a read never sees half a write); writers read-modify-write under a lock file taken
 * with O_EXCL, so plugin processes writing at once never lose each other's resources.
 */
export class FakeCloudStore {
  private readonly lockPath: string;

  constructor(readonly file: string = fakeCloudPath()) {
    this.lockPath = `${file}.lock`;
  }

  read(): FakeCloudDocument {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { context: {}, resources: {} };
      throw e;
    }
    const doc = JSON.parse(text) as Partial<FakeCloudDocument>;
    return { context: doc.context ?? {}, resources: doc.resources ?? {} };
  }

  /** Runs `change` on the current document under the lock and writes the result atomically. */
  async update<T>(change: (doc: FakeCloudDocument) => T): Promise<T> {
    await this.lock();
    try {
      const doc = this.read();
      const result = change(doc);
      const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        fs.writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
        fs.renameSync(tmp, this.file);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      return result;
    } finally {
      fs.rmSync(this.lockPath, { force: true });
    }
  }

  private async lock(): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = fs.openSync(this.lockPath, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      if (this.breakStaleLock()) continue;
      if (Date.now() > deadline) throw new Error(`fake cloud: could not lock ${this.file} for 30 s (held by ${this.lockPath})`);
      await sleep(Math.min(5 + attempt * 2, 50) + Math.random() * 10);
    }
  }

  /** A lock whose writer died (no such process) or that is older than 10 s is removed. */
  private breakStaleLock(): boolean {
    let holder: number;
    let age: number;
    try {
      holder = Number(fs.readFileSync(this.lockPath, "utf8"));
      age = Date.now() - fs.statSync(this.lockPath).mtimeMs;
    } catch {
      return true; // gone meanwhile: try again at once
    }
    let dead = false;
    if (Number.isInteger(holder) && holder > 0) {
      try {
        process.kill(holder, 0);
      } catch (e) {
        dead = (e as NodeJS.ErrnoException).code === "ESRCH";
      }
    }
    // A lock file still empty (its writer between open and write) is young: only age breaks it.
    if (dead || age > 10_000) {
      fs.rmSync(this.lockPath, { force: true });
      return true;
    }
    return false;
  }
}

/** The package's version, as the SDK asks the engine for it: node_modules/@pulumi/<pkg>/package.json. */
function packageVersion(pkg: string): string {
  const file = require.resolve(`@pulumi/${pkg}/package.json`, { paths: [PACKAGE_ROOT] });
  const json = JSON.parse(fs.readFileSync(file, "utf8")) as { version: string; pulumi?: { version?: string } };
  return (json.pulumi?.version ?? json.version).replace(/^v/, "");
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A wire value as plain data: secrets unwrapped (the engine keeps their secretness: see
 * tools/providers/main.ts), resource references as their id (else URN), output values as their value.
 */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (!isObject(v)) return v;
  switch (v[SIG]) {
    case SECRET_SIG:
      return plain(v.value);
    case RESOURCE_SIG:
      return v.id !== undefined && v.id !== "" ? plain(v.id) : v.urn;
    case OUTPUT_SIG:
      return "value" in v ? plain(v.value) : UNKNOWN;
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
}

const plainState = (v: unknown): State => (isObject(v) ? (plain(v) as State) : {});

function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (isObject(v)) return Object.values(v).some(containsUnknown);
  return false;
}

/** undefined, null and a missing key are alike; otherwise deep equality. */
function same(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => same(a[k], b[k]));
  }
  return a === b;
}

/** What the engine would see as a changed input: differs, or is not known yet (preview). */
const changed = (a: unknown, b: unknown) => containsUnknown(b) || !same(a, b);

function typeOf(urn: string): { type: string; name: string } {
  // urn:pulumi:<stack>::<project>::<qualified type>::<name>; the qualified type ends with the type.
  const parts = urn.split("::");
  const name = parts.slice(3).join("::");
  const type = (parts[2] ?? "").split("$").pop() ?? "";
  return { type, name };
}

export interface ProviderConfig {
  /** aws: `region`. */
  region?: string;
  /** github: `owner`. */
  owner?: string;
}

/** The cloud's refusal of a name it already holds (another stack's, or one kept). */
function alreadyExists(type: string, id: string): string {
  return `AlreadyExists: ${type} ${id} exists in the cloud (kept, or another stack's in this account: give each stack its own repoPrefix and registry names): import it or choose another name`;
}

export class LocalProvider implements provider.Provider {
  readonly version: string;
  private config: ProviderConfig = {};
  private readonly stateless: boolean;

  constructor(
    readonly pkg: string,
    readonly store: FakeCloudStore = new FakeCloudStore(),
    version?: string,
  ) {
    this.version = version ?? packageVersion(pkg);
    this.stateless = STATELESS_PACKAGES.has(pkg);
  }

  /** The provider's configuration, from the engine's Configure (args, else the `<pkg>:config:<key>` variables). */
  configure(args: State, variables: Record<string, string> = {}): void {
    const get = (key: string): string | undefined => {
      const v = plain(args[key]) ?? variables[`${this.pkg}:config:${key}`];
      return typeof v === "string" && v !== "" && v !== UNKNOWN ? v : undefined;
    };
    if (this.pkg === "aws") this.config = { region: get("region") };
    else if (this.pkg === "github") this.config = { owner: get("owner") };
  }

  /** The stored context, else the defaults; this provider's own configuration wins. */
  context(doc: FakeCloudDocument = this.store.read()): FakeCloudContext {
    const base = this.defaultContext(doc);
    return { ...base, region: this.config.region ?? base.region, githubOwner: this.config.owner ?? base.githubOwner };
  }

  private defaultContext(doc: FakeCloudDocument): FakeCloudContext {
    return {
      accountId: doc.context.accountId ?? process.env.INTAKE_FAKE_AWS_ACCOUNT ?? "111122223333",
      region: doc.context.region ?? this.config.region ?? "eu-west-1",
      githubOwner: doc.context.githubOwner ?? this.config.owner,
    };
  }

  /** The first writer fixes the cloud's context (an owner learned later is added). */
  private settleContext(doc: FakeCloudDocument): void {
    const ctx = this.defaultContext(doc);
    doc.context = { accountId: ctx.accountId, region: ctx.region, ...(ctx.githubOwner ? { githubOwner: ctx.githubOwner } : {}) };
  }

  async check(urn: string, olds: unknown, news: unknown): Promise<provider.CheckResult> {
    // Every type is accepted as it is, including ones the fake cloud does not model. A create (no
    // old inputs: an import brings the ones it read) of a name the cloud already holds is refused
    // here, at preview, in the words `create` would refuse it with at `up`.
    const { type, name } = typeOf(urn);
    const inputs = plainState(news);
    if (
      !this.stateless &&
      !PUT_TYPES.has(type) &&
      !CLOUD_NAMED_TYPES.has(type) &&
      Object.keys(plainState(olds)).length === 0 &&
      !JSON.stringify(inputs).includes(UNKNOWN)
    ) {
      const doc = this.store.read();
      const made = this.make(type, name, inputs, this.context(doc));
      if (doc.resources[recordKey(type, made.id)]) throw new Error(alreadyExists(type, made.id));
    }
    return { inputs: news ?? {} };
  }

  async diff(_id: string, urn: string, olds: unknown, news: unknown): Promise<provider.DiffResult> {
    const { type } = typeOf(urn);
    const newInputs = plainState(news);
    // Old inputs from the engine's request; an old engine sends only the old outputs: compare
    // those keys of them that are inputs now.
    const requested = requestOldInputs.getStore();
    const oldOutputs = plainState(olds);
    const oldInputs = requested ? plainState(requested) : Object.fromEntries(Object.keys(newInputs).map((k) => [k, oldOutputs[k]]));
    const keys = [...new Set([...Object.keys(oldInputs), ...Object.keys(newInputs)])];
    const differing = keys.filter((k) => changed(oldInputs[k], newInputs[k]));
    // The inputs holding a replace-on field that changed (as the offline plan decides).
    const replaces = [...new Set(replacedBy(type, oldInputs, newInputs).map((f) => f.split(".")[0]))];
    return { changes: differing.length > 0, replaces };
  }

  async create(urn: string, news: unknown): Promise<provider.CreateResult> {
    const { type, name } = typeOf(urn);
    const inputs = plainState(news);
    const refused = cloudRefusal(type, inputs);
    if (refused) throw new Error(refused);
    const doc = this.store.read();
    let made = this.make(type, name, inputs, this.context(doc));
    if (this.stateless) return { id: made.id, outs: made.state };
    await this.store.update((cloud) => {
      // An id the cloud chooses: another one where a retained resource holds this one.
      for (let n = 1; CLOUD_NAMED_TYPES.has(type) && cloud.resources[recordKey(type, made.id)]; n++)
        made = this.make(type, `${name}#${n}`, inputs, this.context(cloud));
      const key = recordKey(type, made.id);
      if (cloud.resources[key] && !PUT_TYPES.has(type)) {
        throw new Error(alreadyExists(type, made.id));
      }
      this.settleContext(cloud);
      cloud.resources[key] = { type, id: made.id, urn, inputs, outputs: made.state, created: new Date().toISOString() };
    });
    return { id: made.id, outs: made.state };
  }

  async read(id: string, urn: string, props?: unknown): Promise<provider.ReadResult> {
    const { type } = typeOf(urn);
    // A random value exists only in the stack's state: it reads back as it is.
    if (this.stateless) return { id, props: plainState(props) };
    const found = this.store.read().resources[recordKey(type, id)];
    if (!found) return { id: "", props: {} };
    return { id: found.id, props: found.outputs, inputs: found.inputs };
  }

  async update(id: string, urn: string, olds: unknown, news: unknown): Promise<provider.UpdateResult> {
    const { type } = typeOf(urn);
    const inputs = plainState(news);
    const oldOutputs = plainState(olds);
    const oldInputs = plainState(requestOldInputs.getStore());
    const merge = (previous: State, previousInputs: State): State => {
      const outputsOnly = Object.entries(previous).filter(([k]) => !(k in previousInputs) && !(k in inputs));
      return { ...Object.fromEntries(outputsOnly), ...inputs };
    };
    if (this.stateless) return { outs: merge(oldOutputs, oldInputs) };
    return this.store.update((cloud) => {
      const key = recordKey(type, id);
      const stored = cloud.resources[key];
      if (stored) {
        const keys = [...new Set([...Object.keys(stored.inputs), ...Object.keys(inputs)])].filter((k) => !same(stored.inputs[k], inputs[k]));
        const refused = cloudUpdateRefusal(type, stored.outputs, inputs, keys);
        if (refused) throw new Error(refused);
      }
      const outputs = merge(stored?.outputs ?? oldOutputs, { ...oldInputs, ...stored?.inputs });
      this.settleContext(cloud);
      cloud.resources[key] = {
        type,
        id,
        urn,
        inputs,
        outputs,
        created: stored?.created ?? new Date().toISOString(),
        updated: new Date().toISOString(),
      };
      return { outs: outputs };
    });
  }

  async delete(id: string, urn: string): Promise<void> {
    if (this.stateless) return;
    const { type } = typeOf(urn);
    const key = recordKey(type, id);
    if (!this.store.read().resources[key]) return; // already gone: nothing to write
    await this.store.update((cloud) => {
      const stored = cloud.resources[key];
      const left = stored && deleteLeaves(type, stored.outputs);
      if (stored && left) cloud.resources[key] = { ...stored, inputs: { ...stored.inputs, archived: true }, outputs: left, updated: new Date().toISOString() };
      else delete cloud.resources[key];
    });
  }

  /** MAKERS' outputs; a type the fake cloud does not model echoes its inputs under an id from type and name. */
  private make(type: string, name: string, inputs: State, ctx: FakeCloudContext): { id: string; state: State } {
    const maker = MAKERS[type];
    const made = maker ? maker(name, inputs, ctx) : undefined;
    const id = made?.id ?? `${name}-${digest(type, name).slice(0, 8)}`;
    return { id, state: made?.state ?? { ...inputs } };
  }
}
