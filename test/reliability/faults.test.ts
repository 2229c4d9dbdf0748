/**
 * Randomised fault schedules against the client (seeded: the seed is printed). Faults on synccheck / webwxsync
 * (500, reset, hang, malformed, truncated), sandbox restarts, the client stopped mid-stream and started again from
 * its saved session, failed sends: every injected message must arrive exactly once, in order per chat, every send
 * the caller was told succeeded must be on the server exactly once, and a send whose answer was lost is reported
 * SEND_UNCERTAIN with its ClientMsgId (counted as reported, not lost) and on the server at most once, never resent.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import type { FaultKind } from "../../lib/sandbox/types";
import type { WeChatClient } from "../../lib/wechat/client";
import { isWeChatError } from "../../lib/wechat/errors";
import { loginByQr, startEnv, waitForState, type Env } from "../client/env";
import { assertNoViolations, injectInto, pickChats, waitAllArrived, type Chat } from "./harness";
import { Ledger, runSeed, type Prng } from "./ledger";
import { summary, watchUnhandledRejections } from "./suite";

const SECRET = "reliability secret";
/** The fault schedule npm test and CI run (WXFLOW_SEED=<n> replays another, WXFLOW_SEED=random draws one). */
export const FAULTS_SEED = 20261203;
const KINDS: readonly FaultKind[] = ["500", "reset", "malformed", "truncated", "500", "reset", "hang"];
const TUNING = {
  timeouts: { requestMs: 1_500, syncCheckMs: 1_200, loginPollMs: 2_000 },
  retryDelayMs: 10,
  loginBackoffMs: 30,
  sync: { backoffMs: 20, maxBackoffMs: 200, throttledMs: 100 },
  sendQueue: { cooldownMs: 50, maxCooldownMs: 200 },
};

interface Run {
  env: Env;
  ledger: Ledger;
  client: WeChatClient;
  faults: number;
  /** localIds of sends the caller was told succeeded. */
  sentOk: string[];
  /** ClientMsgIds of sends reported SEND_UNCERTAIN (their answer was lost: reported, never resent). */
  uncertain: string[];
  sendFailures: number;
  clients: number;
  strangers: string[];
}

