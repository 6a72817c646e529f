import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { IntakeError, InvalidInput } from "../core/errors";
import { editedText, type RosterEdit } from "./edit-text";

/** Where a roster change is committed: the roster repository's remote and branch, and who commits. */
export interface RosterGit {
  /** The git folder the roster file is in (a clone of the roster repository). */
  repoDir: string;
  /** The remote's name in that clone (`origin`) or its URL. */
  remote: string;
  branch: string;
  authorName: string;
  authorEmail: string;
}

/** The RosterGit of a roster file under the stack's `onboarding.git` setting (its clone is the file's folder's repository). */
export function rosterGit(setting: { remote: string; branch: string; authorName: string; authorEmail: string }, rosterFile: string): RosterGit {
  return {
    repoDir: path.dirname(rosterFile),
    remote: setting.remote,
    branch: setting.branch,
    authorName: setting.authorName,
    authorEmail: setting.authorEmail,
  };
}

/**
 * A fetch into a private ref alone: no remote-tracking ref updated (`--refmap=`) and no FETCH_HEAD
 * written, so jobs running at once in one clone do not race on those refs' locks.
 */
const PRIVATE_FETCH = ["--quiet", "--no-tags", "--no-write-fetch-head", "--refmap="];

/** A roster change git would not take, or that met another change of the same customer. Nothing was pushed. */
export class RosterGitError extends InvalidInput {}

export interface RosterCommit {
  /** The commit on the branch that holds the change. */
  commit: string;
  /** The roster file's text at that commit. */
  text: string;
  /** How many pushes it took (more than one when another writer pushed first). */
  attempts: number;
  /** The job's commit was already on the branch (a job run again after a crash): nothing was pushed. */
  found: boolean;
}

export interface RosterCommitRequest {
  /** The roster file, as a path in the work tree of `git.repoDir`. */
  rosterFile: string;
  customer: string;
  /** The commit's subject, e.g. `onboard acme`. */
  subject: string;
  /** The job's id, written as the trailer `Intake-Job: <id>` so a job run again finds its commit. */
  job: string;
  edit: RosterEdit;
  /** Validates the edited text (the whole roster) made from `base`, the branch's; throws to refuse. */
  validate: (text: string, base: string) => void;
  /** Called once the candidate is made from the branch's tip and validated, before it is committed (a preview). */
  beforeCommit?: (text: string) => Promise<void>;
  /** How many times a push refused as non-fast-forward is tried again on the new tip (default 5). */
  retries?: number;
  onOutput?: (line: string) => void;
}

/**
 * Commit a roster change on the roster repository's branch, never only into a work tree: fetch the
 * branch, apply the one-customer edit to the roster file as the branch holds it (customers/edit-text.ts:
 * nothing else in the file changes), validate it whole, commit it with the trailer `Intake-Job`
 * (in a private index: the work tree and its index are not touched), push. A push refused because
 * another writer pushed first is taken again from the new tip: the edit re-applied and validated
 * again, with back-off. If that writer changed the same customer, the job fails naming both
 * commits. A job whose commit is already on the branch (found by its trailer) pushes nothing.
 */
export async function commitRosterChange(git: RosterGit, req: RosterCommitRequest): Promise<RosterCommit> {
  try {
    return await commitOnce(git, req);
  } catch (e) {
    // Refused by git below, or by the caller's validate or preview: their own message.
    if (e instanceof IntakeError) throw e;
    // git itself failed (not a repository, a signing key missing, ...): one line, no trace.
    throw new RosterGitError(`git: ${redact(firstLine((e as Error).message))}; nothing was pushed`);
  }
}

