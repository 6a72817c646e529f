#!/usr/bin/env bash
# Puts Node.js of one release line (default 22) into .tools/node/<line> (git-ignored), from the npm
# registry's `node` package (its binary ships inside a registry package), and prints the folder
# holding `node` as the last line of stdout. Put it first on PATH:
#
#   PATH="$(bash scripts/node.sh 22 | tail -n 1):$PATH"
#
# The project runs on Node 22 and 24 (package.json `engines`). An install of the same line is
# reused; progress goes to stderr. npm's own scripts start with `#!/usr/bin/env node`, so the
# machine's npm runs on this node once the folder is first on PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
line="${1:-22}"
[[ "$line" =~ ^[0-9]+$ ]] || { printf 'node.sh: the release line is a major version such as 22, not %s\n' "$line" >&2; exit 2; }
dir="$root/.tools/node/$line"
bin="$dir/node_modules/.bin"

if [ -x "$bin/node" ] && [ "$("$bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$line" ]; then
  printf '%s\n' "$bin"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { printf 'node.sh: npm is not on PATH: install Node.js with npm first (any line; it only fetches node@%s)\n' "$line" >&2; exit 1; }
printf 'node.sh: installing node@%s from the npm registry into %s\n' "$line" "$dir" >&2
mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{ "private": true }\n' >"$dir/package.json"
npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$line" >&2
"$bin/node" --version >&2
printf '%s\n' "$bin"
