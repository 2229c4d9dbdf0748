import { strict as assert } from "node:assert";
import { hostsFor, loginOrigin } from "../../lib/wechat/hosts";

describe("client hosts", () => {
  it("maps every page host of the table", () => {
    const h = hostsFor("https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=x&uuid=y");
    assert.deepEqual(h, {
      page: "https://wx2.qq.com",
      login: "https://login.wx2.qq.com",
      push: "https://webpush.wx2.qq.com",
      file: "https://file.wx2.qq.com",
    });
    for (const host of ["wx.qq.com", "wx8.qq.com", "web.wechat.com", "web2.wechat.com"]) {
      assert.equal(hostsFor(`https://${host}/x`).push, `https://webpush.${host}`);
      assert.equal(hostsFor(`https://${host}/x`).file, `https://file.${host}`);
    }
  });
  it("uses an unknown host's own origin for everything", () => {
    const h = hostsFor("http://127.0.0.1:4567/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=1");
    assert.deepEqual(h, {
      page: "http://127.0.0.1:4567",
      login: "http://127.0.0.1:4567",
      push: "http://127.0.0.1:4567",
      file: "http://127.0.0.1:4567",
    });
    assert.equal(hostsFor("https://wx.qq.com:8443/").push, "https://wx.qq.com:8443");
    assert.equal(hostsFor("https://evil.example/").file, "https://evil.example");
  });
  it("defaults the login origin", () => {
    assert.equal(loginOrigin(undefined), "https://login.wx.qq.com");
    assert.equal(loginOrigin("http://127.0.0.1:9/some/path?q=1"), "http://127.0.0.1:9");
  });
});
