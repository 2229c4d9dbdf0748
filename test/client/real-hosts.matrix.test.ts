import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { promises as fs, readdirSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";

/**
 * The client suites once more against the sandbox's real-hosts mode (issue #13): TLS, the real names, the login
 * URL left at https://login.wx.qq.com, for two host families. Each family runs the suites in a child mocha with
 * WXFLOW_REAL_HOSTS set (test/client/env.ts reads it), so the suites themselves are unchanged.
 */

/** Every client suite against the sandbox (login, sync, send/upload/download, actions, two accounts, ...) but this mode's own. */
const SUITES = readdirSync(__dirname)
  .filter((name) => name.endsWith(".sandbox.test.js") && !name.startsWith("real-hosts"))
  .map((name) => join(__dirname, name));
const FAMILIES = ["wx2.qq.com", "web.wechat.com"];

interface MochaReport {
  stats: { tests: number; passes: number; failures: number; pending: number };
  failures: { fullTitle: string; err: { message?: string } }[];
}

async function runSuites(family: string, out: string): Promise<MochaReport> {
  const mocha = require.resolve("mocha/bin/mocha.js");
  const child = spawn(process.execPath, [mocha, "--no-config", "--timeout", "30000", "--enable-source-maps", "--reporter", "json", "--reporter-option", `output=${out}`, ...SUITES], {
    env: { ...process.env, WXFLOW_REAL_HOSTS: family },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  try {
    const [code] = (await once(child, "exit")) as [number | null];
    const report = JSON.parse(await fs.readFile(out, "utf8")) as MochaReport;
    assert.ok(code === 0 || report.stats.failures > 0, `mocha exited ${code}: ${stderr}`);
    return report;
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("client suites in the sandbox's real-hosts mode (login URL https://login.wx.qq.com, TLS)", function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(join(os.tmpdir(), "wxflow-real-hosts-"));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const family of FAMILIES) {
    it(`every client suite (login, sync, send/upload/download, actions, two accounts, ...) passes with page host ${family}, 0 violations`, async () => {
      assert.ok(SUITES.length >= 8, `the client suites are found (${SUITES.length})`);
      const report = await runSuites(family, join(dir, `${family}.json`));
      assert.deepEqual(
        report.failures.map((f) => `${f.fullTitle}: ${f.err.message ?? ""}`),
        [],
        `failed in the real-hosts mode (${family})`,
      );
      assert.ok(report.stats.passes >= 40, `the suites ran (${report.stats.passes} passed)`);
    });
  }
});
