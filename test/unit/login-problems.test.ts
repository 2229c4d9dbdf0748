import assert from "node:assert/strict";
import { WeChatError } from "../../lib/wechat/errors";
import { LoginProblems } from "../../lib/wechat/login-problems";
import type { Logger } from "../../lib/wechat/types";

function recorder(): { logger: Logger; lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  const log = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }, lines, warnings };
}

describe("LoginProblems (#16.2)", function () {
  it("warns once per reason, shows the problem with its retry time, and says once that the server answers again", function () {
    const { logger, lines, warnings } = recorder();
    const problems = new LoginProblems(logger, (m) => warnings.push(m));
    const dns = new WeChatError("NETWORK", "getaddrinfo ENOTFOUND login.wx.qq.com", { kind: "dns" });
    const before = Date.now();
    problems.failed(dns, 1, 2_000);
    problems.failed(dns, 2, 4_000);
    assert.equal(warnings.length, 1, "the same reason is one warning");
    assert.match(warnings[0] ?? "", /logged once until the reason changes/);
    const shown = problems.shownWith("offline");
    assert.equal(shown?.kind, "dns");
    assert.equal(shown?.failures, 2);
    assert.ok((shown?.retryAt ?? 0) >= before + 4_000);
    assert.ok(problems.retryStarts(), "a retry time was pending");
    assert.equal(problems.shownWith("offline")?.retryAt, undefined);
    assert.equal(problems.retryStarts(), false);
    problems.failed(new WeChatError("NETWORK", "connect ECONNREFUSED", { kind: "refused" }), 3, 8_000);
    assert.equal(warnings.length, 2, "a changed reason warns again");
    assert.equal(problems.shownWith("waiting-scan"), undefined, "progress ends the problem");
    assert.equal(lines.filter((l) => /the server answers again \(after 3 failed attempts: refused\)/.test(l)).length, 1);
    assert.equal(problems.shownWith("online"), undefined);
    assert.equal(lines.filter((l) => /answers again/.test(l)).length, 1, "said once");
  });
});
