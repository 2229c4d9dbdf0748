import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkServerIdentity } from "node:tls";
import { SandboxApiError, SandboxClient } from "../support/sandbox";

describe("sandbox: wx-sandbox CLI", () => {
  it("prints its URLs, serves, and stops cleanly on SIGTERM", async () => {
    const bin = join(__dirname, "..", "..", "bin", "wx-sandbox.js");
    const child = spawn(process.execPath, [bin, "--port", "0", "--contacts", "7", "--seed", "3"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      const [url, token] = await new Promise<[string, string]>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /phone page: (http:\/\/[^\s]+)\/phone#token=(\S+)\n[^]*control token \(header X-Sandbox-Token\): (\S+)\n/.exec(out);
          if (m?.[1] && m[2] && m[2] === m[3]) resolve([m[1], m[2]]);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/);
      await assert.rejects(new SandboxClient(url).world(), (e: SandboxApiError) => e.status === 401);
      const world = await new SandboxClient(url, token).world();
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

  it("--real-hosts: serves the real names over TLS on its own port and writes the CA a client must trust", async () => {
    const bin = join(__dirname, "..", "..", "bin", "wx-sandbox.js");
    const dir = await mkdtemp(join(tmpdir(), "wxflow-cli-"));
    const caFile = join(dir, "ca.pem");
    const child = spawn(process.execPath, [bin, "--port", "0", "--contacts", "3", "--real-hosts", "web.wechat.com", "--ca-out", caFile], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /TLS on 127\.0\.0\.1:(\d+); CA: /.exec(out);
          if (m?.[1] && /connect these names there: .*webpush\.web\.wechat\.com/.test(out)) resolve(Number(m[1]));
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const ca = await readFile(caFile, "utf8");
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          { host: "127.0.0.1", port, path: "/jslogin?appid=wx782c26e4c19acffb&fun=new", servername: "login.wx.qq.com", headers: { host: "login.wx.qq.com" }, ca, agent: false, checkServerIdentity: (_h, cert) => checkServerIdentity("login.wx.qq.com", cert) },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () => resolve(text));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.match(body, /window\.QRLogin\.code = 200/);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      assert.equal((await exited)[0], 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--no-token turns the token off for scripts; on loopback no network warning is printed", async () => {
    const bin = join(__dirname, "..", "..", "bin", "wx-sandbox.js");
    const child = spawn(process.execPath, [bin, "--port", "0", "--no-token", "--contacts", "3"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    try {
      let out = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /phone page: (http:\/\/[^\s]+)\/phone\n[^]*control token: off/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      assert.equal((await new SandboxClient(url).world()).counts.friends, 3 + 1);
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
      assert.doesNotMatch(err, /warning/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
