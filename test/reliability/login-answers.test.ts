/**
 * Login answers and other server text, read robustly and never trusted (issue #12 point 8, issue #14 points 7-8):
 * refusals in XML that is not well-formed or not UTF-8 end in state `refused` with code and message, never in a QR
 * loop; a uuid that is not one is refused; line breaks and terminal escapes in server text never reach a log line,
 * warning, state or error; in wechat mode redirect_uri may only name https WeChat hosts; deep JSON is refused fast.
 */
import { strict as assert } from "node:assert";
import type { ServerResponse } from "node:http";
import { WeChatClient } from "../../lib/wechat/client";
import { WeChatError, cleanServerText, isWeChatError } from "../../lib/wechat/errors";
import { DEFAULT_LOGIN_URL, isWeChatHost, isWeChatPageUrl } from "../../lib/wechat/hosts";
import { HttpClient, parseJsonBody } from "../../lib/wechat/http";
import { MAX_JSON_DEPTH } from "../../lib/wechat/json-scan";
import { LoginApi, isUuid } from "../../lib/wechat/login";
import type { Logger, StateInfo } from "../../lib/wechat/types";
import { waitForState } from "../client/env";
import { HostileServer, json, text, waitForWarn, watch, type Watch } from "./hostile-server";
import { watchUnhandledRejections } from "./suite";

const TUNING = {
  timeouts: { requestMs: 2_000, syncCheckMs: 1_500, loginPollMs: 2_000 },
  retryDelayMs: 10,
  loginBackoffMs: 50,
  sync: { backoffMs: 100, maxBackoffMs: 400, throttledMs: 100 },
};

/** A real refusal text (1203) as captured: Chinese, full-width punctuation, a space. */
const REFUSAL = "暂时不能登录web微信。请使用手机或Windows 微信登录，谢谢！";
/** The same text in GBK, as a web-mode refusal body has been reported to come (docs/protocol.md section 9). */
const REFUSAL_GBK = Buffer.from(
  "d4ddcab1b2bbc4dcb5c7c2bc776562cea2d0c5a1a3c7ebcab9d3c3cad6bbfabbf257696e646f777320cea2d0c5b5c7c2bca3acd0bbd0bba3a1",
  "hex",
);
/** What a forger would inject: a line break starting a fake log line, and terminal escapes (clear screen, red). */
const FORGED = "\n2026-12-03T00:00:00Z [error] [wx-account] forged line\u001b[2J\u001b[31m\r";
/** Any control character a log line must not carry (C0, DEL, C1). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

interface Run extends Watch {
  /** Every line the client logged, any level. */
  lines: string[];
  /** Every state the client reported, whole. */
  infos: StateInfo[];
}

function refusalPage(body: Buffer): (req: unknown, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(301, { "content-type": "text/plain", "content-length": body.length, location: "/" });
    res.end(body);
  };
}

/** Everything the client said to a person: log lines, warnings, states. */
function said(run: Run): string[] {
  return [...run.lines, ...run.warns, ...run.infos.map((s) => JSON.stringify(s))];
}

