import * as net from "node:net";

/**
 * Refuse every outgoing TCP connection that is not to the loopback interface. Installed in each worker before any
 * client is loaded, so a client that ignores the sandbox URL (wechat4u derives hosts from redirect_uri) fails loudly
 * instead of reaching a real WeChat host.
 */
export function installLoopbackGuard(): void {
  const proto = net.Socket.prototype as unknown as { connect: (...args: unknown[]) => net.Socket };
  const original = proto.connect;
  proto.connect = function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
    const host = targetHost(args);
    if (host !== undefined && !isLoopback(host)) {
      const error = new Error(`bench: refused a connection to ${host} (only loopback is allowed)`);
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return original.apply(this, args);
  };
}

function targetHost(args: unknown[]): string | undefined {
  let first = args[0];
  // net internals call connect([options, cb]) through normalizeArgs in some paths.
  if (Array.isArray(first)) first = first[0];
  if (typeof first === "object" && first !== null) {
    const options = first as { host?: unknown; path?: unknown };
    if (typeof options.path === "string") return undefined; // a local socket
    return typeof options.host === "string" ? options.host : "localhost";
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    return typeof args[1] === "string" ? args[1] : "localhost";
  }
  return undefined; // a pipe path
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || h.startsWith("127.") || h === "::ffff:127.0.0.1";
}
