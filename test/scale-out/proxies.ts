/**
 * What stands between the instances of a scale-out test and the servers they share (#17), one per instance:
 *   - `SandboxTap`: an HTTP proxy in front of the sandbox that records every request an instance makes (endpoint,
 *     start, end). Two instances whose session requests overlap in time both ran the account: `overlaps()`.
 *   - `RedisGate`: a TCP proxy in front of redis-server whose `cut()` drops the instance's connections and holds
 *     every new one unanswered (a network partition: commands wait, nothing is refused), until `heal()`.
 * Both bind 127.0.0.1, port 0, and close every socket they hold in `close()`.
 */
import { request, createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createConnection, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";

/** One request of one instance to the sandbox; `end` is unset while it is open. */
export interface Span {
  instance: string;
  endpoint: string;
  start: number;
  end?: number;
}

/** Requests that need a live session (docs/protocol.md sections 3-6), as opposed to the login poll and the QR. */
const SESSION_ENDPOINTS = /^webwx|^synccheck$/;

function listen(server: HttpServer | TcpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: HttpServer | TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The spans of every instance, kept in one place so that they can be compared. */
export class SpanLog {
  readonly spans: Span[] = [];

  /** Pairs of session requests of two instances that were open at the same time. */
  overlaps(): [Span, Span][] {
    const now = Date.now();
    const session = this.spans.filter((s) => SESSION_ENDPOINTS.test(s.endpoint));
    const found: [Span, Span][] = [];
    for (const a of session) {
      for (const b of session) {
        if (a.instance < b.instance && a.start < (b.end ?? now) && b.start < (a.end ?? now)) found.push([a, b]);
      }
    }
    return found;
  }

  /** Session requests `instance` started at or after `since`. */
  sessionRequests(instance: string, since = 0): Span[] {
    return this.spans.filter((s) => s.instance === instance && s.start >= since && SESSION_ENDPOINTS.test(s.endpoint));
  }
}

export class SandboxTap {
  private readonly server: HttpServer;
  port = 0;

  private constructor(
    readonly instance: string,
    private readonly target: number,
    private readonly log: SpanLog,
  ) {
    this.server = createHttpServer((req, res) => this.forward(req, res));
  }

  static async start(instance: string, sandboxPort: number, log: SpanLog): Promise<SandboxTap> {
    const tap = new SandboxTap(instance, sandboxPort, log);
    tap.port = await listen(tap.server);
    return tap;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const endpoint = new URL(req.url ?? "/", "http://tap").pathname.split("/").pop() ?? "";
    const span: Span = { instance: this.instance, endpoint, start: Date.now() };
    this.log.spans.push(span);
    // Open until the instance has the whole answer or its connection is gone (a SIGKILL closes it at once).
    const finish = (): void => {
      span.end ??= Date.now();
    };
    const upstream = request({ host: "127.0.0.1", port: this.target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    res.on("close", () => {
      finish();
      upstream.destroy();
    });
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await closeServer(this.server);
  }
}

export class RedisGate {
  private readonly server: TcpServer;
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private cutOff = false;
  port = 0;

  private constructor(private readonly redisPort: number) {
    this.server = createTcpServer((client) => this.accept(client));
  }

  static async start(redisPort: number): Promise<RedisGate> {
    const gate = new RedisGate(redisPort);
    gate.port = await listen(gate.server);
    return gate;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    // Cut off: the connection is accepted and held; what the client writes goes nowhere.
    if (this.cutOff) {
      client.resume();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: this.redisPort });
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Drops every connection and holds new ones unanswered, until heal(). */
  cut(): void {
    this.cutOff = true;
    for (const pair of this.pairs) pair.client.destroy();
  }

  /** Lets connections through again; the ones held while cut off are dropped, so that their clients reconnect. */
  heal(): void {
    this.cutOff = false;
    for (const pair of this.pairs) if (!pair.upstream) pair.client.destroy();
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) pair.client.destroy();
    await closeServer(this.server);
  }
}
