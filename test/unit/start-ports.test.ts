/** #16.6: `npm start` with its port taken moves to the next free one and says so; PORT= / SANDBOX_PORT= decide. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { createRequire } from "node:module";
import * as path from "node:path";
import { repoRoot } from "../support/node-red";

type ChoosePort = (envName: string, preferred: number, avoid: number | undefined, options: { env: Record<string, string>; log: (line: string) => void }) => Promise<number>;
const { choosePort } = createRequire(__filename)(path.join(repoRoot(), "scripts", "ports.js")) as { choosePort: ChoosePort };

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => resolve(server));
  });
}
const portOf = (server: Server): number => (server.address() as { port: number }).port;
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe("npm start ports (#16.6)", function () {
  it("keeps the usual port when it is free, and says nothing", async function () {
    const probe = await listen();
    const port = portOf(probe);
    await close(probe);
    const said: string[] = [];
    assert.equal(await choosePort("PORT", port, undefined, { env: {}, log: (l) => said.push(l) }), port);
    assert.deepEqual(said, []);
  });

  it("moves past a taken port (and the one to avoid) to a free one, and prints it", async function () {
    const taken = await listen();
    const port = portOf(taken);
    try {
      const said: string[] = [];
      const chosen = await choosePort("PORT", port, port + 1, { env: {}, log: (l) => said.push(l) });
      assert.ok(chosen > port + 1 && chosen < port + 20, String(chosen));
      assert.deepEqual(said, [`npm start: port ${port} is taken; using ${chosen} (set PORT= to choose)`]);
      const check = await listen(chosen); // it is free indeed
      await close(check);
    } finally {
      await close(taken);
    }
  });

  it("takes the port the environment names as it is", async function () {
    assert.equal(await choosePort("SANDBOX_PORT", 1881, undefined, { env: { SANDBOX_PORT: "2999" }, log: () => undefined }), 2999);
  });
});
