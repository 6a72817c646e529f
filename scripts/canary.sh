#!/usr/bin/env bash
# The canary: the newest @pulumi/* packages over the lockfile, then the plan-shortcuts comparison
# test and `intake plan` of the dev and prod stacks. It tells, before a dependency update lands,
# whether the newest SDK changes the plan or leaves one of the plan's shortcuts off.
#
#   npm run canary              in a scratch copy of the tracked files (the working tree is untouched)
#   npm run canary -- --here    in this folder (CI's checkout; node_modules is changed, not package.json)
#
# "Newest" is the highest release on the registry, not the `latest` tag (@pulumi/command's
# `latest` names 1.2.1 while 4.x is out). Exit 0 when all three pass.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here=0
for a in "$@"; do
  case "$a" in
    --here) here=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'canary: unknown argument %s (--here, --help)\n' "$a" >&2; exit 2 ;;
  esac
done
log() { printf 'canary: %s\n' "$*" >&2; }

work="$root"
if [ "$here" = 0 ]; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/intake-canary.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "scratch copy in $work"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$work"

# Every @pulumi/* dependency at its highest release (a failed look-up fails the canary: an empty
# list would leave the lockfile's versions and pass without testing anything).
list="$(node -e '
  const { execFileSync } = require("node:child_process");
  const pkg = require("./package.json");
  const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => n.startsWith("@pulumi/"));
  const key = (v) => v.split(".").map(Number);
  const newer = (a, b) => { const [x, y] = [key(a), key(b)]; for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]; return false; };
  for (const name of names) {
    const versions = [].concat(JSON.parse(execFileSync("npm", ["view", name, "versions", "--json"], { encoding: "utf8" }))).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
    if (!versions.length) throw new Error(`no release of ${name} on the registry`);
    console.log(`${name}@${versions.reduce((a, b) => (newer(b, a) ? b : a))}`);
  }
')"
mapfile -t newest <<<"$list"
[ "${#newest[@]}" -gt 0 ] && [ -n "${newest[0]}" ] || { log "no @pulumi packages found in package.json"; exit 1; }
log "installing ${newest[*]}"
npm install --no-save --no-audit --no-fund --loglevel=error "${newest[@]}"
node -e 'for (const n of process.argv.slice(1)) console.error(`canary: ${n} ${require(n + "/package.json").version}`)' $(printf '%s\n' "${newest[@]}" | sed 's/@[^@]*$//')

node scripts/build.js >/dev/null
status=0
npx vitest run test/unit/planning/shortcuts.test.ts || status=1
for stack in dev prod; do
  log "intake plan --stack $stack"
  if ! out="$(node cli/bin/intake.js plan --stack "$stack" 2>&1)"; then
    printf '%s\n' "$out" >&2
    status=1
  elif grep -q 'left off' <<<"$out"; then
    grep 'left off' <<<"$out" >&2
    status=1
  else
    tail -n 3 <<<"$out" >&2
  fi
done
[ "$status" = 0 ] && log "passed" || log "FAILED: the newest @pulumi packages change the plan or leave a shortcut off"
exit "$status"
