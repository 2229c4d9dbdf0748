import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { sendText } from "./http";
import { closeServer, listenOn } from "./listener";
import { SandboxError } from "./types";

/**
 * The real-hosts mode: the sandbox answers the names of the WeChat servers (login.wx.qq.com, wx2.qq.com,
 * webpush.web.wechat.com, ...) over TLS, with a certificate from a CA generated when the mode starts. A client
 * reaches it through a connect override that sends those names to this port (see README.md, "Real hosts").
 */

/** The page hosts of every family (docs/protocol.md section 1). */
export const FAMILIES = ["wx.qq.com", "wx2.qq.com", "wx8.qq.com", "web.wechat.com", "web2.wechat.com"] as const;
export type Family = (typeof FAMILIES)[number];

/** What a host name serves: login (QR, polls), page (every API call), push (synccheck), file (upload, getmedia). */
export type HostRole = "login" | "page" | "push" | "file";

export interface RealHost {
  role: HostRole;
  family: Family;
}

/** The old login host name the official client still answers (docs/protocol.md section 1). */
const LEGACY_LOGIN = "login.weixin.qq.com";

/** The role and family of a WeChat host name, or undefined for a name the sandbox does not play. */
export function realHostOf(hostname: string): RealHost | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  if (name === LEGACY_LOGIN) return { role: "login", family: "wx.qq.com" };
  for (const family of FAMILIES) {
    if (name === family) return { role: "page", family };
    if (name === `login.${family}`) return { role: "login", family };
    if (name === `webpush.${family}`) return { role: "push", family };
    if (name === `file.${family}`) return { role: "file", family };
  }
  return undefined;
}

/** Every name the mode answers (the certificate's subject alternative names). */
export function realHostNames(): string[] {
  return [LEGACY_LOGIN, ...FAMILIES.flatMap((f) => [f, `login.${f}`, `webpush.${f}`, `file.${f}`])];
}

/** The host an endpoint belongs on; the rest go to the page host (docs/protocol.md section 1). */
const ENDPOINT_ROLES: Record<string, HostRole> = {
  jslogin: "login",
  qrcode: "login",
  login: "login",
  synccheck: "push",
  webwxuploadmedia: "file",
  webwxgetmedia: "file",
};

export function roleOfEndpoint(endpoint: string): HostRole {
  return ENDPOINT_ROLES[endpoint] ?? "page";
}

/** The domain the cross-host cookies (webwx_data_ticket, webwxuvid, webwx_auth_ticket) are set for. */
export function cookieDomainOf(family: Family): string {
  return family.endsWith("qq.com") ? ".qq.com" : ".wechat.com";
}

export interface RealHostsOptions {
  /** Page host each account's logins are sent to (redirect_uri), by account index, cycling. Default wx.qq.com. */
  pageHosts?: Family[];
  /** Port of the TLS listener (default ephemeral). */
  port?: number;
}

/** What a client needs to reach the mode: the port every real name goes to, and the CA to trust. */
export interface RealHostsInfo {
  port: number;
  /** The CA certificate (PEM) the server certificate is issued by. */
  ca: string;
  names: string[];
}

/**
 * A client transport (lib/wechat ClientOptions.transport) for the mode: every real name to `address`:port, the CA
 * trusted; any other name or port refused, so a test never resolves a WeChat name through DNS.
 */
export function realHostsTransport(info: RealHostsInfo, address = "127.0.0.1"): { connect: (host: string, port: number) => { host: string; port: number } | undefined; ca: string } {
  const names = new Set(info.names);
  return {
    connect: (host, port) => (names.has(host.toLowerCase()) && port === 443 ? { host: address, port: info.port } : undefined),
    ca: info.ca,
  };
}

export interface Certificates {
  ca: string;
  key: string;
  cert: string;
}

/**
 * A CA and a server certificate issued by it for every real name. Generated once per sandbox, when the mode
 * starts (EC keys: milliseconds), never on a normal start; selfsigned is loaded only then too.
 */
export async function generateCertificates(names: string[]): Promise<Certificates> {
  const { generate } = await import("selfsigned");
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600 * 1000);
  const ca = await generate([{ name: "commonName", value: "wxflow sandbox CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: "commonName", value: names[0] ?? "wx.qq.com" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { ca: ca.cert, key: leaf.private, cert: leaf.cert };
}

/** A request that came through the TLS front: the real host name it was sent to and what that host serves. */
export interface FrontRequest extends RealHost {
  hostname: string;
}

export type FrontHandler = (req: IncomingMessage, res: ServerResponse, front: FrontRequest) => void;

/**
 * The TLS listener of the mode. A request is served only when its Host header names a real host and matches the
 * name the TLS handshake asked for (SNI); anything else gets 421, as a virtual-host front does. The control API and
 * the phone page stay on the sandbox's plain origin.
 */
export class TlsFront {
  private server: Server | undefined;
  private certificates: Certificates | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly names = realHostNames();

  constructor(
    private readonly handler: FrontHandler,
    private port: number,
  ) {}

  get info(): RealHostsInfo {
    if (!this.certificates || !this.server) throw new SandboxError("CLOSED", "the real-hosts mode is not listening");
    return { port: this.port, ca: this.certificates.ca, names: [...this.names] };
  }

  async listen(host: string): Promise<void> {
    this.certificates ??= await generateCertificates(this.names);
    const server = createServer({ key: this.certificates.key, cert: this.certificates.cert }, (req, res) => this.serve(req, res));
    server.keepAliveTimeout = 5_000;
    server.on("secureConnection", (socket: TLSSocket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    // A client that does not trust the CA ends the handshake: nothing to answer.
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    this.port = await listenOn(server, this.port, host);
    this.server = server;
  }

  /** Closes the listener and every connection (the sandbox answers its held polls first). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeServer(server, this.sockets);
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const hostname = (req.headers.host ?? "").replace(/:443$/, "").toLowerCase();
    const sni = (req.socket as TLSSocket).servername;
    const real = realHostOf(hostname);
    if (!real || typeof sni !== "string" || sni.toLowerCase() !== hostname) {
      req.resume();
      sendText(res, 421, "Misdirected Request", "text/plain");
      return;
    }
    this.handler(req, res, { hostname, ...real });
  }
}
