import { strict as assert } from "node:assert";
import type * as http from "node:http";
import { SessionApi, type SyncAnswer, readSyncCheck } from "../../lib/wechat/api";
import { HttpClient } from "../../lib/wechat/http";
import { Session } from "../../lib/wechat/session";
import { isWeChatError } from "../../lib/wechat/errors";
import { syncPage } from "../../lib/wechat/sync-page";
import { parseScriptVars } from "../../lib/wechat/util/script-vars";
import { serve } from "../support/http-server";

/** What the general reader of script answers makes of a synccheck answer. */
function general(text: string): { retcode: number; selector: string | undefined } {
  const vars = parseScriptVars(text);
  return { retcode: Number(vars["synccheck.retcode"]), selector: vars["synccheck.selector"] };
}

describe("client sync answers read on the short way (#19)", () => {
  it("synccheck: the layout the server sends and every other layout read alike", () => {
    for (const text of [
      'window.synccheck={retcode:"0",selector:"2"}',
      'window.synccheck={retcode:"0",selector:"0"}\n',
      'window.synccheck={retcode:"1101",selector:"0"};',
      ' window.synccheck = { retcode : "0" , selector : "7" } ;\n',
      "window.synccheck = { \"retcode\" : '1101', selector : 0 };",
      'window.synccheck={selector:"6",retcode:"0"}',
      'window.synccheck={retcode:"0",selector:"2",extra:"1"}',
    ]) {
      assert.deepEqual(readSyncCheck(text), general(text), text);
    }
  });

  it("synccheck: an answer without retcode and selector is PROTOCOL", () => {
    for (const text of ["<html>502 Bad Gateway</html>", "", 'window.synccheck={retcode:"0"}', 'window.synccheck={retcode:"x",selector:"2"}']) {
      assert.throws(() => readSyncCheck(text), (e) => isWeChatError(e, "PROTOCOL"), text);
    }
  });

  const key = '{"Count":1,"List":[{"Key":1,"Val":42}]}';
  const page = (base: string, list: string): Buffer =>
    Buffer.from(`{"BaseResponse":${base},"AddMsgCount":1,"AddMsgList":${list},"ModContactCount":0,"ModContactList":[],"ContinueFlag":0,"SyncKey":${key},"SyncCheckKey":${key},"SKey":""}`);

  it("a small page: keys and messages read at once, message ids with every digit", () => {
    const answer = syncPage(page('{"Ret":0,"ErrMsg":""}', '[{"MsgId":4000000001000000268,"MsgType":1,"Content":"hi"}]'));
    assert.equal(answer.syncKey?.List[0]?.Val, 42);
    assert.equal(answer.continueFlag, 0);
    assert.equal(answer.skey, undefined);
    assert.equal(answer.addMsgList[0]?.MsgId, "4000000001000000268");
    assert.deepEqual(answer.modContactList, []);
  });

  it("a small page refused: its typed error; one whose messages cannot be read: keys still, PROTOCOL on the list", () => {
    assert.throws(() => syncPage(page('{"Ret":1101,"ErrMsg":""}', "[]")), (e) => isWeChatError(e, "SESSION_EXPIRED"));
    const broken = syncPage(page('{"Ret":0,"ErrMsg":""}', '[{"MsgId":1 "MsgType":1}]'));
    assert.equal(broken.syncKey?.List[0]?.Val, 42);
    assert.throws(() => broken.addMsgList, (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true);
  });
});

describe("client webwxsync made ready before it is sent (#19)", () => {
  type Seen = { url: string; headers: http.IncomingHttpHeaders; body: string; port: number };

  /**
   * Runs `test` against a page host that records each call (its query, headers, body and client port) and answers
   * synccheck by its counter `_` (0: nothing new, else a message) and webwxsync with an empty page.
   */
  async function withPageHost(test: (origin: string, seen: Seen[], client: HttpClient) => Promise<void>): Promise<void> {
    const seen: Seen[] = [];
    const host = await serve((req, res, body) => {
      seen.push({ url: req.url ?? "", headers: req.headers, body, port: req.socket.remotePort ?? 0 });
      res.writeHead(200, { "content-type": "text/plain" });
      const counter = /synccheck\?.*[?&]_=(\d+)/.exec(req.url ?? "")?.[1];
      if (counter !== undefined) {
        res.end(`window.synccheck={retcode:"0",selector:"${counter === "0" ? "0" : "2"}"}`);
        return;
      }
      res.end(`{"BaseResponse":{"Ret":0,"ErrMsg":""},"AddMsgCount":0,"AddMsgList":[],"ContinueFlag":0,"SyncKey":{"Count":1,"List":[{"Key":1,"Val":${seen.length + 100}}]},"SKey":""}`);
    });
    const client = new HttpClient();
    try {
      await test(host.origin, seen, client);
    } finally {
      client.close();
      await host.close();
    }
  }

  /** A request without what differs from one call to the next by design: the DeviceID and rr. */
  const comparable = (r: Seen) => {
    const body = JSON.parse(r.body) as { BaseRequest: Record<string, unknown>; rr: unknown };
    assert.match(String(body.BaseRequest.DeviceID), /^e\d{15}$/);
    assert.equal(typeof body.rr, "number");
    const { host: _host, ...headers } = r.headers;
    return { url: r.url, headers, keys: Object.keys(body), base: { ...body.BaseRequest, DeviceID: "" }, rest: { ...body, BaseRequest: undefined, rr: undefined } };
  };

  it("sends what an unprepared call sends, with its own DeviceID and the rr of the moment it goes out", async () => {
    await withPageHost(async (origin, seen, client) => {
      const session = new Session(`${origin}/`, 42, "sid-1", "@crypt_k1", "pt%2B1", "e123456789012345");
      session.user = { userName: "@self", nickName: "me", uin: 42 };
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const api = new SessionApi(client, session);
      await api.sync();
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const ready = api.prepareSync();
      const before = Math.floor(Date.now() / 1000);
      await api.sync(ready);
      const after = Math.floor(Date.now() / 1000);
      assert.equal(seen.length, 2);
      const [plain, prepared] = seen.map(comparable);
      assert.deepEqual(prepared, plain);
      assert.deepEqual(JSON.parse(seen[1]!.body).SyncKey, { Count: 1, List: [{ Key: 1, Val: 7 }] });
      assert.notEqual(JSON.parse(seen[0]!.body).BaseRequest.DeviceID, JSON.parse(seen[1]!.body).BaseRequest.DeviceID);
      // rr is ~seconds at the moment the call went out, not when it was made ready.
      const sentAt = ~(JSON.parse(seen[1]!.body).rr as number);
      assert.ok(sentAt >= before && sentAt <= after, `rr ${sentAt} outside ${before}..${after}`);
    });
  });

  it("is not sent once the keys changed after it was made: the call is made afresh with the new ones", async () => {
    await withPageHost(async (origin, seen, client) => {
      const session = new Session(`${origin}/`, 42, "sid-1", "@crypt_old", "pt", "e123456789012345");
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const api = new SessionApi(client, session);
      const stale = api.prepareSync();
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 8 }] };
      await api.sync(stale);
      const staleSkey = api.prepareSync();
      session.skey = "@crypt_new";
      await api.sync(staleSkey);
      const [first, second] = seen.map((r) => ({ url: r.url, body: JSON.parse(r.body) as { SyncKey: unknown; BaseRequest: { Skey: string } } }));
      assert.deepEqual(first!.body.SyncKey, { Count: 1, List: [{ Key: 1, Val: 8 }] });
      assert.match(second!.url, /skey=%40crypt_new/);
      assert.equal(second!.body.BaseRequest.Skey, "@crypt_new");
    });
  });

  it("a synccheck that says 'new messages' sends the prepared webwxsync before it returns; one that says nothing sends none", async () => {
    await withPageHost(async (origin, seen, client) => {
      const session = new Session(`${origin}/`, 42, "sid-1", "@crypt_k1", "pt", "e123456789012345");
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const api = new SessionApi(client, session);
      const quiet = await api.syncCheck(0, api.prepareSync());
      assert.deepEqual(quiet, { retcode: 0, selector: "0" });
      const check = await api.syncCheck(1, api.prepareSync());
      assert.equal(check.selector, "2");
      assert.ok(check.sync, "the webwxsync went out with the answer");
      const page = await check.sync;
      assert.equal(page.syncKey?.List[0]?.Val, 103);
      assert.deepEqual(
        seen.map((r) => r.url.split("?")[0]),
        ["/cgi-bin/mmwebwx-bin/synccheck", "/cgi-bin/mmwebwx-bin/synccheck", "/cgi-bin/mmwebwx-bin/webwxsync"],
      );
      assert.deepEqual(JSON.parse(seen[2]!.body).SyncKey, { Count: 1, List: [{ Key: 1, Val: 7 }] });
      // One origin: over the synccheck's own connection, known to be open, not another that may have idled out.
      assert.equal(seen[2]!.port, seen[1]!.port);
      // Without a prepared call, the answer is only read.
      const plain = await api.syncCheck(3);
      assert.deepEqual(plain, { retcode: 0, selector: "2" });
      assert.equal(seen.length, 4);
    });
  });

  it("tells onPage the page in its answer's own event, before the call settles with that same page; prepared or not, and not an answer that is not HTTP 200", async () => {
    await withPageHost(async (origin, seen, client) => {
      const session = new Session(`${origin}/`, 42, "sid-1", "@crypt_k1", "pt", "e123456789012345");
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const api = new SessionApi(client, session);
      for (const prepared of [true, false]) {
        const told: SyncAnswer[] = [];
        let settled = false;
        const onPage = (page: SyncAnswer): void => {
          // Told while the call is still open: its promise has not settled (a reaction would have run by now otherwise).
          assert.equal(settled, false);
          told.push(page);
        };
        const call = prepared ? api.sync(api.prepareSync(onPage)) : api.sync(undefined, onPage);
        const page = await call.then((answer) => {
          settled = true;
          return answer;
        });
        assert.equal(told.length, 1, prepared ? "prepared" : "made at once");
        assert.equal(told[0], page, "the same page the call settles with");
        assert.equal(page.syncKey?.List[0]?.Val, seen.length + 100);
      }
    });
    // An answer the call does not take as a page (here HTTP 500, then 400) is not told: the call fails as without the hook.
    let requests = 0;
    const host = await serve((_req, res) => {
      res.writeHead(++requests === 1 ? 500 : 400, { "content-type": "text/plain" });
      res.end(`{"BaseResponse":{"Ret":0,"ErrMsg":""},"AddMsgList":[],"ContinueFlag":0,"SyncKey":{"Count":1,"List":[{"Key":1,"Val":9}]}}`);
    });
    const client = new HttpClient({ retryDelayMs: 1 });
    try {
      const api = new SessionApi(client, new Session(`${host.origin}/`, 42, "sid-1", "@crypt_k1", "pt", "e123456789012345"));
      const told: SyncAnswer[] = [];
      await assert.rejects(api.sync(undefined, (page) => told.push(page)), (e) => isWeChatError(e, "SERVER"));
      assert.equal(requests, 2, "the 500 was retried once");
      assert.deepEqual(told, []);
    } finally {
      client.close();
      await host.close();
    }
  });

  it("writes the prepared webwxsync once the synccheck's caller has the answer: the caller's work comes before the write, not after it", async () => {
    await withPageHost(async (origin, seen, client) => {
      const session = new Session(`${origin}/`, 42, "sid-1", "@crypt_k1", "pt", "e123456789012345");
      session.syncKey = { Count: 1, List: [{ Key: 1, Val: 7 }] };
      const api = new SessionApi(client, session);
      let returned = false;
      let returnedWhenSent: boolean | undefined;
      const sendPrepared = client.sendPrepared.bind(client);
      client.sendPrepared = (prepared, body) => {
        returnedWhenSent = returned;
        return sendPrepared(prepared, body);
      };
      const check = await api.syncCheck(1, api.prepareSync()).then((answer) => {
        returned = true;
        return answer;
      });
      assert.ok(check.sync, "the webwxsync went out with the answer");
      await check.sync;
      // Written before, the server woken on this core answered first and the caller's work came between its answer and
      // the reading of it (issue #19).
      assert.equal(returnedWhenSent, true, "the webwxsync was written before the synccheck's caller had its answer");
      assert.equal(seen.length, 2);
    });
  });
});