describe("reliability: login answers and server text", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  let server: HostileServer | undefined;
  let client: WeChatClient | undefined;

  afterEach(async () => {
    await client?.stop();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  async function hostile(setup: (s: HostileServer) => void): Promise<Run> {
    server = new HostileServer();
    setup(server);
    await server.start();
    const lines: string[] = [];
    const logger: Logger = {
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    };
    client = new WeChatClient({ loginUrl: server.url, tuning: TUNING, logger, qrImage: false });
    const infos: StateInfo[] = [];
    client.on("state", (s) => infos.push({ ...s }));
    const run: Run = { ...watch(client), lines, infos };
    client.start();
    return run;
  }

  async function expectRefused(run: Run): Promise<StateInfo> {
    const refused = await waitForState(run.client, (s) => s.state === "refused", 10_000, "state refused");
    assert.equal(server?.count("jslogin"), 1, "one QR only: a refusal is reported, never turned into a QR loop");
    assert.equal(run.states.filter((s) => s === "waiting-scan").length, 1);
    assert.equal(refused.code, 1203);
    return refused;
  }

  it("#12.8: a refusal in XML that is not well-formed is state refused with code and message, no new QR", async () => {
    // No closing </error>, a bare "&", an unclosed <br>: what a browser shrugs off and an XML parser refuses.
    const body = Buffer.from(`<error><ret> 1203 </ret><message>${REFUSAL}<br> & retry later</message><isgrayscale>0`);
    const run = await hostile((s) => s.on("webwxnewloginpage", refusalPage(body)));
    const refused = await expectRefused(run);
    assert.ok(refused.message?.includes(REFUSAL), `the server's message is shown: ${refused.message}`);
  });

  it("#12.8: a GBK refusal body is decoded: state refused with code and the readable message", async () => {
    const body = Buffer.concat([Buffer.from("<error><ret>1203</ret><message>"), REFUSAL_GBK, Buffer.from("</message></error>")]);
    const run = await hostile((s) => s.on("webwxnewloginpage", refusalPage(body)));
    const refused = await expectRefused(run);
    assert.ok(refused.message?.includes(REFUSAL), `decoded from GBK: ${refused.message}`);
    assert.ok(!refused.message?.includes("\uFFFD"), "no replacement characters");
  });

  it("#14.7: a uuid that is not one (line break, ESC) is refused and never quoted", async () => {
    const uuid = `wb7R2kx9dA${FORGED.replace(/\n/g, "\\n").replace(/\r/g, "\\r").split("\u001b").join("\\u001b")}==`;
    const run = await hostile((s) =>
      s.on("jslogin", (_req, res) => text(res, `window.QRLogin.code = 200; window.QRLogin.uuid = "${uuid}";`, "text/javascript")),
    );
    const warning = await waitForWarn(run, /jslogin/, 5_000);
    assert.match(warning, /uuid/);
    assert.ok(!run.states.includes("waiting-scan"), "no QR is made of it");
    assert.equal(server?.count("login"), 0, "it is never polled");
    for (const line of said(run)) {
      assert.ok(!CONTROL.test(line) && !line.includes("forged"), `nothing of the uuid reaches a person: ${JSON.stringify(line)}`);
    }
  });

  it("#14.7: line breaks and escapes in a refusal <message> never reach a log, state or error", async () => {
    const body = Buffer.from(`<error><ret>1203</ret><message>refused${FORGED}</message></error>`);
    const run = await hostile((s) => s.on("webwxnewloginpage", refusalPage(body)));
    const refused = await expectRefused(run);
    assert.match(refused.message ?? "", /refused .*forged line/, "the text is kept, on one line");
    for (const line of said(run)) assert.ok(!CONTROL.test(line), `no control character: ${JSON.stringify(line)}`);
  });

  it("#14.7: line breaks and escapes in an ErrMsg never reach a log line or warning", async () => {
    const run = await hostile((s) =>
      s.on("webwxinit", (_req, res) => json(res, { BaseResponse: { Ret: 1, ErrMsg: `bad parameters${FORGED}` } })),
    );
    const warning = await waitForWarn(run, /webwxinit/, 5_000);
    assert.match(warning, /bad parameters .*forged line/, "the server's text is kept, on one line");
    for (const line of said(run)) assert.ok(!CONTROL.test(line), `no control character: ${JSON.stringify(line)}`);
    assert.equal(cleanServerText(`a${FORGED}b\u009b31m\u202e`), "a 2026-12-03T00:00:00Z [error] [wx-account] forged line[2J[31m b31m");
    assert.equal(Array.from(cleanServerText("字".repeat(500))).length, 201, "cut at 200 characters plus an ellipsis");
  });

  it("#12.8: the uuid is checked against its real shape (docs/protocol.md section 3 and published captures)", () => {
    // Captured uuids (docs/protocol.md section 3 and clients' published logs and comments): 10 base64 characters and "==".
    for (const good of ["wb7R2kx9dA==", "4ZrEq8JiYQ==", "ob4xFTZAJA==", "YZwoVtSgZA==", "gYmgd1grLg==", "Acg3Az1aZQ=="]) assert.ok(isUuid(good), good);
    // Tolerated: the rest of the base64 alphabets (standard and URL-safe) and other lengths, should the server change.
    for (const good of ["oYw+Vc/1Lg==", "gZFl-x0e_g==", "abcdefghijk=", "abcdefghijkl"]) assert.ok(isUuid(good), good);
    for (const bad of ["", "short==", "wb7R2kx9dA==\n", "wb7R2kx9dA===", "wb7R 2kx9dA==", 'wb7R"kx9dA==', "https://evil.example/x", "a".repeat(65)]) {
      assert.ok(!isUuid(bad), JSON.stringify(bad));
    }
  });

  it("#14.8: in wechat mode a redirect_uri to a non-WeChat or http host is refused; WeChat https hosts pass", async () => {
    let redirect = "";
    server = new HostileServer();
    server.on("login", (_req, res) => text(res, `window.code=200;\nwindow.redirect_uri="${redirect}";`, "text/javascript"));
    await server.start();
    const http = new HttpClient({ retryDelayMs: 10 });
    const strict = new LoginApi(http, "desktop", { requestMs: 2_000, longPollMs: 2_000 }, { wechatHostsOnly: true });
    try {
      const refused = [
        "http://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        "https://evil.example/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        "https://wx2.qq.com.evil.example/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        "https://evilqq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        "https://wx2.qq.com:8443/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        "https://user@wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t",
        `${server.url}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t`,
      ];
      for (const uri of refused) {
        redirect = uri;
        await assert.rejects(strict.poll(server.url, "wb7R2kx9dA==", 1), (e: unknown) => isWeChatError(e, "PROTOCOL") && !e.message.includes("evil"), uri);
      }
      for (const uri of ["https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t", "https://web.wechat.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t"]) {
        redirect = uri;
        assert.deepEqual(await strict.poll(server.url, "wb7R2kx9dA==", 1), { code: 200, redirectUri: uri });
      }
      // A custom login URL (an emulator on loopback) keeps its own hosts.
      redirect = `${server.url}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t`;
      const custom = new LoginApi(http, "desktop", { requestMs: 2_000, longPollMs: 2_000 });
      assert.equal((await custom.poll(server.url, "wb7R2kx9dA==", 1)).code, 200);
    } finally {
      http.close();
    }
    // The client turns wechat mode on for logins that start at WeChat, as the account's "wechat" server does.
    assert.ok(isWeChatHost(new URL(DEFAULT_LOGIN_URL).hostname));
    assert.ok(!isWeChatHost("127.0.0.1") && !isWeChatHost("qq.com.evil.example"));
    assert.ok(isWeChatPageUrl("https://wx8.qq.com") && !isWeChatPageUrl("not a url"));
  });

  it("#14.8: deeply nested JSON is refused in milliseconds, before JSON.parse could block the event loop", async () => {
    const depth = 4_000_000; // 8 MB: within the body cap; JSON.parse takes seconds on it
    const deep = Buffer.from("[".repeat(depth) + "]".repeat(depth));
    const t0 = Date.now();
    assert.throws(() => parseJsonBody(deep, "webwxsync"), (e: unknown) => e instanceof WeChatError && e.code === "PROTOCOL" && /nests deeper/.test(e.message));
    assert.ok(Date.now() - t0 < 500, `refused in ${Date.now() - t0} ms`);
    const shallow = JSON.stringify({ a: [{ b: "[[[[[[" + "{".repeat(MAX_JSON_DEPTH * 2) + '\\"' }] });
    assert.deepEqual(parseJsonBody(shallow, "x"), JSON.parse(shallow), "brackets inside strings do not count");
    // Through a session: a sync answer nested a million deep is a warning, and the session stays online.
    const run = await hostile((s) => {
      s.on("synccheck", (_req, res) => text(res, 'window.synccheck={retcode:"0",selector:"2"}', "text/javascript"));
      s.on("webwxsync", (_req, res) => text(res, `{"BaseResponse":{"Ret":0},"AddMsgList":${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}}`));
    });
    await waitForState(run.client, (s) => s.state === "online", 10_000);
    await waitForWarn(run, /webwxsync.*nests deeper/, 10_000);
    assert.equal(run.client.state.state, "online");
  });
});
