/**
 * A small reverse proxy on 127.0.0.1 in front of the sandbox, for what the sandbox's own faults cannot show:
 * it counts every call per endpoint with its time (load on "the server"), and it can let the server do the work
 * and then lose the answer (the server has processed the call, the client never hears back).
 * The sandbox's origin in answers (redirect_uri) is rewritten to the proxy's, so the whole session goes through it.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ProxyCall {
  endpoint: string;
  time: number;
}

export class CountingProxy {
  readonly calls: ProxyCall[] = [];
  /** endpoint -> how many answers still to lose after the server handled the call. */
  private readonly lose = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `count` calls of `endpoint` reach the server, but their answers are dropped (socket destroyed). */
  loseAnswers(endpoint: string, count = 1): void {
    this.lose.set(endpoint, (this.lose.get(endpoint) ?? 0) + count);
  }

  count(endpoint: string, since = 0): number {
    return this.calls.filter((c) => c.endpoint === endpoint && c.time >= since).length;
  }

  /** Most calls of `endpoint` seen in any window of `windowMs`. */
  peakRate(endpoint: string, windowMs = 1_000): number {
    const times = this.calls.filter((c) => c.endpoint === endpoint).map((c) => c.time);
    let best = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] ?? 0) - (times[j] ?? 0) >= windowMs) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.forward(req, res));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const endpoint = new URL(req.url ?? "/", "http://x").pathname.split("/").pop() ?? "";
    this.calls.push({ endpoint, time: Date.now() });
    const pending = this.lose.get(endpoint) ?? 0;
    const dropAnswer = pending > 0;
    if (dropAnswer) this.lose.set(endpoint, pending - 1);
    const target = new URL(this.target);
    const headers = { ...req.headers, host: target.host };
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          if (dropAnswer) {
            res.socket?.destroy();
            return;
          }
          const body = Buffer.from(Buffer.concat(chunks).toString("latin1").split(this.target).join(this.url), "latin1");
          const out = { ...answer.headers };
          delete out["content-length"];
          delete out["transfer-encoding"];
          res.writeHead(answer.statusCode ?? 502, { ...out, "content-length": String(body.length) });
          res.end(body);
        });
        answer.on("error", () => res.socket?.destroy());
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    req.pipe(upstream);
    res.on("close", () => upstream.destroy());
  }
}
