#!/usr/bin/env bash
# Builds the copy tools `intake deliver` drives or is measured against, from the Go module proxy,
# into .tools/copy-tools/bin (git-ignored), and prints that folder as the last line of stdout:
#   crane    github.com/google/go-containerregistry/cmd/crane (a --tool of intake deliver)
#   regctl   github.com/regclient/regclient/cmd/regctl (a peer in `npm run bench -- fanout`)
# A stamp makes later runs print the folder without building. Progress goes to stderr.
#
#   PATH="$(bash scripts/copy-tools.sh | tail -n 1):$PATH"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crane_version=v0.22.1
regctl_version=v0.11.7
out="$root/.tools/copy-tools"
bin="$out/bin"
stamp="$out/stamp"
want="crane $crane_version regctl $regctl_version $(go env GOVERSION GOOS GOARCH | tr '\n' ' ')"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/crane" ] && [ -x "$bin/regctl" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$out"
tmp="$(mktemp -d "$out/bin.tmp.XXXXXX")"
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false" GOBIN="$tmp"
printf 'copy-tools.sh: building crane %s and regctl %s\n' "$crane_version" "$regctl_version" >&2
go install -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@$crane_version"
go install -trimpath -ldflags "-s -w" "github.com/regclient/regclient/cmd/regctl@$regctl_version"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
printf '%s' "$want" > "$stamp"
printf '%s\n' "$bin"