async function commitOnce(git: RosterGit, req: RosterCommitRequest): Promise<RosterCommit> {
  const run: Git = (args, o = {}) => gitRun(git.repoDir, args, o);
  const rel = await pathInRepo(req.rosterFile);
  // A ref name of the job's own (any id is safe in it), and of this run (two runs of one job never share it).
  const ref = `refs/intake/jobs/${createHash("sha256").update(req.job).digest("hex").slice(0, 16)}-${randomBytes(4).toString("hex")}`;
  const retries = req.retries ?? 5;
  let base: { commit: string; entry: string } | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      await run(["fetch", ...PRIVATE_FETCH, git.remote, `+refs/heads/${git.branch}:${ref}`]).catch((e: Error) => {
        throw new RosterGitError(`git fetch ${redact(git.remote)} ${git.branch} failed, nothing was committed: ${redact(firstLine(e.message))}`);
      });
      const tip = (await run(["rev-parse", ref])).trim();
      const current = await run(["show", `${tip}:${rel}`]).catch(() => {
        throw new RosterGitError(`${redact(git.remote)} ${git.branch} has no ${rel}, nothing was committed`);
      });
      const found = await jobCommit(run, tip, req.job);
      // The job's commit is on the branch already (a run after a crash): the branch's roster as it is now.
      if (found) return { commit: found, text: current, attempts: attempt - 1, found: true };
      const entry = entryOf(current, req.customer);
      if (base && entry !== base.entry) {
        throw new RosterGitError(
          `customer ${req.customer} was changed by commit ${tip.slice(0, 12)} on ${git.branch} while this change was made from ${base.commit.slice(0, 12)}; nothing was pushed: run it again on the new roster`,
        );
      }
      base ??= { commit: tip, entry };
      const text = editedText(current, req.edit);
      req.validate(text, current);
      // Nothing to change (the roster already says so): no empty commit.
      if (text === current) return { commit: tip, text, attempts: attempt - 1, found: false };
      if (attempt === 1) await req.beforeCommit?.(text);
      const commit = await commitText(run, tip, rel, text, git, `${req.subject}\n\nIntake-Job: ${req.job}\n`);
      req.onOutput?.(`roster: commit ${commit.slice(0, 12)} (${req.subject}) onto ${git.branch} ${tip.slice(0, 12)}; pushing to ${redact(git.remote)}`);
      const pushed = await run(["push", "--porcelain", git.remote, `${commit}:refs/heads/${git.branch}`]).then(
        () => true,
        (e: Error) => {
          if (/\[rejected\]|non-fast-forward|fetch first|\(stale info\)|cannot lock ref/.test(e.message)) return false;
          throw new RosterGitError(`git push ${redact(git.remote)} ${git.branch} failed, nothing was pushed: ${redact(firstLine(e.message))}`);
        },
      );
      if (pushed) {
        req.onOutput?.(`roster: pushed ${commit.slice(0, 12)} to ${git.branch}`);
        return { commit, text, attempts: attempt, found: false };
      }
      if (attempt > retries)
        throw new RosterGitError(
          `git push ${redact(git.remote)} ${git.branch} was refused ${attempt} times (other writers kept pushing first); nothing was pushed: run it again`,
        );
      req.onOutput?.(`roster: ${git.branch} moved on; applying the change again on its new tip`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random())));
    }
  } finally {
    await run(["update-ref", "-d", ref]).catch(() => {});
  }
}

/**
 * The roster as the branch holds it now (once it holds `commit`, a change pushed by this job):
 * what an `up` applies, so that an update never goes back past another writer's later change, and
 * what a change is judged against (the work tree may lag behind the branch).
 */
export async function latestRoster(git: RosterGit, rosterFile: string, commit?: string): Promise<{ commit: string; text: string }> {
  const run: Git = (args, o = {}) => gitRun(git.repoDir, args, o);
  const rel = await pathInRepo(rosterFile);
  const ref = `refs/intake/latest-${randomBytes(6).toString("hex")}`;
  try {
    await run(["fetch", ...PRIVATE_FETCH, git.remote, `+refs/heads/${git.branch}:${ref}`]);
    const tip = (await run(["rev-parse", ref])).trim();
    const holds =
      commit === undefined ||
      (await run(["merge-base", "--is-ancestor", commit, tip]).then(
        () => true,
        () => false,
      ));
    if (!holds)
      throw new RosterGitError(
        `${git.branch} no longer holds ${commit!.slice(0, 12)} (rewritten or reverted): nothing was updated; look at the branch's history`,
      );
    return { commit: tip, text: await run(["show", `${tip}:${rel}`]) };
  } catch (e) {
    if (e instanceof RosterGitError) throw e;
    throw new RosterGitError(`git: ${redact(firstLine((e as Error).message))}; nothing was updated`);
  } finally {
    await run(["update-ref", "-d", ref]).catch(() => {});
  }
}

/** Whether the branch holds a commit of job `job` (its trailer `Intake-Job`): a job run again after a crash. */
export async function jobOnBranch(git: RosterGit, job: string): Promise<boolean> {
  const run: Git = (args, o = {}) => gitRun(git.repoDir, args, o);
  const ref = `refs/intake/probe-${randomBytes(6).toString("hex")}`;
  try {
    await run(["fetch", ...PRIVATE_FETCH, git.remote, `+refs/heads/${git.branch}:${ref}`]);
    return (await jobCommit(run, ref, job)) !== "";
  } catch {
    return false;
  } finally {
    await run(["update-ref", "-d", ref]).catch(() => {});
  }
}

