import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Duplex } from "node:stream";

/**
 * Where the client's connections go, for a test server playing the real WeChat hosts (the sandbox's real-hosts
 * mode): URLs, Host headers and TLS names stay the real ones (https://login.wx.qq.com, wx2.qq.com, ...); only the
 * socket is opened to another address, and the server certificate is checked against `ca`.
 */
export interface Transport {
  /**
   * The address a connection to `host`:`port` really opens. Undefined refuses the name: the request fails
   * (code ETRANSPORT), nothing is resolved through DNS. Called for every new connection.
   */
  connect(host: string, port: number): { host: string; port: number } | undefined;
  /** Certificate authorities the server certificates are checked against (instead of the system's). */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * How the name connect() returned is resolved (default: the system's resolver, which an IP address skips). Tests
   * put a failing one here to see a DNS failure without a network (#16.2).
   */
  lookup?: net.LookupFunction;
}

/** Refused by the transport: no connection was opened, so nothing was sent. */
function refused(host: string): Error {
  return Object.assign(new Error(`the transport does not route ${host}`), { code: "ETRANSPORT" });
}

type Callback = (err: Error | null, stream: Duplex) => void;

/**
 * Opens the connection for a request where the transport routes its host, with `open`; a name the transport
 * refuses fails through the agent's callback (code ETRANSPORT), never thrown synchronously and never resolved.
 */
function routed(transport: Transport, options: http.ClientRequestArgs, defaultPort: number, callback: Callback | undefined, open: (to: { host: string; port: number }, name: string) => Duplex): Duplex | undefined {
  const name = String(options.host ?? options.hostname ?? "");
  const to = transport.connect(name, Number(options.port ?? defaultPort));
  if (to !== undefined) return open(to, name);
  const error = refused(name);
  if (callback) process.nextTick(() => (callback as (err: Error | null) => void)(error));
  return undefined;
}

class RoutedHttpsAgent extends https.Agent {
  constructor(private readonly transport: Transport) {
    super({ keepAlive: true, maxSockets: 8 });
  }

  override createConnection(options: https.RequestOptions, callback?: Callback): Duplex | null | undefined {
    // The TLS name stays the real one (SNI and certificate check); only the socket goes elsewhere. No SNI for an IP.
    const { ca, lookup } = this.transport;
    return routed(this.transport, options, 443, callback, (to, name) =>
      tls.connect({
        ...(options as tls.ConnectionOptions),
        host: to.host,
        port: to.port,
        servername: net.isIP(name) ? "" : name,
        ...(ca !== undefined ? { ca } : {}),
        ...(lookup !== undefined ? { lookup } : {}),
      }),
    );
  }
}

class RoutedHttpAgent extends http.Agent {
  constructor(private readonly transport: Transport) {
    super({ keepAlive: true, maxSockets: 8 });
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    const lookup = this.transport.lookup;
    return routed(this.transport, options, 80, callback, (to) => net.connect({ host: to.host, port: to.port, ...(lookup !== undefined ? { lookup } : {}) }));
  }
}

/** Keep-alive agents of one client: the plain ones, or ones that open every connection where `transport` says. */
export function agentsFor(transport: Transport | undefined): { http: http.Agent; https: https.Agent } {
  if (!transport) return { http: new http.Agent({ keepAlive: true, maxSockets: 8 }), https: new https.Agent({ keepAlive: true, maxSockets: 8 }) };
  return { http: new RoutedHttpAgent(transport), https: new RoutedHttpsAgent(transport) };
}
