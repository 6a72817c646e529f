// What a plan against a base commit reads from git: a file or the roster at a commit, and the
// files changed since it.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { InvalidInput } from "../core/errors";

/** A file as it was at a git ref, or undefined when it did not exist there. */
export function gitShow(projectDir: string, ref: string, file: string): string | undefined {
  const rel = gitPath(projectDir, ref, file);
  try {
    return execFileSync("git", ["-C", projectDir, "show", `${ref}:${rel}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch {
    return undefined;
  }
}

/** `file`'s path in the repository, once `ref` is known to be one of its commits. */
function gitPath(projectDir: string, ref: string, file: string): string {
  let prefix: string;
  try {
    prefix = execFileSync("git", ["-C", projectDir, "rev-parse", "--show-prefix"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    execFileSync("git", ["-C", projectDir, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { stdio: "ignore" });
  } catch {
    throw new InvalidInput(`--base ${ref}: not a commit of the git repository at ${projectDir}`);
  }
  return path.posix.join(prefix, path.relative(projectDir, path.resolve(projectDir, file)).split(path.sep).join("/"));
}

/**
 * The roster as it was at a git ref: a file's text, or for a roster folder each `*.yaml` file's
 * (read as one roster, all of them by one `git cat-file --batch`); an empty roster where it did
 * not exist.
 */
export function gitShowRoster(projectDir: string, ref: string, rosterPath: string): string | { file: string; text: string }[] {
  const text = gitShow(projectDir, ref, rosterPath);
  // `git show` of a folder prints "tree <ref>:<path>" and its entries.
  if (text === undefined || !text.startsWith(`tree ${ref}:`)) return text ?? "customers: []\n";
  const names = text
    .split("\n")
    .slice(2)
    .filter((n) => /\.ya?ml$/.test(n) && !n.startsWith("."));
  if (!names.length) return [];
  const rel = gitPath(projectDir, ref, rosterPath);
  const out = execFileSync("git", ["-C", projectDir, "cat-file", "--batch"], {
    input: names.map((n) => `${ref}:${rel}/${n}\n`).join(""),
    stdio: ["pipe", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  });
  // Each object: "<id> blob <size>\n", its bytes, "\n".
  const files: { file: string; text: string }[] = [];
  let at = 0;
  for (const n of names) {
    const eol = out.indexOf(10, at);
    const size = Number(out.subarray(at, eol).toString("utf8").split(" ")[2]);
    files.push({ file: path.join(rosterPath, n), text: out.subarray(eol + 1, eol + 1 + size).toString("utf8") });
    at = eol + 1 + size + 1;
  }
  return files;
}

/**
 * The files matching `pattern` (in the project folder) that differ between `ref` and the working
 * tree: changed or deleted since, or new and not yet committed. Names relative to the project.
 */
export function changedSince(projectDir: string, ref: string, pattern: string): Set<string> {
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", projectDir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  try {
    const diffed = git("diff", "--name-only", "--relative", ref, "--", pattern);
    const untracked = git("ls-files", "--others", "--exclude-standard", "--", pattern);
    return new Set([...diffed.split("\n"), ...untracked.split("\n")].filter(Boolean));
  } catch {
    throw new InvalidInput(`--base ${ref}: not a commit of the git repository at ${projectDir}`);
  }
}
