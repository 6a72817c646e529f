#!/usr/bin/env bash
# Builds the Pulumi engine from Go modules, offline apart from the Go module
# proxy, into .tools/engine/bin (git-ignored), and prints that folder as the
# last line of stdout. Put it first on PATH:
#
#   PATH="$(bash scripts/engine.sh | tail -n 1):$PATH"
#
# The folder holds:
#   pulumi                          github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at the
#                                   version pinned in tools/engine/go.mod
#   pulumi-language-nodejs          tools/engine/pulumi-language-nodejs (a small host;
#                                   Pulumi's own host module is not on the proxy)
#   pulumi-resource-command         tools/engine/pulumi-resource-command (a stand-in for
#                                   command:local:Command; pulumi-command is not on the proxy)
#   pulumi-resource-pulumi-nodejs   the dynamic-provider shim shipped in sdk/v3
#   actionlint                      github.com/rhysd/actionlint/cmd/actionlint
#
# A stamp file makes later runs print the folder without building. If a
# `pulumi` on PATH is of the minor release of the @pulumi/pulumi in
# package-lock.json (the engine and the SDK move together: test/engine/versions.test.ts)
# and its folder also holds the other tools, that folder is printed instead.
# PULUMI_ENGINE_REBUILD=1 forces a build.
# Progress goes to stderr; only the folder goes to stdout.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tools/engine"
out="$root/.tools/engine"
bin="$out/bin"
stamp="$out/stamp"
actionlint_version=v1.7.12
tools=(pulumi pulumi-language-nodejs pulumi-resource-command pulumi-resource-pulumi-nodejs actionlint)

log() { printf 'engine.sh: %s\n' "$*" >&2; }

pulumi_version="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit }' "$src/go.mod")"
[ -n "$pulumi_version" ] || { log "no github.com/pulumi/pulumi/pkg/v3 requirement in $src/go.mod"; exit 1; }

# The @pulumi/pulumi version the project is locked to: an engine on PATH must be of its minor release.
sdk_version="$(node -e '
  const lock = require(process.argv[1]);
  const p = (lock.packages || {})["node_modules/@pulumi/pulumi"] || (lock.dependencies || {})["@pulumi/pulumi"] || {};
  console.log(p.version || "");
' "$root/package-lock.json" 2>/dev/null || true)"

has_tools() { # has_tools DIR: every tool is an executable in DIR
  local t
  for t in "${tools[@]}"; do [ -x "$1/$t" ] || return 1; done
}

# 1. A compatible engine already on PATH, with the other tools beside it.
if [ "${PULUMI_ENGINE_REBUILD:-}" != 1 ] && [ -n "$sdk_version" ] && command -v pulumi >/dev/null 2>&1; then
  path_dir="$(cd "$(dirname "$(command -v pulumi)")" && pwd)"
  if [ "$path_dir" != "$bin" ] && has_tools "$path_dir"; then
    path_version="$(pulumi version 2>/dev/null | tr -d '[:space:]' || true)"
    path_version="${path_version#v}"
    if [[ "$path_version" =~ ^3\.[0-9]+\.[0-9]+$ ]] && [ "${path_version%.*}" = "${sdk_version%.*}" ]; then
      log "using pulumi v$path_version already on PATH in $path_dir"
      printf '%s\n' "$path_dir"
      exit 0
    fi
  fi
fi

# One build at a time: test files that start in parallel each run this; the later ones wait,
# then find the stamp of the first.
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
# 2. A previous build of the same sources.
want="$(
  printf 'pulumi %s\nactionlint %s\n' "$pulumi_version" "$actionlint_version"
  go env GOVERSION GOOS GOARCH
  cd "$src" && find . -name go.mod -o -name go.sum -o -name '*.go' | LC_ALL=C sort | xargs sha256sum
)"
if [ "${PULUMI_ENGINE_REBUILD:-}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && has_tools "$bin"; then
  log "up to date: pulumi $pulumi_version in $bin"
  printf '%s\n' "$bin"
  exit 0
fi

# 3. Build.
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
mkdir -p "$out"
tmp="$(mktemp -d "$out/bin.tmp.XXXXXX")"
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

log "building actionlint $actionlint_version"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version"

log "building pulumi $pulumi_version, pulumi-language-nodejs and pulumi-resource-command (several minutes on 2 cores)"
(
  cd "$src"
  go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" \
    -o "$tmp/" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./pulumi-language-nodejs ./pulumi-resource-command
)

# The dynamic-provider shim (pulumi.dynamic.Resource) ships as a script in the sdk/v3 module.
sdk_dir="$(cd "$src" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$tmp/pulumi-resource-pulumi-nodejs"

"$tmp/pulumi" version >&2
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
printf '%s\n' "$want" >"$stamp"
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) in $bin"
printf '%s\n' "$bin"
