import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { SandboxClient } from "../support/sandbox";

describe("sandbox: wx-sandbox CLI", () => {
  it("prints its URLs, serves, and stops cleanly on SIGTERM", async () => {
    const bin = join(__dirname, "..", "..", "bin", "wx-sandbox.js");
    const child = spawn(process.execPath, [bin, "--port", "0", "--contacts", "7", "--seed", "3"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /phone page: (http:\/\/[^\s]+)\/phone/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/);
      const world = await new SandboxClient(url).world();
      assert.equal(world.seed, 3);
      assert.equal(world.counts.friends, 7 + 1);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code] = await exited;
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
