import assert from "node:assert/strict";
import { realHostsTransport } from "../../lib/sandbox";
import type { LoginProblem, StateInfo } from "../../lib/wechat/types";
import { clockTime, problemText, statusFor } from "../../nodes/shared/status";
import type { NodeStatus } from "../../nodes/shared/red";
import { type FlowNode, helper, nodeById, waitForStatus } from "../support/node-red";
import { closedPort, offlineTransport, useDnsGuard } from "../support/offline";
import { ACCOUNT, FAST_TUNING, NODES, accountOf, logOf, useSandbox, wxNode } from "./fixture";

/**
 * A real-WeChat account without a network (#16.2): every wx node's status and the account's state name the reason
 * and the next retry, and the log has one line for many identical retries. The account keeps the real login URL
 * (https://login.wx.qq.com); settings.js `wxAccountTransport` sends its connections to a name that does not resolve
 * or a refused loopback port, and a guard fails the test if anything resolves another name.
 */

const t = (key: string): string => key;

describe("node status of a login problem (#16.2)", function () {
  const retryAt = new Date(2026, 11, 3, 12, 3, 15).getTime();
  const problem = (extra: Partial<LoginProblem>): LoginProblem => ({ kind: "dns", message: "jslogin: network error (ENOTFOUND)", failures: 3, since: retryAt - 60_000, ...extra });

  it("offline names the reason and the retry time, short", function () {
    const status = statusFor({ state: "offline", problem: problem({ retryAt }) }, t);
    assert.deepEqual(status, { fill: "grey", shape: "ring", text: "wx-account.status.offline: wx-account.problem.dns, wx-account.status.retry 12:03:15" });
    const en = (key: string): string =>
      ({ "wx-account.status.offline": "offline", "wx-account.problem.dns": "DNS failure", "wx-account.status.retry": "retry" })[key] ?? key;
    assert.equal(statusFor({ state: "offline", problem: problem({ retryAt }) }, en).text, "offline: DNS failure, retry 12:03:15");
  });

  it("says 'retrying' while an attempt runs, and the status or code of an HTTP or server failure", function () {
    assert.equal(problemText(problem({}), t), "wx-account.problem.dns, wx-account.status.retrying");
    assert.equal(problemText(problem({ kind: "http", status: 503, retryAt }), t), "wx-account.problem.http 503, wx-account.status.retry 12:03:15");
    assert.equal(problemText(problem({ kind: "login-refused", ret: 1203 }), t), "wx-account.problem.login-refused 1203");
    assert.equal(clockTime(retryAt), "12:03:15");
  });

  it("a resume after a failed one says why that one failed", function () {
    assert.equal(statusFor({ state: "resuming", problem: problem({}) }, t).text, "wx-account.status.resuming: wx-account.problem.dns, wx-account.status.retrying");
    assert.equal(statusFor({ state: "resuming" }, t).text, "wx-account.status.resuming");
  });

  it("keeps a message without a problem (a port conflict) as it was", function () {
    const state: StateInfo = { state: "offline", message: "listen EADDRINUSE: address already in use 127.0.0.1:1881" };
    assert.equal(statusFor(state, t).text, "wx-account.status.offline: listen EADDRINUSE: address already in use 127.0.0.1:1881");
  });
});

describe("a real-WeChat account without a network (#16.2)", function () {
  this.timeout(30_000);
  const offline = offlineTransport({ kind: "dns" });
  useDnsGuard();
  const ctx = useSandbox({ realHosts: true }, { wxAccountTransport: offline.transport, wxAccountClientTuning: { ...FAST_TUNING, loginBackoffMs: 30 } });
  beforeEach(function () {
    offline.set({ kind: "dns" });
    offline.connects.length = 0;
  });

  const flow = (): FlowNode[] => [
    { id: ACCOUNT, type: "wx-account", name: "real", server: "wechat", mode: "desktop", pacing: 600 },
    wxNode("send", "wx-send-text"),
    wxNode("recv", "wx-receive", { types: ["text"] }),
  ];
  const offlineWith = (pattern: RegExp) => (s: NodeStatus) => s.fill === "grey" && s.shape === "ring" && pattern.test(s.text ?? "");

  it("shows the reason and the next retry on every wx node and in the state, and logs N identical retries once", async function () {
    const before = Date.now();
    await helper.load(NODES, flow());
    const retrying = /^wx-account\.status\.offline: wx-account\.problem\.dns, wx-account\.status\.retry \d\d:\d\d:\d\d$/;
    await Promise.all([waitForStatus(nodeById("send"), offlineWith(retrying)), waitForStatus(nodeById("recv"), offlineWith(retrying))]);
    // The account's state (GET /wx-account/:id/state) and its comms summary carry the problem and the retry time.
    const res = await helper.request().get(`/wx-account/${ACCOUNT}/state`);
    const body = res.body as { state: string; problem?: LoginProblem };
    assert.equal(body.state, "offline");
    assert.equal(body.problem?.kind, "dns");
    assert.match(body.problem?.message ?? "", /ENOTFOUND/);
    const summary = accountOf().summary();
    assert.equal(summary.problem?.kind, "dns");
    assert.equal("message" in (summary.problem ?? {}), false, "the comms summary carries no message");
    // Wait for several identical failures: one warning in the log.
    await waitForStatus(nodeById("send"), () => (accountOf().state.problem?.failures ?? 0) >= 5, 15_000);
    const state = accountOf().state;
    assert.ok(state.problem && state.problem.since >= before);
    assert.equal(logOf(ACCOUNT, "warn").filter((line) => /ENOTFOUND/.test(line)).length, 1, logOf(ACCOUNT, "warn").join("\n"));
    // The reason changes: shown, and logged once more.
    offline.set({ kind: "refused", port: await closedPort() });
    await waitForStatus(nodeById("send"), offlineWith(/wx-account\.problem\.refused, wx-account\.status\.retry \d\d:\d\d:\d\d$/), 15_000);
    const refusedSince = accountOf().state.problem?.failures ?? 0;
    await waitForStatus(nodeById("send"), () => (accountOf().state.problem?.failures ?? 0) >= refusedSince + 2, 15_000);
    const warnings = logOf(ACCOUNT, "warn");
    assert.equal(warnings.filter((line) => /ECONNREFUSED/.test(line)).length, 1, warnings.join("\n"));
    assert.equal(warnings.filter((line) => /ENOTFOUND/.test(line)).length, 1);
    // The network is back (the sandbox plays the real hosts): the QR is asked for, the reason is gone.
    const info = ctx.sb.realHosts;
    assert.ok(info);
    offline.set({ kind: "route", to: realHostsTransport(info) });
    const scan = await waitForStatus(nodeById("send"), (s) => s.fill === "yellow" && s.shape === "ring", 15_000);
    assert.equal(scan.text, "wx-account.status.scan");
    assert.equal(accountOf().summary().problem, undefined);
    assert.deepEqual([...new Set(offline.connects)], ["login.wx.qq.com:443"], "only the real login host, always through the transport");
  });
});
