import assert from "node:assert/strict";
import { chromium, type Browser } from "playwright-core";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient } from "./webclient";

describe("sandbox: phone page (browser)", function () {
  this.timeout(30_000);
  let sb: Sandbox;
  let api: SandboxClient;
  let browser: Browser;

  before(async () => {
    sb = await startSandbox({ longPollMs: 5_000, contacts: 12, seed: 4 });
    api = new SandboxClient(sb);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });
  after(async () => {
    await browser?.close();
    await sb?.close();
  });

  it("#16.8: opens on the first friend, not on the file helper", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(sb.phoneUrl);
    await page.waitForFunction('document.querySelectorAll("#chat option").length > 3', undefined, { timeout: 10_000 });
    const chosen = JSON.parse(await page.locator("#chat").inputValue()) as { kind: string; name: string };
    const firstFriend = (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(firstFriend);
    assert.equal(chosen.kind, "friend");
    assert.equal(await page.locator("#chat option").first().textContent(), "文件传输助手", "the file helper is still listed, first");
    assert.notEqual(chosen.name, "文件传输助手");
    await page.close();
  });

  it("scans a pending login, chats as a contact, and shows what the bot sent, escaped", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(sb.phoneUrl);
    const c = new WebClient(sb.url);
    await c.jslogin();
    const polled = c.poll(1);
    await page.locator(`li[data-uuid="${c.uuid}"] button[data-action="scan"]`).click();
    let answer = await polled;
    for (let i = 0; i < 3 && answer.code !== 200; i++) answer = await c.poll();
    assert.equal(answer.code, 200);
    const t = await c.tickets(answer.text);
    assert.equal(t.ret, 0);
    await c.init();
    await c.loadContacts();
    await c.receive();

    const friend = (await api.worldContacts({ kind: "friend" })).find((f) => /[<&]/.test(f.nickName) && !f.remarkName) ?? (await api.worldContacts({ kind: "friend" }))[0];
    assert.ok(friend);
    const label = friend.remarkName ? `${friend.remarkName} (${friend.nickName})` : friend.nickName;
    await page.locator("#chat").selectOption({ label });
    await page.locator("#text").fill("hello from the phone <b>");
    await page.locator("#send").click();
    const msgs = await c.receive();
    const m = msgs.find((x) => x.MsgType === 1);
    assert.equal(m?.Content, "hello from the phone &lt;b&gt;");

    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    await page.locator("#image").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: png });
    await page.locator("#send-image").click();
    const img = (await c.receive()).find((x) => x.MsgType === 3);
    assert.ok(img, "the image arrives through webwxsync");
    const full = await c.request("GET", `/cgi-bin/mmwebwx-bin/webwxgetmsgimg?MsgID=${String(img.MsgId)}&skey=${encodeURIComponent(c.skey)}`);
    assert.deepEqual(full.body, png);

    const to = String(m?.FromUserName);
    await c.sendText(to, "<i>bot</i> reply");
    const item = page.locator("#sent li .text", { hasText: "<i>bot</i> reply" });
    await item.waitFor({ timeout: 10_000 });
    // #16.8: the whole conversation, both sides: what the phone sent as the contact, then the bot's answer above it
    const sides = (await page.evaluate(
      'Array.from(document.querySelectorAll("#sent li")).map(function (li) { var t = li.querySelector(".text, .file"); return li.dataset.side + ":" + (t ? t.textContent : ""); })',
    )) as string[];
    assert.deepEqual(sides, ["bot:<i>bot</i> reply", "phone:dot.png", "phone:hello from the phone <b>"]);
    assert.equal(await page.locator("#sent i").count(), 0, "sent text is rendered as text, not markup");

    // an image the bot sent shows on the page: fetched with the token header, shown from a blob URL
    const up = await c.upload(png, "dot.png", "image/png", to);
    assert.equal((up.BaseResponse as { Ret?: number }).Ret, 0);
    const sentImg = await c.sendMedia("webwxsendmsgimg", "fun=async&f=json", { Type: 3, MediaId: up.MediaId, ToUserName: to, Content: "" });
    assert.equal((sentImg.BaseResponse as { Ret?: number }).Ret, 0);
    await page.waitForFunction('(() => { const i = document.querySelector("#sent img.sent"); return !!i && i.complete && i.naturalWidth > 0 && i.src.startsWith("blob:"); })()', undefined, { timeout: 10_000 });

    // #18: a forward by reference (no upload) shows the bytes of the image it repeats
    const id = c.localId();
    const content = String(img.Content).replace(/&lt;/g, "<").replace(/&gt;/g, ">");
    const forwarded = await c.post("webwxsendmsgimg", "fun=async&f=json", { Msg: { Type: 3, MediaId: "", Content: content, FromUserName: c.self.UserName, ToUserName: to, LocalID: id, ClientMsgId: id }, Scene: 2 });
    assert.equal((forwarded.BaseResponse as { Ret?: number }).Ret, 0);
    await page.waitForFunction('(() => { const i = document.querySelector("#sent li[data-forwarded=true] img.sent"); return !!i && i.complete && i.naturalWidth > 0 && i.src.startsWith("blob:"); })()', undefined, { timeout: 10_000 });
    assert.match(await page.locator("#sent li[data-forwarded=true] .meta").innerText(), /image \(forwarded\)/);
    assert.deepEqual(await api.violations(), []);
    await page.close();
  });
});
