/**
 * A real Node-RED (child process, settings.js, flow file) running the echo flow against the sandbox:
 * - admin routes with adminAuth: anonymous and read-only users may not see the QR/state or log the account out;
 * - a realistic run through faults, a full redeploy, a redeploy of one node, of the receiving node alone, two deploys at once, Node-RED stopped
 *   mid-stream and started again, a session end with push login: every message answered exactly once;
 * - then ALL of its output (console log with debug msgs, flow files, session file, admin answers) is searched for
 *   every secret the sandbox issued.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium } from "playwright-core";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { leakedIn, sandboxSecrets } from "./harness";
import { ACCOUNT_ID, echoFlow } from "./red-flow";
import { CommsClient, RedProcess, assembleNodes } from "./red-process";
import { summary } from "./suite";

const CLIENT_TUNING = {
  timeouts: { requestMs: 3_000, syncCheckMs: 2_500, loginPollMs: 2_500 },
  retryDelayMs: 20,
  loginBackoffMs: 50,
  sync: { backoffMs: 50, maxBackoffMs: 400, throttledMs: 200 },
  sendQueue: { cooldownMs: 100, maxCooldownMs: 500 },
};

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

declare const RED: { nodes?: { node(id: string): unknown } };

interface World {
  sb: Sandbox;
  dir: string;
  red: RedProcess;
}

async function setUp(users: boolean): Promise<World> {
  const sb = await startSandbox({ longPollMs: 400, contacts: 20, groups: 3, throttle: false, skeyRotateEvery: 5 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wxflow-rel-red-"));
  const userDir = path.join(dir, "user");
  fs.mkdirSync(userDir);
  const nodesDir = assembleNodes(path.join(dir, "nodes"));
  const red = new RedProcess({
    userDir,
    nodesDir,
    settings: { wxAccountClientTuning: CLIENT_TUNING },
    ...(users
      ? {
          users: [
            { username: "admin", password: "admin-pass-1", permissions: "*" },
            { username: "viewer", password: "viewer-pass-1", permissions: "read" },
          ],
        }
      : {}),
  });
  red.writeFlows(echoFlow(sb.url));
  return { sb, dir, red };
}

async function tearDown(world: World | undefined): Promise<void> {
  if (!world) return;
  await world.red.stop();
  await world.sb.close();
  fs.rmSync(world.dir, { recursive: true, force: true });
}

/** Scan the account's QR on the sandbox phone; resolves when the session is live on the server. */
async function scanIn(sb: Sandbox): Promise<void> {
  const login = await sb.control.waitForLogin({ timeoutMs: 20_000 });
  const online = new Promise<void>((resolve) => {
    const on = (e: { online: boolean }): void => {
      if (!e.online) return;
      sb.events.off("session", on);
      resolve();
    };
    sb.events.on("session", on);
  });
  sb.control.scan({ uuid: login.uuid });
  await online;
}

