import { createServer, request, type IncomingMessage, type Server } from "node:http";

type Verdict = "pass" | "reset";

export interface ProxyHooks {
  /** Decide per request: pass it on, or drop the connection as a dying registry does. */
  before?: (req: IncomingMessage) => Verdict;
  /** Answer a request here instead of the upstream (e.g. an API the upstream lacks). */
  respond?: (req: IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string } | undefined;
  /** Change the upstream's answer headers (e.g. a lying Docker-Content-Digest). */
  headers?: (req: IncomingMessage, headers: Record<string, string | string[] | undefined>) => void;
}

/**
 * An HTTP proxy in front of a registry on loopback: counts the bytes clients send (request
 * lines, headers and bodies), lets a test drop or alter requests, and can be pointed at a new
 * upstream port (a restarted registry). An upstream that refuses drops the client's connection.
 */
export class RegistryProxy {
  bytesIn = 0;
  requests = 0;
  hooks: ProxyHooks = {};
  private server?: Server;

  /**
   * `tokenPort`: requests for /token go to this port instead (the token service behind the
   * registry's own host:port, as one ingress serves both; crane refuses a realm on another
   * private address).
   */
  constructor(
    public upstreamPort: number,
    public tokenPort?: number,
  ) {}

  async listen(): Promise<number> {
    this.server = createServer((req, res) => {
      this.requests++;
      req.on("data", (c: Buffer) => (this.bytesIn += c.length));
      this.bytesIn += Buffer.byteLength(`${req.method} ${req.url} HTTP/1.1\r\n`) + req.rawHeaders.reduce((n, h) => n + Buffer.byteLength(h) + 2, 0) + 2;
      if (this.hooks.before?.(req) === "reset") {
        req.resume();
        req.socket.destroy();
        return;
      }
      const own = this.hooks.respond?.(req);
      if (own) {
        req.resume();
        res.writeHead(own.status, own.headers);
        res.end(own.body);
        return;
      }
      const port = this.tokenPort !== undefined && /^\/token(\?|$)/.test(req.url ?? "") ? this.tokenPort : this.upstreamPort;
      const up = request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        const headers = { ...ur.headers };
        this.hooks.headers?.(req, headers);
        res.writeHead(ur.statusCode ?? 502, headers);
        ur.pipe(res);
      });
      up.on("error", () => req.socket.destroy());
      req.pipe(up);
    });
    return new Promise((resolve) => this.server!.listen(0, "127.0.0.1", () => resolve((this.server!.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
