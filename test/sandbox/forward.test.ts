import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../../lib/sandbox";
import { SandboxClient } from "../support/sandbox";
import { WebClient, type Json } from "./webclient";

const ret = (d: Json): unknown => (d.BaseResponse as Json).Ret;

/** The wire checks of forwards by reference (docs/protocol.md section 6, "Forwarding"): exactly the fields real clients send. */
describe("sandbox: forwards are strict", () => {
  let sb: Sandbox;
  let api: SandboxClient;
  let c: WebClient;
  let image: Json;
  beforeEach(async () => {
    sb = await startSandbox({ longPollMs: 400, contacts: 20, seed: 12 });
    api = new SandboxClient(sb);
    c = new WebClient(sb.url);
    await c.login((uuid) => api.scan({ uuid }));
    await c.receive();
    const friend = (await api.worldContacts({ kind: "friend" }))[0]!;
    await api.inject({ from: friend.remarkName || friend.nickName, type: "image" });
    image = (await c.receive()).find((m) => m.MsgType === 3)!;
    assert.ok(image);
  });
  afterEach(async () => {
    await sb.close();
  });

  const forward = (msg: Json, body: Json = {}): Promise<Json> => {
    const id = c.localId();
    const content = String(image.Content).replace(/&lt;/g, "<").replace(/&gt;/g, ">");
    const full = { Type: 3, MediaId: "", Content: content, FromUserName: c.self.UserName, ToUserName: "filehelper", LocalID: id, ClientMsgId: id, ...msg };
    for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k as keyof typeof full];
    return c.post("webwxsendmsgimg", "fun=async&f=json", { Msg: full, Scene: 2, ...body });
  };

  it("takes the fields wechat4u and the web client send, and delivers nothing for a wrong one", async () => {
    assert.equal(ret(await forward({})), 0);
    assert.deepEqual(await api.violations(), []);
    const refusals: Array<[Json, Json, string]> = [
      [{ Signature: "x" }, {}, "forward-field-unknown"],
      [{}, { Extra: 1 }, "forward-field-unknown"],
      [{ Content: undefined }, {}, "field-missing"],
      [{ MediaId: "@crypt_1" }, {}, "field-invalid"],
      [{ Content: "<msg><img cdnmidimgurl=\"nope\" /></msg>" }, {}, "forward-unknown"],
    ];
    for (const [msg, body, rule] of refusals) {
      await api.clearViolations();
      assert.equal(ret(await forward(msg, body)), 1, rule);
      assert.deepEqual((await api.violations()).map((v) => v.rule), [rule]);
    }
    await api.clearViolations();
    assert.equal((await api.sent()).length, 1, "only the good forward went out");
  });
});