describe("reliability: a real Node-RED with adminAuth", function () {
  this.timeout(60_000);
  let world: World | undefined;

  after(async () => tearDown(world));

  it("anonymous and read-only users can neither see the QR/state nor log the account out; the admin can", async () => {
    world = await setUp(true);
    const { red, sb } = world;
    await red.start();
    await sb.control.waitForLogin({ timeoutMs: 20_000 });
    const viewer = await red.login("viewer", "viewer-pass-1", "read");
    const admin = await red.login("admin", "admin-pass-1");
    const routes: [string, string][] = [
      ["GET", `/wx-account/${ACCOUNT_ID}/state`],
      ["GET", `/wx-account/${ACCOUNT_ID}/contacts`],
      ["POST", `/wx-account/${ACCOUNT_ID}/qr`],
      ["POST", `/wx-account/${ACCOUNT_ID}/logout`],
    ];
    const problems: string[] = [];
    for (const [method, route] of routes) {
      const anonymous = await red.api(method, route);
      // Node-RED answers 401 both to no token and to a token without the permission.
      if (anonymous.status !== 401) problems.push(`anonymous ${method} ${route}: ${anonymous.status} (want 401)`);
      const readOnly = await red.api(method, route, { token: viewer });
      if (readOnly.status !== 401 && readOnly.status !== 403) problems.push(`read-only ${method} ${route}: ${readOnly.status} (want 401/403)${/qr/.test(readOnly.text) ? ", the answer holds the QR" : ""}`);
    }
    // The editor's comms channel reaches every editor user, read-only ones too: it says that the state changed and
    // never carries the QR; the dialog fetches the QR through the guarded state route.
    const topic = `wx-account/${ACCOUNT_ID}/state`;
    const isWaiting = (m: { topic: string; data: unknown }): boolean => m.topic === topic && JSON.stringify(m.data).includes("waiting-scan");
    const comms = { admin: new CommsClient(), viewer: new CommsClient(), anonymous: new CommsClient() };
    try {
      await comms.admin.connect(red.url, admin, topic);
      await comms.viewer.connect(red.url, viewer, topic);
      await comms.anonymous.connect(red.url, undefined, topic);
      await comms.admin.next(isWaiting, 10_000);
      // The same retained message reaches every subscriber at once: give the others the same chance.
      await Promise.allSettled([comms.viewer.next(isWaiting, 1_000), comms.anonymous.next(isWaiting, 1_000)]);
      for (const [who, client] of Object.entries(comms)) {
        const pushed = JSON.stringify(client.messages);
        if (pushed.includes("data:image/png") || pushed.includes("login.weixin.qq.com/l/")) problems.push(`${who} receives the QR over the editor comms websocket`);
      }
    } finally {
      for (const c of Object.values(comms)) c.close();
    }
    const state = await red.api("GET", `/wx-account/${ACCOUNT_ID}/state`, { token: admin });
    assert.equal(state.status, 200);
    const view = JSON.parse(state.text) as { state: string; qr?: string; qrUrl?: string };
    assert.equal(view.state, "waiting-scan");
    assert.match(view.qr ?? "", /^data:image\/png;base64,/, "the admin sees the QR");
    const qr = await red.api("POST", `/wx-account/${ACCOUNT_ID}/qr`, { token: admin });
    assert.equal(qr.status, 200, qr.text);
    const logout = await red.api("POST", `/wx-account/${ACCOUNT_ID}/logout`, { token: admin });
    assert.equal(logout.status, 200, `the admin may log the account out: ${logout.text}`);
    summary.add({ scenario: "node-red: adminAuth routes", faults: 0, sent: 0, received: 0, lost: 0, duplicated: 0, note: `${problems.length} permission problems` });
    assert.deepEqual(problems, [], "permission problems");
  });
});

describe("reliability: what a read-only editor user sees of a logged-in account (#14.6)", function () {
  this.timeout(60_000);
  let world: World | undefined;

  after(async () => tearDown(world));

  it("node status reaches every editor user, so it says online without the account's nickname", async () => {
    world = await setUp(true);
    const { red, sb } = world;
    await red.start();
    const viewer = await red.login("viewer", "viewer-pass-1", "read");
    const comms = new CommsClient();
    try {
      await comms.connect(red.url, viewer, "status/#");
      await scanIn(sb);
      const isOnline = (m: { topic: string; data: unknown }): boolean => m.topic.startsWith("status/") && /online/.test(JSON.stringify(m.data));
      const online = await comms.next(isOnline, 20_000);
      assert.match(JSON.stringify(online.data), /"fill":"green"/);
      const nickName = sb.control.world().accounts[0]?.nickName ?? "";
      assert.ok(nickName.length > 0);
      assert.ok(!JSON.stringify(comms.messages).includes(nickName), `the read-only user's status feed names the account: ${JSON.stringify(online.data)}`);
    } finally {
      comms.close();
    }
    summary.add({ scenario: "node-red: read-only status", faults: 0, sent: 0, received: 0, lost: 0, duplicated: 0, note: "online, no nickname" });
  });

  it("in Chromium, a read-only user logged in to the editor sees 'online' under the nodes, never the nickname", async () => {
    assert.ok(world, "the previous test logged the account in");
    const { red, sb } = world;
    const nickName = sb.control.world().accounts[0]?.nickName ?? "";
    assert.ok(nickName.length > 0);
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${red.url}/`);
      // The editor's own login dialog, as a person signs in.
      await page.fill("#node-dialog-login-username", "viewer");
      await page.fill("#node-dialog-login-password", "viewer-pass-1");
      await page.click("#node-dialog-login-submit");
      await page.waitForFunction(() => typeof RED !== "undefined" && RED.nodes?.node("recv") !== null && RED.nodes?.node("recv") !== undefined, undefined, { timeout: 30_000 });
      const labels = (): Promise<string[]> =>
        page.$$eval(".red-ui-flow-node-status-label", (els) => els.map((e) => e.textContent ?? "").filter((t) => t !== ""));
      await page.waitForFunction(
        `(function () { var el = document.querySelector("#recv .red-ui-flow-node-status-label"); return !!el && /online/.test(el.textContent); })()`,
        undefined,
        { timeout: 20_000 },
      );
      const shown = await labels();
      assert.ok(shown.length >= 2, `status labels of the wx nodes: ${JSON.stringify(shown)}`);
      const workspace = (await page.textContent("#red-ui-workspace")) ?? "";
      assert.ok(!workspace.includes(nickName), `the read-only user's canvas names the account: ${JSON.stringify(shown)}`);
      assert.ok(shown.every((t) => !t.includes(nickName)), JSON.stringify(shown));
    } finally {
      await browser.close();
    }
  });
});

