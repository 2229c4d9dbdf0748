import type { Server } from "node:net";
import type { Socket } from "node:net";

/** Listening and closing for the sandbox's servers (its plain origin and the real-hosts TLS front). */

/** Listens on host:port (0: ephemeral) and resolves with the port it got. */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return address && typeof address === "object" ? address.port : port;
}

/** Stops listening, lets answers already written flush, then cuts every connection left. */
export async function closeServer(server: Server & { closeAllConnections(): void }, sockets: Set<Socket>): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    setImmediate(() => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    });
  });
  sockets.clear();
}
