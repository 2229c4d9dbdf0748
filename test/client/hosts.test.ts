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
  it("derives push and file hosts by suffix, as the official client does", () => {
    const family = (page: string): string[] => {
      const h = hostsFor(`https://${page}/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=t`);
      assert.equal(h.page, `https://${page}`, `${page}: page calls stay on the page host`);
      return [h.login, h.push, h.file];
    };
    const wx = ["https://login.wx.qq.com", "https://webpush.wx.qq.com", "https://file.wx.qq.com"];
    const wx2 = ["https://login.wx2.qq.com", "https://webpush.wx2.qq.com", "https://file.wx2.qq.com"];
    const wx8 = ["https://login.wx8.qq.com", "https://webpush.wx8.qq.com", "https://file.wx8.qq.com"];
    const web = ["https://login.web.wechat.com", "https://webpush.web.wechat.com", "https://file.web.wechat.com"];
    const web2 = ["https://login.web2.wechat.com", "https://webpush.web2.wechat.com", "https://file.web2.wechat.com"];
    for (const page of ["wx.qq.com", "szfilehelper.weixin.qq.com", "weixin.qq.com", "wx3.qq.com", "login.wx.qq.com", "WX.QQ.COM"]) {
      assert.deepEqual(family(page.toLowerCase()), wx, page);
    }
    for (const page of ["wx2.qq.com", "sz.wx2.qq.com", "login.wx2.qq.com"]) assert.deepEqual(family(page), wx2, page);
    for (const page of ["wx8.qq.com", "szwx8.qq.com"]) assert.deepEqual(family(page), wx8, page);
    for (const page of ["web.wechat.com", "wechat.com", "web1.wechat.com", "sz.web.wechat.com"]) assert.deepEqual(family(page), web, page);
    for (const page of ["web2.wechat.com", "x.web2.wechat.com"]) assert.deepEqual(family(page), web2, page);
    assert.equal(hostsFor("https://WX2.qq.com/").push, "https://webpush.wx2.qq.com");
    // Look-alikes are not WeChat domains: their own origin for everything.
    for (const page of ["notqq.com", "qq.com.evil.example", "mywechat.com"]) {
      assert.equal(hostsFor(`https://${page}/`).push, `https://${page}`, page);
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
