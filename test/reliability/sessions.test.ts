/**
 * Session ends (1100 / 1101 / 1102) at every stage, and server back-pressure (1205): a typed state event,
 * push login, then QR, never a zombie loop, no unhandled rejection; 1205 slows the client down instead of
 * hammering. Calls are counted at the client (onRequest) and, for rates, at a proxy in front of the sandbox.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import { isWeChatError } from "../../lib/wechat/errors";
import { loginByQr, startEnv, stateNames, uuidOf, waitForState, type Env } from "../client/env";
import { assertNoViolations, injectInto, pickChats, waitAllArrived } from "./harness";
import { Ledger } from "./ledger";
import { CountingProxy } from "./proxy";
import { summary, watchUnhandledRejections } from "./suite";

const SECRET = "sessions secret";
const TUNING = {
  timeouts: { requestMs: 2_000, syncCheckMs: 1_500, loginPollMs: 2_000 },
  retryDelayMs: 10,
  loginBackoffMs: 30,
  sync: { backoffMs: 20, maxBackoffMs: 200, throttledMs: 300 },
  sendQueue: { cooldownMs: 300, maxCooldownMs: 1_000, maxRetries: 3, maxIntervalMs: 1_000 },
};
const SENDS = 6;
const SYNC_CALLS = new Set(["synccheck", "webwxsync"]);

describe("reliability: session ends and back-pressure", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  let env: Env | undefined;
  let proxy: CountingProxy | undefined;

  afterEach(async () => {
    await env?.close();
    await proxy?.close();
    env = undefined;
    proxy = undefined;
  });

  it("1100, 1101 and 1102 during sync: typed state, push login, online again; no sync call after the end", async () => {
    env = await startEnv({ longPollMs: 300 });
    const { client, rec } = env.newClient({ tuning: TUNING });
    await loginByQr(env, client);
    const ledger = new Ledger();
    client.on("message", (m) => (m.type === "status" ? undefined : ledger.observe(m.id)));
    for (const code of [1100, 1101, 1102] as const) {
      const ended = waitForState(client, (s) => s.state === "logged-out", 10_000, `logged-out ${code}`);
      env.sb.control.expireSession({ code });
      const state = await ended;
      assert.equal(state.code, code, "the state carries the server's code");
      assert.ok(state.message, "and a reason");
      const mark = rec.calls.length;
      await waitForState(client, (s) => s.state === "push-login", 10_000, "push-login");
      const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
      assert.equal(login.push, true, "a push login, not a QR");
      env.sb.control.confirm({ uuid: login.uuid });
      await waitForState(client, (s) => s.state === "online", 10_000, "online again");
      const between = rec.calls.slice(mark, rec.calls.indexOf("webwxinit", mark));
      assert.deepEqual(between.filter((c) => SYNC_CALLS.has(c)), [], `no sync call of the dead session (${between.join(",")})`);
      const chats = pickChats(env, client, 2);
      for (const chat of chats) injectInto(env, ledger, chat, `after ${code} ${chat.key}`);
      await waitAllArrived(client, ledger, 10_000);
    }
    assert.equal(rec.states.filter((s) => s.state === "waiting-scan").length, 1, "only the first login needed a QR");
    assert.equal(ledger.duplicated, 0);
    summary.add({ scenario: "client: 1100/1101/1102 in sync", faults: 3, sent: 0, received: ledger.received, lost: ledger.lost, duplicated: ledger.duplicated, note: "push login each time" });
    assertNoViolations(env);
  });

  it("1101 answered by webwxsync itself (not synccheck): the same typed end, push login, no call of the dead session", async () => {
    env = await startEnv({ longPollMs: 300 });
    const { client, rec } = env.newClient({ tuning: TUNING });
    await loginByQr(env, client);
    const ended = waitForState(client, (s) => s.state === "logged-out", 10_000, "logged-out");
    env.sb.control.fault({ endpoint: "webwxsync", kind: "ret", ret: 1101, count: 1 });
    const chats = pickChats(env, client, 1);
    const ledger = new Ledger();
    for (const chat of chats) injectInto(env, ledger, chat, "wakes the sync");
    assert.equal((await ended).code, 1101);
    const mark = rec.calls.length;
    await waitForState(client, (s) => s.state === "push-login", 10_000, "push-login");
    const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
    const syncsBefore = rec.calls.slice(mark).filter((c) => SYNC_CALLS.has(c)).length;
    assert.equal(syncsBefore, 0, "no sync call after the end");
    env.sb.control.confirm({ uuid: login.uuid });
    await waitForState(client, (s) => s.state === "online", 10_000);
    summary.add({ scenario: "client: 1101 from webwxsync", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: "push login" });
  });

  it("two accounts side by side: one session ends, the other carries on; nothing crosses over", async () => {
    env = await startEnv({ longPollMs: 300 });
    const a = env.newClient({ sessionFile: path.join(env.dir, "a.session"), sessionSecret: SECRET, tuning: TUNING });
    const b = env.newClient({ sessionFile: path.join(env.dir, "b.session"), sessionSecret: SECRET, tuning: TUNING });
    await loginByQr(env, a.client, 0);
    await loginByQr(env, b.client, 1);
    assert.notEqual(a.client.state.user?.uin, b.client.state.user?.uin, "two different accounts");
    const ledgerA = new Ledger();
    const ledgerB = new Ledger();
    a.client.on("message", (m) => (m.type === "status" ? undefined : ledgerA.observe(m.id)));
    b.client.on("message", (m) => (m.type === "status" ? undefined : ledgerB.observe(m.id)));
    const chatsA = pickChats(env, a.client, 2);
    const endedB = waitForState(b.client, (s) => s.state === "logged-out", 10_000, "b logged out");
    const bUin = b.client.state.user?.uin;
    env.sb.control.expireSession({ code: 1101, ...(bUin !== undefined ? { account: bUin } : {}) });
    for (let i = 0; i < 3; i++) for (const chat of chatsA) injectInto(env, ledgerA, chat, `only for a ${i} ${chat.key}`);
    await endedB;
    await waitAllArrived(a.client, ledgerA, 10_000);
    assert.equal(a.client.state.state, "online", "a is not affected by b's end");
    assert.equal(ledgerA.duplicated + ledgerA.strangers, 0);
    assert.equal(ledgerB.received + ledgerB.strangers, 0, "b saw none of a's messages");
    assert.ok(!b.rec.messages.some((m) => m.text.startsWith("only for a")), "nothing crossed over");
    summary.add({ scenario: "client: two accounts", faults: 1, sent: 0, received: ledgerA.received, lost: ledgerA.lost, duplicated: ledgerA.duplicated, note: "isolated" });
  });

  it("without push login the session end goes on to a QR, and the QR poll does not spin", async () => {
    env = await startEnv({ longPollMs: 300, pushLogin: false });
    const { client, rec } = env.newClient({ tuning: TUNING });
    await loginByQr(env, client);
    env.sb.control.expireSession({ code: 1101 });
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan", 10_000, "a QR");
    const t0 = Date.now();
    const mark = rec.calls.length;
    // Watch the QR long poll for a while (the time a login poll takes, waited on the sandbox's own event).
    await assert.rejects(env.sb.control.waitForSent(() => false, { timeoutMs: 1_200 }), /nothing|TIMEOUT|time/i);
    const polls = rec.calls.slice(mark).filter((c) => c === "login").length;
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(polls / seconds < 10, `login polls are long polls, not a spin: ${polls} in ${seconds.toFixed(1)} s`);
    assert.equal(rec.calls.slice(mark).filter((c) => SYNC_CALLS.has(c)).length, 0, "no sync calls while waiting for a scan");
    env.sb.control.scan({ uuid: uuidOf(waiting) });
    await waitForState(client, (s) => s.state === "online");
    summary.add({ scenario: "client: 1101, push login off", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: `${polls} login polls in ${seconds.toFixed(1)} s` });
  });

  it("1101 at webwxinit: a warning naming 1101, a fresh QR, one init per attempt", async () => {
    env = await startEnv({ longPollMs: 300 });
    const { client, rec } = env.newClient({ tuning: TUNING });
    env.sb.control.fault({ endpoint: "webwxinit", kind: "ret", ret: 1101, count: 1 });
    client.start();
    const first = await waitForState(client, (s) => s.state === "waiting-scan");
    const again = waitForState(client, (s) => s.state === "waiting-scan" && s.qrUrl !== first.qrUrl, 10_000, "a fresh QR");
    env.sb.control.scan({ uuid: uuidOf(first) });
    const second = await again;
    assert.ok(rec.warns.some((w) => /1101/.test(w)), `the failure is reported: ${rec.warns.join(" | ")}`);
    assert.equal(rec.calls.filter((c) => c === "webwxinit").length, 1, "no init loop");
    env.sb.control.scan({ uuid: uuidOf(second) });
    await waitForState(client, (s) => s.state === "online");
    summary.add({ scenario: "client: 1101 at init", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: "new QR" });
  });

  it("1102 at the ticket step: no refusal for good; a warning naming 1102, then a fresh QR by itself", async () => {
    env = await startEnv({ longPollMs: 300 });
    const { client, rec } = env.newClient({ tuning: TUNING });
    env.sb.control.fault({ endpoint: "webwxnewloginpage", kind: "ret", ret: 1102, count: 1 });
    client.start();
    const waiting = await waitForState(client, (s) => s.state === "waiting-scan");
    const states: string[] = [];
    client.on("state", (s) => states.push(s.state));
    const fresh = waitForState(client, (s) => s.state === "waiting-scan" && s.qrUrl !== waiting.qrUrl);
    env.sb.control.scan({ uuid: uuidOf(waiting) });
    const next = await fresh;
    assert.ok(!states.includes("refused"), `a dead ticket is not a refusal (states: ${states.join(", ")})`);
    assert.ok(rec.warns.some((w) => /1102/.test(w)), "the warning names 1102");
    assert.equal(rec.calls.filter((c) => c === "webwxnewloginpage").length, 1, "one ticket call, no retry loop on the dead ticket");
    env.sb.control.scan({ uuid: uuidOf(next) });
    await waitForState(client, (s) => s.state === "online");
    summary.add({ scenario: "client: 1102 at tickets", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: "new QR by itself" });
  });

  it("1101 while sending: the send fails typed, the session ends, later sends fail NOT_LOGGED_IN", async () => {
    env = await startEnv({ longPollMs: 300 });
    const { client } = env.newClient({ tuning: TUNING });
    await loginByQr(env, client);
    const sentBefore = env.sb.control.sent().length;
    const ended = waitForState(client, (s) => s.state === "logged-out");
    env.sb.control.expireSession({ code: 1101 });
    await assert.rejects(client.sendText("filehelper", "into a dead session"), (e: unknown) => isWeChatError(e, "SESSION_EXPIRED") && e.ret === 1101);
    assert.equal((await ended).code, 1101);
    await assert.rejects(client.sendText("filehelper", "while logged out"), (e: unknown) => isWeChatError(e, "NOT_LOGGED_IN"));
    assert.equal(env.sb.control.sent().length, sentBefore, "nothing was sent");
    summary.add({ scenario: "client: 1101 at send", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: "typed errors" });
  });

  it("a saved session that expired while the bot was down: resume fails once, push login takes over", async () => {
    env = await startEnv({ longPollMs: 300 });
    const sessionFile = path.join(env.dir, "expired.session");
    const first = env.newClient({ sessionFile, sessionSecret: SECRET, tuning: TUNING });
    await loginByQr(env, first.client);
    await first.client.stop();
    env.sb.control.expireSession({ code: 1101 });
    const second = env.newClient({ sessionFile, sessionSecret: SECRET, tuning: TUNING });
    second.client.start();
    await waitForState(second.client, (s) => s.state === "push-login", 10_000, "push-login");
    const login = await env.sb.control.waitForLogin({ timeoutMs: 5_000 });
    env.sb.control.confirm({ uuid: login.uuid });
    await waitForState(second.client, (s) => s.state === "online");
    assert.deepEqual(
      stateNames(second.rec),
      ["resuming", "push-login", "logging-in", "online"],
    );
    assert.ok(second.rec.calls.filter((c) => c === "webwxgetcontact").length <= 3, "the dead session is tried once, not in a loop");
    summary.add({ scenario: "client: expired while down", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: "push login" });
  });

  it("a 1205 storm: the send queue slows down and says so, without hammering the server", async () => {
    env = await startEnv({ longPollMs: 300, throttle: { burst: 4, refillPerSecond: 2 } });
    proxy = new CountingProxy(env.sb.url);
    await proxy.start();
    const { client, rec } = env.newClient({ loginUrl: proxy.url, pacing: { perMinute: 600, burst: 10 }, tuning: TUNING });
    await loginByQr(env, client);
    const t0 = Date.now();
    let firstThrottle = 0;
    client.on("warn", (w) => {
      if (!firstThrottle && /1205/.test(w)) firstThrottle = Date.now();
    });
    // The sandbox's own token bucket plus a run of 1205 answers on top.
    env.sb.control.fault({ endpoint: "webwxsendmsg", kind: "ret", ret: 1205, count: 2 });
    const sends = Array.from({ length: SENDS }, (_, i) => client.sendText("filehelper", `storm ${i}`));
    const results = await Promise.allSettled(sends);
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const failed = results.filter((r) => r.status === "rejected");
    for (const r of failed) assert.ok(isWeChatError(r.reason, "THROTTLED"), "a send that gives up says THROTTLED");
    assert.ok(firstThrottle > 0 && rec.warns.some((w) => /slow/i.test(w)), "the slow-down is reported");
    const after = proxy.calls.filter((c) => c.endpoint === "webwxsendmsg" && c.time > firstThrottle).map((c) => c.time);
    let peak = 0;
    for (let i = 0; i < after.length; i++) peak = Math.max(peak, after.filter((t) => t >= (after[i] ?? 0) && t < (after[i] ?? 0) + 1_000).length);
    assert.ok(peak <= 2, `after the first 1205 at most 2 sends a second reach the server (saw ${peak})`);
    const total = proxy.count("webwxsendmsg", t0);
    assert.ok(total <= SENDS * 4, `bounded retries: ${total} calls for ${SENDS} sends`);
    const texts = env.sb.control.sent().filter((r) => r.text?.startsWith("storm ")).map((r) => r.text);
    assert.equal(new Set(texts).size, texts.length, "no text sent twice");
    assert.equal(texts.length, ok, "every send reported as done is on the server");
    summary.add({ scenario: "client: 1205 storm", faults: total - ok, sent: ok, received: 0, lost: 0, duplicated: texts.length - new Set(texts).size, note: `${failed.length} gave up THROTTLED, peak ${peak}/s after 1205` });
  });

  it("answers lost after the server handled the call (sync and send): nothing lost, nothing doubled", async () => {
    env = await startEnv({ longPollMs: 300, throttle: false });
    proxy = new CountingProxy(env.sb.url);
    await proxy.start();
    const { client } = env.newClient({ loginUrl: proxy.url, pacing: false, tuning: TUNING });
    await loginByQr(env, client);
    const ledger = new Ledger();
    client.on("message", (m) => (m.type === "status" ? undefined : ledger.observe(m.id)));
    const chats = pickChats(env, client, 2);
    let faults = 0;
    for (let round = 0; round < 4; round++) {
      proxy.loseAnswers(round % 2 === 0 ? "webwxsync" : "synccheck", 1);
      faults++;
      for (const chat of chats) injectInto(env, ledger, chat, `lost-answer ${round} ${chat.key}`);
      await waitAllArrived(client, ledger, 10_000);
    }
    const sentBefore = env.sb.control.sent().length;
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      proxy.loseAnswers("webwxsendmsg", 1);
      faults++;
      const r = await client.sendText("filehelper", `once ${i}`).then(
        (s) => s.localId,
        (e: unknown) => `failed ${isWeChatError(e) ? e.code : "?"}`,
      );
      results.push(r);
    }
    const sent = env.sb.control.sent().slice(sentBefore).map((r) => r.text ?? "");
    const doubled = sent.length - new Set(sent).size;
    // The server handled each send and only its answer was lost: the client cannot know, so it says so, once.
    assert.deepEqual(results, ["failed SEND_UNCERTAIN", "failed SEND_UNCERTAIN", "failed SEND_UNCERTAIN"], "reported, never resent");
    assert.deepEqual(sent, ["once 0", "once 1", "once 2"], "each send on the server exactly once");
    summary.add({ scenario: "client: answers lost (proxy)", faults, sent: new Set(sent).size, received: ledger.received, lost: ledger.lost, duplicated: ledger.duplicated + doubled, note: `sends: ${results.map((r) => (r.startsWith("failed") ? r : "ok")).join(",")}` });
    assert.equal(ledger.lost + ledger.duplicated, 0, "inbound: exactly once");
    assert.deepEqual(ledger.outOfOrder(), []);
    assert.equal(doubled, 0, `a send whose answer was lost must not reach the chat twice: ${sent.join(" | ")}`);
  });
});
