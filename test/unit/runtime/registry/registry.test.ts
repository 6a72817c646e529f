// The registry client's layers on their own: auth (challenges, tokens asked once per scope and
// reused where their scope covers), manifests (what an index or an image names) and errors.
import { describe, expect, it } from "vitest";
import { parseChallenge, RegistryAuth } from "../../../../runtime/registry/auth";
import { manifestParts } from "../../../../runtime/registry/manifests";
import { readLimited, RegistryError, TokenRefused } from "../../../../runtime/registry/errors";

/** A registry at `r.test` behind a token endpoint, answering from the fetch calls alone; every request is logged. */
function registry(o: { refuseToken?: boolean } = {}) {
  const log: string[] = [];
  const fetchImpl = (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const auth = new Headers(init.headers).get("authorization") ?? "";
    log.push(`${init.method ?? "GET"} ${url.pathname}${url.search} ${auth.split(" ")[0] || "-"}`);
    if (url.pathname === "/token") {
      if (o.refuseToken) return new Response("", { status: 401 });
      return Response.json({ token: `t:${url.searchParams.getAll("scope").join(" ")}`, expires_in: 300 });
    }
    if (!auth.startsWith("Bearer "))
      return new Response("", {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="https://r.test/token",service="r.test",scope="repository:${url.pathname.split("/")[2]}:pull"` },
      });
    return new Response("", { status: 404 });
  }) as typeof fetch;
  return { log, auth: new RegistryAuth({ username: "u", password: "p" }, fetchImpl) };
}

describe("registry auth", () => {
  it("reads a Bearer challenge; anything else is none", () => {
    expect(parseChallenge('Bearer realm="https://r.test/token",service="r.test",scope="repository:a:pull"')).toEqual({
      realm: "https://r.test/token",
      service: "r.test",
      scope: "repository:a:pull",
    });
    expect(parseChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseChallenge("Bearer service=x")).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });

  it("one challenge per host, then tokens first; a push token serves a pull of the same repository; concurrent requests share one token request", async () => {
    const { log, auth } = registry();
    await auth.request("r.test", "/v2/a/tags/list", { method: "GET", repository: "a", actions: "pull" });
    expect(log).toEqual(["GET /v2/a/tags/list -", "GET /token?service=r.test&scope=repository%3Aa%3Apull Basic", "GET /v2/a/tags/list Bearer"]);
    log.length = 0;
    await Promise.all([1, 2, 3].map(() => auth.request("r.test", "/v2/b/blobs/uploads/", { method: "POST", repository: "b", actions: "pull,push" })));
    expect(log.filter((l) => l.startsWith("GET /token"))).toEqual(["GET /token?service=r.test&scope=repository%3Ab%3Apull%2Cpush Basic"]);
    expect(log.filter((l) => l.startsWith("POST"))).toEqual(Array(3).fill("POST /v2/b/blobs/uploads/ Bearer"));
    log.length = 0;
    await auth.request("r.test", "/v2/b/manifests/1", { method: "HEAD", repository: "b", actions: "pull" });
    expect(log).toEqual(["HEAD /v2/b/manifests/1 Bearer"]);
    expect(auth.tokenRequests).toBe(2);
  });

  it("a token endpoint refusing the credential is TokenRefused, before any registry request but the first look", async () => {
    const { log, auth } = registry({ refuseToken: true });
    await expect(auth.authorize("r.test", "a", "pull")).rejects.toBeInstanceOf(TokenRefused);
    expect(log).toEqual(["GET /v2/ -", "GET /token?service=r.test&scope=repository%3Aa%3Apull Basic"]);
  });
});

describe("registry manifests and bodies", () => {
  const bytes = (doc: unknown) => Buffer.from(JSON.stringify(doc));
  it("an index names its children with their platforms; an image its config and stored layers (foreign ones left out)", () => {
    const child = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:c", size: 10, platform: { architecture: "arm64", os: "linux" } };
    expect(manifestParts({ bytes: bytes({ manifests: [child] }), mediaType: "application/vnd.oci.image.index.v1+json" })).toEqual({
      children: [child],
      blobs: [],
    });
    const image = {
      config: { digest: "sha256:cfg", size: 2 },
      layers: [
        { digest: "sha256:l1", size: 5 },
        { digest: "sha256:win", size: 9, urls: ["https://example.com/l"] },
      ],
    };
    expect(manifestParts({ bytes: bytes(image), mediaType: "application/vnd.oci.image.manifest.v1+json" }).blobs).toEqual([
      { digest: "sha256:cfg", size: 2 },
      { digest: "sha256:l1", size: 5 },
    ]);
    expect(() => manifestParts({ bytes: bytes({}), mediaType: "" })).toThrow(RegistryError);
  });

  it("a body is read up to its bound and no further", async () => {
    expect(await readLimited(new Response("12345"), 5)).toEqual(Buffer.from("12345"));
    expect(await readLimited(new Response("123456"), 5)).toBeUndefined();
    expect(await readLimited(new Response("123", { headers: { "content-length": "99" } }), 5)).toBeUndefined();
  });
});