/** Bring the work tree up to the pushed commit when it is on that branch and can be fast-forwarded; else say so. */
export async function fastForwardWorkTree(repoDir: string, branch: string, commit: string, onOutput: (line: string) => void): Promise<void> {
  const head = await gitRun(repoDir, ["symbolic-ref", "--quiet", "--short", "HEAD"]).catch(() => "");
  if (head.trim() !== branch) return onOutput(`roster: the work tree is not on ${branch}; pull to see ${commit.slice(0, 12)}`);
  await gitRun(repoDir, ["merge", "--ff-only", "--quiet", commit]).catch(() =>
    onOutput(`roster: the work tree could not be fast-forwarded to ${commit.slice(0, 12)} (local changes?): pull when ready`),
  );
}

/** The commit on `tip`'s history whose trailer `Intake-Job` is exactly `job`, or "". */
async function jobCommit(run: Git, tip: string, job: string): Promise<string> {
  const log = await run(["log", "--fixed-strings", `--grep=Intake-Job: ${job}`, "--format=%H%x00%(trailers:key=Intake-Job,valueonly,separator=%x01)%x00", tip]);
  for (const record of log.split("\n")) {
    const [hash, trailers] = record.split("\0");
    if (hash && trailers?.split("\x01").some((v) => v.trim() === job)) return hash.trim();
  }
  return "";
}

/** The roster file's path in its repository (from its own folder, so a symlinked project works too). */
async function pathInRepo(file: string): Promise<string> {
  const dir = path.dirname(path.resolve(file));
  const prefix = (
    await gitRun(dir, ["rev-parse", "--show-prefix"]).catch(() => {
      throw new RosterGitError(`${file} is not in a git repository: set up the roster repository's clone, or unset the onboarding.git setting`);
    })
  ).trim();
  return `${prefix}${path.basename(file)}`;
}

/** A remote URL or git message without the password or token in it. */
function redact(s: string): string {
  return s.replace(/(\w+:\/\/)[^/@\s]+@/g, "$1***@");
}

/** A commit of `text` as the roster file on top of `parent`, made in a private index (the work tree is not touched). */
type Git = (args: string[], o?: { input?: string; env?: NodeJS.ProcessEnv }) => Promise<string>;

async function commitText(run: Git, parent: string, rel: string, text: string, git: RosterGit, message: string): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "intake-index-"));
  try {
    const env = { GIT_INDEX_FILE: path.join(dir, "index") };
    const mode = (await run(["ls-tree", parent, "--", rel])).split(/\s/)[0] || "100644";
    const blob = (await run(["hash-object", "-w", "--stdin"], { input: text })).trim();
    await run(["read-tree", parent], { env });
    await run(["update-index", "--cacheinfo", `${mode},${blob},${rel}`], { env });
    const tree = (await run(["write-tree"], { env })).trim();
    const who = {
      GIT_AUTHOR_NAME: git.authorName,
      GIT_AUTHOR_EMAIL: git.authorEmail,
      GIT_COMMITTER_NAME: git.authorName,
      GIT_COMMITTER_EMAIL: git.authorEmail,
    };
    return (await run(["commit-tree", tree, "-p", parent, "-F", "-"], { input: message, env: who })).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The customer's entry in a roster text, as data (to see whether another commit changed it). */
function entryOf(text: string, id: string): string {
  try {
    const doc = parse(text) as { customers?: { id?: unknown }[] } | null;
    return JSON.stringify(doc?.customers?.find((c) => c?.id === id) ?? null);
  } catch {
    return "unreadable";
  }
}

function firstLine(s: string): string {
  return s.split("\n").find((l) => l.trim() && !l.startsWith("Command failed")) ?? s.split("\n")[0];
}

/** `git -C dir args…`, its stdout; an error carries git's stderr. */
/** A git command that takes longer (a stalled fetch or push) is stopped: a job must never hang on its remote. */
const GIT_TIMEOUT_MS = Number(process.env.INTAKE_GIT_TIMEOUT_MS ?? 120_000);

function gitRun(dir: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      ["-C", dir, ...args],
      {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        timeout: GIT_TIMEOUT_MS,
        killSignal: "SIGKILL",
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", ...o.env },
      },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed)
          return reject(new Error(`git ${args[0]} took over ${GIT_TIMEOUT_MS / 1000} s and was stopped (is the remote reachable?)`));
        // stdout too: `push --porcelain` says why a ref was refused there ("[rejected] (fetch first)").
        if (err) reject(new Error(`${stderr || err.message}\n${stdout}`.trim()));
        else resolve(stdout);
      },
    );
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}
