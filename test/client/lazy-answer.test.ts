import { strict as assert } from "node:assert";
import { SessionApi } from "../../lib/wechat/api";
import { isWeChatError } from "../../lib/wechat/errors";
import { HttpClient } from "../../lib/wechat/http";
import { Session } from "../../lib/wechat/session";
import { serve } from "../support/http-server";

/** A page host answering each endpoint with a fixed body (laid out as the real server does). */
async function pageHost(bodies: Record<string, string>): Promise<{ api: SessionApi; close: () => Promise<void> }> {
  const server = await serve((req, res) => {
    const endpoint = (req.url ?? "").split("?")[0]?.split("/").pop() ?? "";
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(bodies[endpoint] ?? "{}");
  });
  const client = new HttpClient();
  const session = new Session(server.origin, 1, "sid", "skey", "pt", "e123456789012345", { userName: "@me", nickName: "Me", uin: 1 });
  return {
    api: new SessionApi(client, session),
    close: async () => {
      client.close();
      await server.close();
    },
  };
}

const ok = '"BaseResponse": {\n"Ret": 0,\n"ErrMsg": ""\n}\n';

describe("client paged answers: the keys first, the lists when read (#19)", () => {
  it("webwxgetcontact: Seq at once; the contacts parsed when read, PROTOCOL when they are not JSON", async () => {
    const host = await pageHost({
      webwxgetcontact: `{\n${ok},\n"MemberCount": 2,\n"MemberList": [{\n"UserName": "@a",\n"NickName": "A"\n}\n, {"UserName": "@b" "NickName": "B"}]\n,\n"Seq": 1000\n}\n`,
    });
    try {
      const page = await host.api.getContactPage(0);
      assert.equal(page.seq, 1000);
      assert.throws(() => page.members, (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true);
    } finally {
      await host.close();
    }
  });

  it("webwxsync: the keys and ContinueFlag at once, the messages (ids with every digit) when read", async () => {
    const key = '{\n"Count": 1,\n"List": [{\n"Key": 1,\n"Val": 42\n}\n]\n}';
    const host = await pageHost({
      webwxsync: `{\n${ok},\n"AddMsgCount": 1,\n"AddMsgList": [{\n"MsgId": "4000000001000000268",\n"NewMsgId": 4000000001000000268,\n"MsgType": 1,\n"Content": "hi"\n}\n]\n,\n"ContinueFlag": 1,\n"SyncKey": ${key},\n"SKey": "@new",\n"SyncCheckKey": ${key}\n}\n`,
    });
    try {
      const answer = await host.api.sync();
      assert.equal(answer.continueFlag, 1);
      assert.equal(answer.syncKey?.List[0]?.Val, 42);
      assert.equal(answer.skey, "@new");
      assert.equal(answer.addMsgList[0]?.NewMsgId, "4000000001000000268");
    } finally {
      await host.close();
    }
  });
});
