// The registry client's transport (runtime/delivery/http.ts) against local servers: what the
// client relies on from fetch, and that a certificate is still checked.
import { createServer as createHttps } from "node:https";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeFetch } from "../../../../runtime/registry/transport";
import { makeKeyPair } from "../../../../testing/e2e";
import { tempDir } from "../../../../testing/tmp";

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  server: Server = createServer(),
  scheme = "http",
): Promise<{ url: string; close: () => Promise<void>; sockets: () => number }> {
  let sockets = 0;
  server.on("connection", () => sockets++);
  server.on("request", handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    sockets: () => sockets,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const body = (req: IncomingMessage) =>
  new Promise<Buffer>((r) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => r(Buffer.concat(chunks)));
  });

describe("the registry client's transport", () => {
  it("sends method, headers and body, reads status, headers and body, and keeps one connection for many requests", async () => {
    const s = await serve(async (req, res) => {
      const got = await body(req);
      const answer = Buffer.from(
        JSON.stringify({ method: req.method, auth: req.headers.authorization ?? null, body: got.toString(), length: req.headers["content-length"] ?? null }),
      );
      // As a registry answers, HEAD included: with the length.
      res.writeHead(req.method === "PUT" ? 201 : 200, {
        "content-type": "application/json",
        "docker-content-digest": "sha256:x",
        "content-length": String(answer.length),
      });
      res.end(req.method === "HEAD" ? undefined : answer);
    });
    try {
      const put = await nodeFetch(`${s.url}/v2/a/manifests/1`, {
        method: "PUT",
        headers: { authorization: "Bearer t", "content-type": "application/json" },
        body: Buffer.from("{}"),
      });
      expect([put.status, put.ok, put.headers.get("docker-content-digest")]).toEqual([201, true, "sha256:x"]);
      expect(await put.json()).toEqual({ method: "PUT", auth: "Bearer t", body: "{}", length: "2" });
      const head = await nodeFetch(`${s.url}/v2/a/manifests/1`, { method: "HEAD" });
      expect([head.status, head.body]).toEqual([200, null]);
      // A POST without a body says so (length 0).
      expect(await (await nodeFetch(`${s.url}/v2/a/blobs/uploads/`, { method: "POST" })).json()).toMatchObject({ body: "", length: "0" });
      for (let i = 0; i < 5; i++) await (await nodeFetch(`${s.url}/v2/a/tags/list`)).arrayBuffer();
      expect(s.sockets()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it("streams a large body both ways (a blob passed from one repository into another's upload)", async () => {
    const blob = Buffer.alloc(3 * 1024 * 1024, 7);
    const s = await serve(async (req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-length": String(blob.length) });
        return void res.end(blob);
      }
      const got = await body(req);
      res.writeHead(201, { "content-type": "text/plain" });
      res.end(String(got.equals(blob)));
    });
    try {
      const get = await nodeFetch(`${s.url}/v2/a/blobs/sha256:1`);
      const put = await nodeFetch(`${s.url}/v2/b/blobs/uploads/u?digest=sha256:1`, {
        method: "PUT",
        headers: { "content-length": String(blob.length) },
        body: get.body,
        duplex: "half",
      } as RequestInit);
      expect(await put.text()).toBe("true");
    } finally {
      await s.close();
    }
  });

  it("follows a GET's redirect, and drops the credential only when it leads to another origin; a PUT's is not followed", async () => {
    const echo = (req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    const storage = await serve(echo);
    const registry = await serve((req, res) => {
      if (req.url === "/there") return echo(req, res);
      res.writeHead(307, { location: req.url === "/v2/a/blobs/near" ? "/there" : `${storage.url}/bucket/blob` });
      res.end();
    });
    const auth = { headers: { authorization: "Bearer t" } };
    try {
      expect(await (await nodeFetch(`${registry.url}/v2/a/blobs/far`, auth)).json()).toEqual({ path: "/bucket/blob", auth: null });
      const near = await nodeFetch(`${registry.url}/v2/a/blobs/near`, auth);
      expect(await near.json()).toEqual({ path: "/there", auth: "Bearer t" });
      expect(near.url).toBe(`${registry.url}/there`);
      expect((await nodeFetch(`${registry.url}/v2/a/blobs/far`, { method: "PUT", body: "x" })).status).toBe(307);
    } finally {
      await Promise.all([storage.close(), registry.close()]);
    }
  });

  it("fails as fetch fails: a TypeError 'fetch failed' with the network error as its cause", async () => {
    const s = await serve((_req, res) => res.end());
    const { url } = s;
    await s.close();
    const e = await nodeFetch(`${url}/v2/`).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TypeError);
    expect(e).toMatchObject({ message: "fetch failed", cause: { code: "ECONNREFUSED" } });
  });

  it("checks a server's certificate", async () => {
    const pair = makeKeyPair(tempDir("tls-"));
    const s = await serve((_req, res) => res.end("{}"), createHttps({ key: readFileSync(pair.key), cert: readFileSync(pair.cert) }), "https");
    try {
      const e = await nodeFetch(`${s.url}/v2/`).catch((x: unknown) => x);
      expect(e).toMatchObject({ message: "fetch failed", cause: { code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/) } });
    } finally {
      await s.close();
    }
  });
});
