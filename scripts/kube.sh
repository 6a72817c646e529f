#!/usr/bin/env bash
# Builds the local Kubernetes parts the engine tests run the program against, from the Go module
# proxy, into .tools/kube/bin (git-ignored), and prints that folder as the last line of stdout:
#
#   etcd                        go.etcd.io/etcd/server/v3 (scripts/kube/etcd)
#   kube-apiserver              k8s.io/kubernetes/cmd/kube-apiserver (scripts/kube/cluster)
#   kube-controller-manager     k8s.io/kubernetes/cmd/kube-controller-manager (namespace, garbage
#                               collector, deployment and replicaset controllers)
#   pulumi-resource-kubernetes  the real Pulumi Kubernetes provider, github.com/pulumi/pulumi-kubernetes
#                               provider/v4 at the one release the proxy serves (see below)
#   crds/                       External Secrets Operator's CustomResourceDefinitions for the kinds the
#                               program declares (ExternalSecret, ECRAuthorizationToken, GCRAccessToken),
#                               as ESO generates them with controller-gen from its API types and ships
#                               them in its Go module (config/crds/bases)
#
# About 13 minutes cold on 2 cores; a stamp makes later runs print the folder at once.
# KUBE_REBUILD=1 forces a build. Progress goes to stderr; only the folder goes to stdout.
#
#   PATH="$(bash scripts/kube.sh | tail -n 1):$PATH"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/scripts/kube"
out="$root/.tools/kube"
bin="$out/bin"
stamp="$out/stamp"
kube_version=v1.34.4
# The proxy serves provider/v4 only as this pseudo-version: the commit of release v4.25.0.
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_pseudo=v4.0.0-20260115033456-f47bc2d6f199
provider_version=4.25.0
eso_module=github.com/external-secrets/external-secrets
eso_version=v0.16.2
crds=(external-secrets.io_externalsecrets generators.external-secrets.io_ecrauthorizationtokens generators.external-secrets.io_gcraccesstokens)
tools=(etcd kube-apiserver kube-controller-manager pulumi-resource-kubernetes)

log() { printf 'kube.sh: %s\n' "$*" >&2; }

# One build at a time: test files that start in parallel each run this; the later ones wait,
# then find the stamp of the first.
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
want="$(
  printf 'kubernetes %s\nprovider %s %s\neso %s %s\n' "$kube_version" "$provider_pseudo" "$provider_version" "$eso_version" "${crds[*]}"
  go env GOVERSION GOOS GOARCH
  cd "$src" && find . -name go.mod -o -name go.sum -o -name '*.go' | LC_ALL=C sort | xargs sha256sum
)"
has_tools() {
  local t
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
  for t in "${crds[@]}"; do [ -f "$bin/crds/$t.yaml" ] || return 1; done
}
if [ "${KUBE_REBUILD:-}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && has_tools; then
  log "up to date: Kubernetes $kube_version and pulumi-resource-kubernetes $provider_version in $bin"
  printf '%s\n' "$bin"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
mkdir -p "$out"
tmp="$(mktemp -d "$out/build.XXXXXX")"
chmod 0755 "$tmp"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
start=$SECONDS
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=34"
done

download() { # download MODULE@VERSION: prints the module's folder in the module cache
  (cd "$tmp" && GOFLAGS= go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

log "taking External Secrets Operator $eso_version's CRDs"
eso="$(download "$eso_module@$eso_version")"
mkdir -p "$tmp/crds"
for t in "${crds[@]}"; do install -m 0644 "$eso/config/crds/bases/$t.yaml" "$tmp/crds/$t.yaml"; done

log "building etcd"
(cd "$src/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)

log "building kube-apiserver and kube-controller-manager $kube_version (about 6 minutes cold)"
(cd "$src/cluster" && go build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/" ./kube-apiserver ./kube-controller-manager)

# The provider embeds a schema its own generate.go writes from schema.json before a build: a
# writable copy of the module, whose one replace line (a sibling folder of its repository) is
# dropped so the SDK module it names comes from the proxy.
log "building pulumi-resource-kubernetes $provider_version (about 7 minutes cold)"
dir="$(download "$provider_module@$provider_pseudo")"
[ -d "$dir" ] || { log "could not download $provider_module@$provider_pseudo"; exit 1; }
cp -r "$dir" "$tmp/provider"
chmod -R u+w "$tmp/provider"
(
  cd "$tmp/provider"
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4
  (cd cmd/pulumi-resource-kubernetes && VERSION="$provider_version" go run generate.go)
  go build -trimpath \
    -ldflags "-s -w -X $provider_module/pkg/version.Version=$provider_version" \
    -o "$tmp/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
)
chmod -R u+w "$tmp/provider" && rm -rf "$tmp/provider"

"$tmp/kube-apiserver" --version >&2
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
printf '%s\n' "$want" >"$stamp"
log "built in $((SECONDS - start))s: $(du -sh "$bin" | cut -f1) in $bin"
printf '%s\n' "$bin"
