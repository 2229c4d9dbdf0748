import { strict as assert } from "node:assert";
import { readSyncCheck } from "../../lib/wechat/api";
import { isWeChatError } from "../../lib/wechat/errors";
import { syncPage } from "../../lib/wechat/sync-page";
import { parseScriptVars } from "../../lib/wechat/util/script-vars";

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
