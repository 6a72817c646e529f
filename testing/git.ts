// Real git for the tests: a command in a folder, and a project folder made a clone of a bare remote.
import { spawnSync } from "node:child_process";
import { tempDir } from "./tmp";

/** `git -C dir …` with a test identity, its stdout; a failure throws with git's stderr. */
export function git(dir: string, ...args: string[]): string {
  const r = spawnSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Make `dir` (its files as they are) a repository on main whose remote `origin` is a new bare one (file://); returns the remote's folder. */
export function withBareRemote(dir: string): string {
  const remote = tempDir("roster-remote-");
  git(remote, "init", "--quiet", "--bare", "--initial-branch=main");
  git(dir, "init", "--quiet", "--initial-branch=main");
  git(dir, "add", "-A");
  git(dir, "commit", "--quiet", "-m", "the roster");
  git(dir, "remote", "add", "origin", `file://${remote}`);
  git(dir, "push", "--quiet", "origin", "main");
  return remote;
}
