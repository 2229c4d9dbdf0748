import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** What a test server does with a request, once its body is read whole. */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** A loopback HTTP server for one test; close() drops its kept-alive connections too. */
export async function serve(handler: Handler): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
