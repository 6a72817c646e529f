import { InvalidInput } from "./errors";
/**
 * Image references as docker and the OCI distribution spec read them:
 * `[registry/]path[:tag][@digest]`, with Docker Hub defaults (`docker.io`, `library/`, `latest`).
 */
export interface ImageReference {
  /** Registry host[:port], e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/nginx`, `intake/acme/app`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>` (or another registered algorithm). */
  digest?: string;
}

/** An image reference that breaks the distribution spec's grammar (not JavaScript's ReferenceError). */
export class ImageReferenceError extends InvalidInput {
  constructor(
    readonly reference: string,
    rule: string,
  ) {
    super(`image reference "${reference}": ${rule}`);
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export function parseReference(ref: string): ImageReference {
  const input = ref.trim();
  if (!input) throw new ImageReferenceError(ref, "is empty");
  if (/\s/.test(input)) throw new ImageReferenceError(ref, "may not contain white space");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      const sha = /^sha256:([0-9a-f]*)$/.exec(digest);
      throw new ImageReferenceError(
        ref,
        sha
          ? `digest "${digest}" has ${sha[1].length} hex digits; a sha256 digest has 64 (a short digest such as docker prints cannot be pulled by)`
          : `digest "${digest}" is not algorithm:hex, e.g. sha256:<64 hex>`,
      );
    }
    if (digest.startsWith("sha256:") && !/^sha256:[a-f0-9]{64}$/.test(digest))
      throw new ImageReferenceError(ref, "a sha256 digest is 64 lower-case hex characters");
  }
  // A first component with a dot or a colon, or `localhost`, is a registry host.
  const slash = rest.indexOf("/");
  let registry = "docker.io";
  let path = rest;
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[")) {
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  let tag: string | undefined;
  const colon = path.lastIndexOf(":");
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageReferenceError(ref, `tag "${tag}" must be 1-128 chars of [A-Za-z0-9_.-], not starting with '.' or '-'`);
  }
  if (!HOST.test(registry)) throw new ImageReferenceError(ref, `registry "${registry}" is not a host[:port]`);
  if (!path) throw new ImageReferenceError(ref, "has no repository path");
  if (path.length > 255) throw new ImageReferenceError(ref, "repository path is longer than 255 characters");
  for (const c of path.split("/")) {
    if (!COMPONENT.test(c)) throw new ImageReferenceError(ref, `path component "${c}" must be lower-case [a-z0-9] runs joined by '.', '_', '__' or '-'`);
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && !path.includes("/")) path = `library/${path}`;
  if (!tag && !digest) tag = "latest";
  return { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The canonical string form: `registry/repository[:tag][@digest]`. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** The host to talk HTTP to: Docker Hub's API lives at registry-1.docker.io. */
export function apiHost(r: ImageReference): string {
  return r.registry === "docker.io" ? "registry-1.docker.io" : r.registry;
}
