#!/usr/bin/env bash
# Builds crane (github.com/google/go-containerregistry/cmd/crane) from the Go module proxy into
# .tools/crane/bin (git-ignored) and prints that folder as the last line of stdout. A stamp makes
# later runs print the folder without building. Progress goes to stderr.
#
#   PATH="$(bash scripts/crane.sh | tail -n 1):$PATH"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version=v0.22.1
out="$root/.tools/crane"
bin="$out/bin"
stamp="$out/stamp"
want="crane $version $(go env GOVERSION GOOS GOARCH | tr '\n' ' ')"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/crane" ]; then
  printf '%s\n' "$bin"
  exit 0
fi

mkdir -p "$out"
tmp="$(mktemp -d "$out/bin.tmp.XXXXXX")"
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
printf 'crane.sh: building crane %s\n' "$version" >&2
CGO_ENABLED=0 GOFLAGS="-buildvcs=false" GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@$version"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
printf '%s' "$want" > "$stamp"
printf '%s\n' "$bin"
