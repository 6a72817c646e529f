import { describe, expect, it } from "vitest";
import { formatReference, parseReference } from "../../../core/reference";

const D = `sha256:${"a".repeat(64)}`;

describe("image references", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx", tag: "latest" }],
    ["nginx:1.27", { registry: "docker.io", repository: "library/nginx", tag: "1.27" }],
    ["bitnami/redis:7", { registry: "docker.io", repository: "bitnami/redis", tag: "7" }],
    ["index.docker.io/library/alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
    ["ghcr.io/org/app:v1", { registry: "ghcr.io", repository: "org/app", tag: "v1" }],
    ["127.0.0.1:5000/intake/acme/app:1.2.3", { registry: "127.0.0.1:5000", repository: "intake/acme/app", tag: "1.2.3" }],
    ["localhost/x", { registry: "localhost", repository: "x", tag: "latest" }],
    [`registry.example.com/a/b@${D}`, { registry: "registry.example.com", repository: "a/b", digest: D }],
    [`registry.example.com/a/b:v2@${D}`, { registry: "registry.example.com", repository: "a/b", tag: "v2", digest: D }],
    [
      "111122223333.dkr.ecr.eu-west-1.amazonaws.com/intake/acme/app:v1",
      { registry: "111122223333.dkr.ecr.eu-west-1.amazonaws.com", repository: "intake/acme/app", tag: "v1" },
    ],
  ])("%s", (ref, expected) => {
    expect(parseReference(ref)).toEqual(expected);
    expect(parseReference(formatReference(parseReference(ref)))).toEqual(expected);
  });

  it.each([
    ["", "is empty"],
    ["Nginx", 'path component "Nginx" must be lower-case'],
    ["registry.example.com/a//b", 'path component ""'],
    ["nginx:-bad", 'tag "-bad" must be 1-128 chars'],
    [`nginx:${"t".repeat(129)}`, "must be 1-128 chars"],
    ["nginx@sha256:abc", 'digest "sha256:abc" has 3 hex digits; a sha256 digest has 64'],
    ["nginx@md5:0123", 'digest "md5:0123" is not algorithm:hex'],
    [`nginx@sha256:${"A".repeat(64)}`, "a sha256 digest is 64 lower-case hex characters"],
    ["reg:port:bad/x", "is not a host[:port]"],
    ["registry.example.com/", "has no repository path"],
    ["a b", "may not contain white space"],
  ])("refuses %j naming the rule", (ref, rule) => {
    expect(() => parseReference(ref)).toThrow(`image reference "${ref}": `);
    expect(() => parseReference(ref)).toThrow(rule);
  });
});
