/**
 * Hostile data from "the server": DOCTYPE / entity bombs, endless and oversized bodies, HTML where JSON belongs,
 * poisoned messages (path-traversal file names, NUL, script in text and names). Each is refused or neutralised
 * quickly, as a typed error or a warning, and the client goes on (or stops) cleanly.
 */
import { strict as assert } from "node:assert";
import type { ServerResponse } from "node:http";
import { WeChatClient } from "../../lib/wechat/client";
import { isWeChatError } from "../../lib/wechat/errors";
import { loginByQr, startEnv, waitForEvent, waitForState, type Env } from "../client/env";
import { HostileServer, json, poisonSync, rawMessage, text, waitForWarn, watch, type Watch } from "./hostile-server";
import { summary, watchUnhandledRejections } from "./suite";

const TUNING = {
  timeouts: { requestMs: 2_000, syncCheckMs: 1_500, loginPollMs: 2_000 },
  retryDelayMs: 10,
  loginBackoffMs: 200,
  sync: { backoffMs: 100, maxBackoffMs: 400, throttledMs: 100 },
};

const BOMB_DTD =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
  Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`).join("") +
  "]>";

function waitForCount(w: Watch, count: number, timeoutMs: number): Promise<void> {
  if (w.messages.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const on = (): void => {
      if (w.messages.length < count) return;
      clearTimeout(timer);
      w.client.off("message", on);
      resolve();
    };
    const timer = setTimeout(() => {
      w.client.off("message", on);
      reject(new Error(`${w.messages.length}/${count} messages in ${timeoutMs} ms; warnings: ${w.warns.join(" | ")}`));
    }, timeoutMs);
    w.client.on("message", on);
  });
}

/** An answer that never ends (until the client hangs up), written with back-pressure and counted. */
function endless(srv: HostileServer, res: ServerResponse, head: string): void {
  srv.hold(res);
  res.writeHead(200, { "content-type": "text/plain" });
  res.write(head);
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  const pump = (): void => {
    while (!res.destroyed) {
      srv.streamed += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
  };
  pump();
}

/** Nothing a sender chose may steer where a file lands. */
function assertSafeFileName(name: string | undefined, original: string): void {
  assert.ok(name && name.length > 0, `a file name for ${JSON.stringify(original)}`);
  assert.doesNotMatch(name, /[/\\\0]/, `no separators or NUL in ${JSON.stringify(name)}`);
  assert.ok(!name.includes(".."), `no ".." in ${JSON.stringify(name)}`);
  assert.ok(!name.startsWith("."), `not hidden: ${JSON.stringify(name)}`);
  assert.ok(Buffer.byteLength(name) <= 255, "short enough for any file system");
}

describe("reliability: hostile server data", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  let server: HostileServer | undefined;
  let client: WeChatClient | undefined;
  let env: Env | undefined;

  afterEach(async () => {
    await client?.stop();
    await server?.close();
    await env?.close();
    client = undefined;
    server = undefined;
    env = undefined;
  });

  async function hostile(setup: (s: HostileServer) => void): Promise<Watch> {
    server = new HostileServer();
    setup(server);
    await server.start();
    client = new WeChatClient({ loginUrl: server.url, tuning: TUNING });
    const w = watch(client);
    client.start();
    return w;
  }

  it("refuses a DOCTYPE entity bomb in the login tickets at once, without expanding it", async () => {
    const w = await hostile((s) =>
      s.on("webwxnewloginpage", (_req, res) => text(res, `${BOMB_DTD}<error><ret>0</ret><skey>&lol9;</skey><wxsid>&lol9;</wxsid><wxuin>1</wxuin><pass_ticket>&lol9;</pass_ticket></error>`, "text/plain", 301)),
    );
    const t0 = Date.now();
    const warning = await waitForWarn(w, /DOCTYPE|ENTITY/i, 5_000);
    assert.ok(Date.now() - t0 < 3_000, "refused quickly");
    assert.ok(!warning.includes("lollol"), "nothing was expanded");
    assert.ok(!w.states.includes("online"));
    const heap = process.memoryUsage().heapUsed;
    assert.ok(heap < 1024 * 1024 * 1024, "no expansion blew up the heap");
    summary.add({ scenario: "hostile: DOCTYPE bomb in tickets", faults: server?.count("webwxnewloginpage") ?? 0, sent: 0, received: 0, lost: 0, duplicated: 0, note: "PROTOCOL, retried with back-off" });
  });

  it("cuts an endless answer at the body cap", async () => {
    const w = await hostile((s) =>
      s.on("jslogin", (_req, res, srv) => endless(srv, res, "window.QRLogin.code = 200; window.QRLogin.uuid = \"")),
    );
    const warning = await waitForWarn(w, /larger than/i, 10_000);
    assert.match(warning, /jslogin/);
    const streamed = server?.streamed ?? 0;
    assert.ok(streamed < 32 * 1024 * 1024, `the client stopped reading near its 8 MiB cap (server wrote ${streamed} bytes)`);
    summary.add({ scenario: "hostile: endless body", faults: 1, sent: 0, received: 0, lost: 0, duplicated: 0, note: `cut after ${(streamed / 1048576).toFixed(1)} MiB written` });
  });

  it("answers HTML where JSON belongs with a clean PROTOCOL error that quotes nothing of the body", async () => {
    const html = "<html><body><script>steal()</script>502 Bad Gateway</body></html>";
    const w = await hostile((s) => s.on("webwxgetcontact", (_req, res) => text(res, html, "text/html")));
    const warning = await waitForWarn(w, /webwxgetcontact/, 5_000);
    assert.match(warning, /not valid JSON/);
    assert.ok(!warning.includes("script"), "the body is not echoed into the warning");
    // Now serve contacts, get online, and break them again for an explicit refresh.
    server?.on("webwxgetcontact", (_req, res) => json(res, { BaseResponse: { Ret: 0 }, MemberCount: 0, MemberList: [], Seq: 0 }));
    await waitForState(w.client, (s) => s.state === "online", 10_000);
    server?.on("webwxgetcontact", (_req, res) => text(res, html, "text/html"));
    await assert.rejects(w.client.refreshContacts(), (e: unknown) => isWeChatError(e, "PROTOCOL") && !e.message.includes("script"));
    summary.add({ scenario: "hostile: HTML for JSON", faults: 2, sent: 0, received: 0, lost: 0, duplicated: 0, note: "PROTOCOL" });
  });

  it("cuts an endless sync answer at its cap and keeps the session", async () => {
    const w = await hostile((s) => {
      s.on("synccheck", (_req, res) => text(res, 'window.synccheck={retcode:"0",selector:"2"}', "text/javascript"));
      s.on("webwxsync", (_req, res, srv) => endless(srv, res, '{"BaseResponse":{"Ret":0},"AddMsgList":[{"MsgId":"1","Content":"'));
    });
    await waitForState(w.client, (s) => s.state === "online", 10_000);
    await waitForWarn(w, /larger than/, 15_000);
    assert.equal(w.client.state.state, "online", "still online");
    assert.equal(w.messages.length, 0, "nothing half-read was emitted");
    const streamed = server?.streamed ?? 0;
    const calls = server?.count("webwxsync") ?? 0;
    assert.ok(streamed / Math.max(1, calls) < 128 * 1024 * 1024, `each read stops near the cap (${streamed} bytes over ${calls} calls)`);
    summary.add({ scenario: "hostile: endless sync answer", faults: calls, sent: 0, received: 0, lost: 0, duplicated: 0, note: `TOO_LARGE after ${(streamed / Math.max(1, calls) / 1048576).toFixed(0)} MiB/call` });
  });

  it("neutralises poisoned messages: DOCTYPE app messages, path-traversal file names, NUL, double-escaped text", async () => {
    const names = ["../../../etc/passwd", "/etc/shadow", "..\\..\\Windows\\win.ini", "a\u0000b.txt", "..", ".bashrc", `${"x".repeat(300)}.txt`];
    const files = names.map((name, i) => {
      const xml = `<msg><appmsg appid="" sdkver="0"><title>${name.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</title><type>6</type><appattach><totallen>10</totallen><attachid>@cdn_${i}</attachid><fileext>txt</fileext></appattach></appmsg></msg>`;
      return rawMessage(String(1000 + i), { MsgType: 49, AppMsgType: 6, FileName: name, FileSize: "10", MediaId: `@cdn_${i}`, Content: xml.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;") });
    });
    const bomb = `${BOMB_DTD}<msg><appmsg><title>&lol9;</title><type>5</type><url>http://x</url></appmsg></msg>`;
    const poisoned = [
      ...files,
      rawMessage("2001", { MsgType: 49, AppMsgType: 5, Content: bomb.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;") }),
      rawMessage("2002", { MsgType: 1, Content: "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;" }),
      rawMessage("2003", { MsgType: 1, Content: "&lt;img src=x onerror=alert(1)&gt;" }),
      rawMessage("2004", { MsgType: 1, Content: "end" }),
    ];
    const w = await hostile((s) => {
      poisonSync(s, poisoned);
      s.on("webwxbatchgetcontact", (_req, res) =>
        json(res, { BaseResponse: { Ret: 0 }, Count: 1, ContactList: [{ UserName: "@stranger0001", NickName: "&lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt;", RemarkName: "", VerifyFlag: 0 }] }),
      );
    });
    const t0 = Date.now();
    await waitForCount(w, poisoned.length - 1, 10_000).catch(() => undefined);
    await waitForCount(w, 1, 10_000);
    const byId = new Map(w.messages.map((m) => [m.id, m]));
    assert.ok(byId.has("2004"), `the stream went on past the poison: ${w.warns.join(" | ")}`);
    assert.ok(Date.now() - t0 < 8_000, "quickly");
    for (const [i, name] of names.entries()) {
      const m = byId.get(String(1000 + i));
      assert.ok(m, `file message ${i} (${JSON.stringify(name)}) is emitted`);
      assertSafeFileName(m.media?.fileName, name);
    }
    const bombMsg = byId.get("2001");
    const asText = JSON.stringify(bombMsg ?? {}) + w.warns.join(" ");
    assert.ok(!asText.includes("lollol"), "the entity bomb was not expanded");
    assert.equal(byId.get("2002")?.text, "&lt;script&gt;alert(1)&lt;/script&gt;", "entities decoded exactly once: typed text stays as typed");
    assert.equal(byId.get("2003")?.text, "<img src=x onerror=alert(1)>", "text is data, kept verbatim (escaping is the renderer's job)");
    assert.equal(w.client.getContact("@stranger0001")?.nickName, '<script>alert("n")</script>', "names decoded once, kept as data");
    summary.add({ scenario: "hostile: poisoned messages", faults: poisoned.length - 1, sent: 0, received: w.messages.length, lost: 0, duplicated: 0, note: "file names sanitised, no expansion" });
  });

  it("sandbox: names and texts with HTML and script arrive as plain data; hostile file names are sanitised", async () => {
    env = await startEnv({ longPollMs: 300 });
    const made = env.newClient();
    client = made.client;
    await loginByQr(env, made.client);
    const evilName = '<script>alert("nick")</script>&amp;';
    const evilGroup = "<img src=x onerror=alert(1)>";
    env.sb.control.contacts({ op: "add", nickName: evilName });
    const friends = env.sb.control.world().contacts.filter((c) => c.kind === "friend" && c.nickName !== evilName).slice(0, 2).map((c) => c.nickName);
    env.sb.control.contacts({ op: "add-group", nickName: evilGroup, members: friends });
    const known = (): boolean => made.client.listContacts({ kind: "group" }).some((g) => g.nickName === evilGroup);
    if (!known()) await waitForEvent(made.client, "contacts", known, 10_000, "the new group");
    env.sb.control.inject({ from: evilName, text: "</textarea><script>x()</script>" });
    env.sb.control.inject({ from: evilName, type: "file", fileName: "../../.ssh/authorized_keys", data: Buffer.from("ssh-rsa AAAA").toString("base64") });
    const want = 2;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${made.rec.messages.length} messages`)), 10_000);
      const check = (): void => {
        if (made.rec.messages.filter((m) => m.type !== "status").length < want) return;
        clearTimeout(timer);
        made.client.off("message", check);
        resolve();
      };
      made.client.on("message", check);
      check();
    });
    const [textMsg, fileMsg] = made.rec.messages.filter((m) => m.type !== "status");
    assert.equal(textMsg?.text, "</textarea><script>x()</script>");
    assert.equal(made.client.getContact(textMsg?.sender.userName ?? "")?.nickName, evilName, "the nickname round-trips exactly (decoded once)");
    assert.equal(fileMsg?.type, "file");
    assertSafeFileName(fileMsg?.media?.fileName, "../../.ssh/authorized_keys");
    const group = made.client.listContacts({ kind: "group" }).find((g) => g.nickName === evilGroup);
    assert.ok(group, "the group with an HTML name is known by its exact name");
    assert.equal(made.client.resolve(evilGroup).userName, group.userName, "and can be addressed by it");
    summary.add({ scenario: "hostile: sandbox names/files", faults: 0, sent: 0, received: 2, lost: 0, duplicated: 0, note: "plain data, safe names" });
  });
});