describe("reliability: a realistic Node-RED run, then a search for secrets", function () {
  this.timeout(120_000);
  let world: World | undefined;

  after(async () => tearDown(world));

  it("answers every message exactly once through faults, redeploys and a restart, and leaks no secret", async () => {
    world = await setUp(false);
    const { red, sb, dir } = world;
    const secrets = new Set<string>();
    const sample = (): void => void sandboxSecrets({ sb }, secrets);
    for (const event of ["sent", "session", "login-state", "login"] as const) sb.events.on(event, sample);

    const injected: string[] = [];
    /** Injected just before a deploy / stop: may be inside the flow when it stops (see the echo check). */
    const racing = new Set<string>();
    let n = 0;
    let faults = 0;
    const friends = sb.control
      .world()
      .contacts.filter((c) => c.kind === "friend" && !/[<>&"']|span/.test(c.nickName))
      .slice(0, 2)
      .map((c) => c.nickName);
    assert.equal(friends.length, 2);
    const inject = (count: number, beforeStop = false): void => {
      for (let i = 0; i < count; i++) {
        const text = `nr ${++n}`;
        sb.control.inject({ from: friends[n % 2] ?? "", text });
        injected.push(text);
        if (beforeStop) racing.add(text);
        sample();
      }
    };
    /** What wx-receive put out: the debug node prints each complete msg to the console. */
    const received = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const hit of red.output.matchAll(/\[debug:dbgIn\] \n\{\n {2}payload: 'nr (\d+)'/g)) counts.set(`nr ${hit[1]}`, (counts.get(`nr ${hit[1]}`) ?? 0) + 1);
      return counts;
    };
    const echoed = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const r of sb.control.sent()) if (r.text?.startsWith("echo nr ")) counts.set(r.text.slice(5), (counts.get(r.text.slice(5)) ?? 0) + 1);
      return counts;
    };
    /**
     * Echoes whose send was reported SEND_UNCERTAIN to Catch (its answer lost: reported with the ClientMsgId, never
     * resent): reported, not lost. Read from the Catch debug node's complete msgs.
     */
    const uncertain = (): Set<string> => {
      const out = new Set<string>();
      for (const block of red.output.split("[debug:dbgErr]").slice(1)) {
        const end = block.indexOf("\n}\n");
        const body = end >= 0 ? block.slice(0, end) : block;
        const hit = /payload: 'echo (nr \d+)'/.exec(body);
        if (hit?.[1] && body.includes("code: 'SEND_UNCERTAIN'") && /clientMsgId: '\d{17}'/.test(body)) out.add(hit[1]);
      }
      return out;
    };
    const settled = (): boolean => {
      const ins = received();
      const outs = echoed();
      const unsure = uncertain();
      return injected.every((t) => ins.has(t) && (racing.has(t) || outs.has(t) || unsure.has(t)));
    };
    const allEchoed = async (what: string): Promise<void> => {
      if (settled()) return;
      await new Promise<void>((resolve, reject) => {
        const on = (): void => {
          if (!settled()) return;
          finish();
          resolve();
        };
        const finish = (): void => {
          clearTimeout(timer);
          sb.events.off("sent", on);
          red.offOutput(on);
        };
        const timer = setTimeout(() => {
          finish();
          if (process.env.WXFLOW_REL_DUMP) fs.writeFileSync(process.env.WXFLOW_REL_DUMP, red.output);
          const log = red.output.split("\n").filter((l) => /\[(info|warn|error)\] \[(?!debug)/.test(l)).slice(-30).join("\n");
          const ins = received();
          const outs = echoed();
          const unsure = uncertain();
          const missing = injected.filter((t) => !ins.has(t) || (!racing.has(t) && !outs.has(t) && !unsure.has(t)));
          reject(new Error(`${what}: not every message was received and answered: ${missing.slice(0, 5).map((t) => `${t}${ins.has(t) ? " (received)" : ""}`).join(", ")}\n${log}`));
        }, 30_000);
        sb.events.on("sent", on);
        red.onOutput(on);
      });
    };
    /** Deploy, then wait until Node-RED says the flows (or the modified nodes) started again. */
    const deploy = async (type: "full" | "nodes", flows: unknown[]): Promise<void> => {
      const mark = red.output.length;
      const started = red.waitForOutput(type === "full" ? /Started flows/ : /Started modified nodes/, 20_000, mark);
      const res = await red.api("POST", "/flows", { body: flows, headers: { "Node-RED-Deployment-Type": type } });
      assert.ok(res.status === 200 || res.status === 204, `deploy ${type}: ${res.status} ${res.text}`);
      await started;
    };

    await red.start();
    // An editor watching everything Node-RED pushes: the debug sidebar (complete msgs), states, statuses.
    const editor = new CommsClient();
    await editor.connect(red.url, undefined, ["debug", "wx-account/#", "status/#", "notification/#"]);
    await scanIn(sb);
    inject(6);
    await allEchoed("first messages");

    for (const fault of [
      { endpoint: "synccheck", kind: "500" as const },
      { endpoint: "webwxsync", kind: "reset" as const },
      { endpoint: "webwxsync", kind: "truncated" as const },
      { endpoint: "webwxsendmsg", kind: "500" as const },
    ]) {
      sb.control.fault(fault);
      faults++;
      inject(2);
    }
    await allEchoed("after faults");

    const flows = echoFlow(sb.url);
    inject(3, true);
    await deploy("full", flows);
    faults++;
    inject(3);
    await allEchoed("after a full redeploy");

    const changed = flows.map((node) => (node.id === "send" ? { ...node, name: "out (changed)" } : node));
    inject(2, true);
    await deploy("nodes", changed);
    faults++;
    inject(2);
    await allEchoed("after redeploying one node");

    // The receiving node alone: the account runs on for the sending one, and what arrives between the old receiver's
    // close and the new one's start waits for the new one (shared/account.ts, the gap).
    const recvOnly = changed.map((node) => (node.id === "recv" ? { ...node, name: "in (alone)" } : node));
    inject(2, true);
    await deploy("nodes", recvOnly);
    faults++;
    inject(2);
    await allEchoed("after redeploying the receiving node alone");

    inject(2, true);
    // Both nodes that use the account redeployed: the account has no user for a moment, stops, resumes.
    const both = recvOnly.map((node) => (node.id === "recv" ? { ...node, name: "in (changed)" } : node.id === "send" ? { ...node, name: "out (again)" } : node));
    inject(2, true);
    await deploy("nodes", both);
    faults++;
    inject(2);
    await allEchoed("after redeploying every node of the account");

    const mark = red.output.length;
    await Promise.all([deploy("full", flows), deploy("full", changed)]);
    await red.waitForOutput(/Started flows[\s\S]*Started flows/, 20_000, mark);
    faults += 2;
    inject(3);
    await allEchoed("after two deploys at once");

    // Stopped mid-stream, messages queued while down, started again from the saved session.
    inject(4, true);
    await red.stop();
    faults++;
    inject(4);
    await red.start();
    await allEchoed("after a Node-RED restart");
    assert.equal(sb.control.logins().filter((l) => l.state === "done").length, 1, "the restart resumed the session: no new login");

    // A crash (SIGKILL) mid-stream: nothing may be lost; a message handled but not yet saved may come twice.
    inject(4, true);
    await red.stop("SIGKILL");
    faults++;
    inject(3);
    await red.start();
    await allEchoed("after a crash (SIGKILL)");
    const crashWindow = injected.slice(-7);

    sb.control.expireSession({ code: 1101 });
    faults++;
    const pushed = await sb.control.waitForLogin({ timeoutMs: 20_000 });
    assert.equal(pushed.push, true, "a push login after the session ended");
    sb.control.confirm({ uuid: pushed.uuid });
    inject(3);
    await allEchoed("after a session end and push login");
    sample();

    const ins = received();
    const outs = echoed();
    const lost = injected.filter((t) => !ins.has(t)).length;
    const duplicatedAfterCrash = crashWindow.reduce((t, m) => t + Math.max(0, (ins.get(m) ?? 0) - 1), 0);
    const duplicated = [...ins.values()].reduce((t, c) => t + c - 1, 0) - duplicatedAfterCrash;
    const doubleAnswers = [...outs.values()].reduce((t, c) => t + c - 1, 0);
    const unsure = uncertain();
    const unanswered = injected.filter((t) => !outs.has(t) && !unsure.has(t));
    summary.add({
      scenario: "node-red: redeploys, restart, 1101",
      faults,
      sent: [...outs.values()].reduce((t, c) => t + c, 0),
      received: ins.size,
      lost,
      duplicated: duplicated + duplicatedAfterCrash,
      note: `${injected.length} injected; ${unsure.size} echo reported SEND_UNCERTAIN; ${unanswered.length} in flight in the flow at a stop/deploy not answered; ${duplicatedAfterCrash} doubled by the crash`,
    });
    assert.equal(lost, 0, "every message came out of wx-receive");
    assert.equal(duplicated, 0, "no message came out of wx-receive twice");
    assert.equal(doubleAnswers - duplicatedAfterCrash, 0, "no message answered twice (except what a crash may repeat)");
    assert.deepEqual(unanswered.filter((t) => !racing.has(t)), [], "every message not racing a deploy was answered or reported SEND_UNCERTAIN");
    assert.ok(unsure.size <= 1, `only the send that met the fault is uncertain (${[...unsure].join(", ")})`);
    assert.deepEqual([...unsure].filter((t) => (outs.get(t) ?? 0) > 1), [], "an uncertain send was never resent");
    assert.doesNotMatch(red.output, /Uncaught Exception|Unhandled rejection|UnhandledPromiseRejection/i, "Node-RED saw no crash");

    // ---- the secret watch ----
    const state = await red.api("GET", `/wx-account/${ACCOUNT_ID}/state`);
    const contacts = await red.api("GET", `/wx-account/${ACCOUNT_ID}/contacts`);
    const userDir = path.join(dir, "user");
    const files: Record<string, Buffer> = {};
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory() && e.name !== "node_modules" && e.name !== "lib") walk(p);
        else if (e.isFile()) files[path.relative(userDir, p)] = fs.readFileSync(p);
      }
    };
    walk(userDir);
    const sessionFiles = Object.keys(files).filter((f) => f.endsWith(".session"));
    assert.equal(sessionFiles.length, 1, `one session file: ${Object.keys(files).join(", ")}`);
    const sessionPath = path.join(userDir, sessionFiles[0] ?? "");
    assert.equal(fs.statSync(sessionPath).mode & 0o777, 0o600, "the session file is 0600");
    assert.equal(fs.statSync(path.dirname(sessionPath)).mode & 0o077, 0, "its folder is private");
    assert.ok(secrets.size >= 8, `secrets collected from the sandbox: ${secrets.size}`);
    assert.ok(red.output.includes("echo nr"), "the debug output (complete msgs) is part of what is searched");
    editor.close();
    assert.ok(editor.messages.some((m) => m.topic === "debug"), "the editor's debug sidebar was watched");
    const places: Record<string, string> = {
      "Node-RED console output (log, debug msgs, errors)": red.output,
      "editor comms (debug sidebar, states, statuses; first run only)": JSON.stringify(editor.messages),
      "admin state answer": state.text,
      "admin contacts answer": contacts.text,
    };
    for (const [name, bytes] of Object.entries(files)) places[`file ${name}`] = bytes.toString("latin1") + bytes.toString("utf8");
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(places)) {
      const found = leakedIn(text, secrets);
      if (found.length > 0) leaks.push(`${where}: ${found.join(", ")}`);
    }
    assert.deepEqual(leaks, [], "secrets found in the output");
  });
});