describe("reliability: randomised faults at the client", function () {
  this.timeout(90_000);
  watchUnhandledRejections();
  let env: Env | undefined;

  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  function attach(run: Run, client: WeChatClient): void {
    client.on("message", (m) => {
      // The server's own status notices (MsgType 51) are not ours to count.
      if (m.type === "status") return;
      if (!run.ledger.knows(m.id)) run.strangers.push(`${m.id} ${m.type} fromSelf=${m.fromSelf} ${m.text.slice(0, 40)}`);
      run.ledger.observe(m.id);
    });
  }

  async function restartClient(run: Run, sessionFile: string): Promise<void> {
    await run.client.stop();
    const { client } = run.env.newClient({ sessionFile, sessionSecret: SECRET, pacing: { perMinute: 600, burst: 10 }, tuning: TUNING });
    attach(run, client);
    run.client = client;
    run.clients++;
    client.start();
  }

  async function step(run: Run, rng: Prng, chats: Chat[], sessionFile: string, counter: { n: number }): Promise<void> {
    const sb = run.env.sb;
    if (rng.chance(0.5)) {
      const endpoint = rng.pick(["synccheck", "webwxsync"]);
      const kind = rng.pick(KINDS);
      const count = kind === "hang" ? 1 : rng.int(1, 2);
      sb.control.fault({ endpoint, kind, count });
      run.faults += count;
    }
    if (rng.chance(0.08)) {
      await sb.restart();
      run.faults++;
    }
    if (rng.chance(0.1)) {
      // Sometimes the saved session is checked against a server that fails at first.
      if (rng.chance(0.4)) {
        const count = rng.int(1, 3);
        sb.control.fault({ endpoint: "webwxgetcontact", kind: rng.pick(["500", "reset"] as const), count });
        run.faults += count;
      }
      await restartClient(run, sessionFile);
      run.faults++;
    }
    const n = rng.int(1, 6);
    for (let i = 0; i < n; i++) {
      const chat = rng.pick(chats);
      injectInto(run.env, run.ledger, chat, `rel ${chat.key} ${counter.n++}`);
    }
    if (rng.chance(0.25)) {
      // A send from the bot, sometimes through a fault of its own: before the server handled it (500, reset) or
      // after (the answer lost). Either way the client may not know: SEND_UNCERTAIN, never a resend.
      if (rng.chance(0.5)) {
        sb.control.fault({ endpoint: "webwxsendmsg", kind: rng.pick(["500", "reset", "lost-500", "lost-reset"] as const), count: 1 });
        run.faults++;
      }
      await waitForState(run.client, (s) => s.state === "online", 15_000, "online before a send");
      try {
        const result = await run.client.sendText("filehelper", `out ${counter.n++}`);
        run.sentOk.push(result.localId);
      } catch (error) {
        if (isWeChatError(error, "SEND_UNCERTAIN") && error.clientMsgId) run.uncertain.push(error.clientMsgId);
        else run.sendFailures++;
      }
    }
    if (rng.chance(0.6)) await waitAllArrived(run.client, run.ledger, 20_000);
  }

  it("delivers every message exactly once, in order per chat, through a seeded fault schedule", async () => {
    const rng = runSeed("client faults", FAULTS_SEED);
    env = await startEnv({ longPollMs: 300, contacts: 20, groups: 3, skeyRotateEvery: 7 });
    const sessionFile = path.join(env.dir, "rel.session");
    const first = env.newClient({ sessionFile, sessionSecret: SECRET, pacing: { perMinute: 600, burst: 10 }, tuning: TUNING });
    const run: Run = { env, ledger: new Ledger(), client: first.client, faults: 0, sentOk: [], uncertain: [], sendFailures: 0, clients: 1, strangers: [] };
    attach(run, first.client);
    await loginByQr(env, first.client);
    const chats = pickChats(env, first.client, 3);
    const counter = { n: 1 };
    const sentBefore = env.sb.control.sent().length;
    for (let i = 0; i < 80; i++) await step(run, rng, chats, sessionFile, counter);
    await waitAllArrived(run.client, run.ledger, 30_000);

    const sent = env.sb.control.sent().slice(sentBefore);
    const onServer = new Map<string, number>();
    for (const r of sent) onServer.set(r.localId, (onServer.get(r.localId) ?? 0) + 1);
    const sendsLost = run.sentOk.filter((id) => !onServer.has(id)).length;
    const sendsDoubled = [...onServer.values()].reduce((t, n) => t + n - 1, 0);
    const uncertainDelivered = run.uncertain.filter((id) => onServer.has(id)).length;
    summary.add({
      scenario: "client: random faults, restarts",
      seed: rng.seed,
      faults: run.faults,
      sent: run.sentOk.length,
      received: run.ledger.received,
      lost: run.ledger.lost + sendsLost,
      duplicated: run.ledger.duplicated + sendsDoubled,
      note: `${run.clients} client instances, ${run.uncertain.length} SEND_UNCERTAIN reported (${uncertainDelivered} delivered once), ${run.sendFailures} other send failures`,
    });

    assert.equal(run.ledger.lost, 0, "no message lost");
    assert.equal(run.ledger.duplicated, 0, "no message doubled");
    assert.deepEqual(run.strangers, [], "nothing emitted that was not injected");
    assert.deepEqual(run.ledger.outOfOrder(), [], "order kept in every chat");
    assert.equal(sendsLost, 0, "every send reported as done is on the server");
    assert.equal(sendsDoubled, 0, "no send is on the server twice");
    assert.equal(new Set(run.uncertain).size, run.uncertain.length, "every uncertain send has its own ClientMsgId");
    assert.deepEqual(run.uncertain.filter((id) => run.sentOk.includes(id)), [], "an uncertain send is not also reported as done");
    assert.equal(env.sb.control.logins().filter((l) => l.state === "done").length, 1, "one login: every restart resumed the saved session");
    assertNoViolations(env);
  });
});

describe("reliability: seeds", function () {
  it("the suite runs a pinned schedule; WXFLOW_SEED replays one or asks for a random one; soak draws a fresh one", () => {
    assert.equal(runSeed("pinned", FAULTS_SEED, {}).seed, FAULTS_SEED);
    assert.equal(runSeed("pinned", FAULTS_SEED, { WXFLOW_SEED: "" }).seed, FAULTS_SEED);
    assert.equal(runSeed("replay", FAULTS_SEED, { WXFLOW_SEED: "4242" }).seed, 4242);
    assert.equal(runSeed("replay, no pin", undefined, { WXFLOW_SEED: "4242" }).seed, 4242);
    const random = runSeed("random", FAULTS_SEED, { WXFLOW_SEED: "random" }).seed;
    const soak = runSeed("soak", undefined, {}).seed;
    for (const seed of [random, soak]) assert.ok(Number.isInteger(seed) && seed > 0 && seed <= 2_147_483_647, String(seed));
    // a pinned seed gives the same schedule every time
    const draw = (seed: number) => Array.from({ length: 5 }, ((rng) => () => rng.int(0, 1_000_000))(runSeed("same", seed, {})));
    assert.deepEqual(draw(FAULTS_SEED), draw(FAULTS_SEED));
  });
});
