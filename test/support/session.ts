import type { SavedSession } from "../../lib/wechat/session-store";

/** A saved session whose secrets are easy to look for in what a store writes (a file, a Redis value). */
export function sampleSession(savedAt = 1): SavedSession {
  return {
    version: 1,
    pageUrl: "https://wx2.qq.com",
    uin: 123456,
    sid: "SIDSECRETVALUE",
    skey: "@crypt_SKEYSECRET",
    passTicket: "qg%2BL%2Bfj%3D",
    deviceId: "e123456789012345",
    user: { userName: "@abc", nickName: "Me", uin: 123456 },
    syncKey: { Count: 1, List: [{ Key: 1, Val: 2 }] },
    syncCheckKey: { Count: 1, List: [{ Key: 1, Val: 3 }] },
    cookies: { cookies: [{ key: "webwx_data_ticket", value: "COOKIESECRET" }] },
    savedAt,
  };
}
