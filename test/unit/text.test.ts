import assert from "node:assert/strict";
import { decodeContent, emojiFromHex, isMentioned, splitGroupPrefix, unescapeXmlContent } from "../../lib/wechat/messages/text";

describe("messages/text decodeContent", () => {
  it("decodes every HTML entity once, not just three", () => {
    assert.equal(decodeContent("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; &nbsp;&hellip; &#x1F604; &copy;"), "a <b> & \"c\" 'd' \u00a0… 😄 ©");
    assert.equal(decodeContent("&amp;lt;script&amp;gt;"), "&lt;script&gt;");
  });

  it("turns <br/> into newlines", () => {
    assert.equal(decodeContent("one<br/>two<br>three<br />four"), "one\ntwo\nthree\nfour");
  });

  it("converts one- and two-code-point emoji spans", () => {
    assert.equal(decodeContent('hi <span class="emoji emoji1f604"></span>!'), "hi 😄!");
    assert.equal(decodeContent('<span class="emoji emoji1f1e81f1f3"></span>'), "🇨🇳");
    assert.equal(decodeContent('<span class="emoji emoji2320e3"></span>'), "#\u20e3");
    assert.equal(decodeContent('<span class="emoji emoji2764"></span>'), "❤");
    assert.equal(decodeContent('<span class="emoji emoji1f44d1f3fb"></span>'), "👍🏻");
  });

  it("emojiFromHex splits sensibly and refuses nonsense", () => {
    assert.equal(emojiFromHex("1f604"), "😄");
    assert.equal(emojiFromHex("1F1FA1F1F8"), "🇺🇸");
    assert.equal(emojiFromHex("3120e3"), "1\u20e3");
    assert.equal(emojiFromHex("2601fe0f"), "☁\ufe0f");
    assert.equal(emojiFromHex("d800"), "");
    assert.equal(emojiFromHex("ffffffffffff"), "");
    assert.equal(emojiFromHex("0"), "");
  });

  it("drops other tags but keeps escaped markup as text", () => {
    assert.equal(decodeContent('<a href="x">link</a> <img src=x onerror=alert(1)>'), "link ");
    assert.equal(decodeContent("&lt;img src=x onerror=alert(1)&gt;"), "<img src=x onerror=alert(1)>");
    assert.equal(decodeContent("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
  });

  it("handles empty, non-string and huge input", () => {
    assert.equal(decodeContent(""), "");
    assert.equal(decodeContent(undefined), "");
    assert.equal(decodeContent(42), "");
    const huge = "&amp;<br/>".repeat(200_000);
    const started = Date.now();
    assert.equal(decodeContent(huge).length, 400_000);
    assert.equal(decodeContent("<".repeat(100_000) + "span class=").length, 100_011);
    assert.ok(Date.now() - started < 2000);
  });

  it("unescapeXmlContent keeps XML markup", () => {
    assert.equal(unescapeXmlContent("&lt;msg&gt;<br/>&lt;title&gt;a &amp;amp; b&lt;/title&gt;&lt;/msg&gt;"), "<msg>\n<title>a &amp; b</title></msg>");
  });
});

describe("messages/text splitGroupPrefix", () => {
  it("splits @member:<br/>text", () => {
    assert.deepEqual(splitGroupPrefix("@abc123:<br/>hello<br/>world"), { memberUserName: "@abc123", body: "hello<br/>world" });
    assert.deepEqual(splitGroupPrefix("@abc:<br/>"), { memberUserName: "@abc", body: "" });
  });

  it("leaves content without a prefix alone", () => {
    assert.deepEqual(splitGroupPrefix("hello"), { memberUserName: undefined, body: "hello" });
    assert.deepEqual(splitGroupPrefix("note: @x:<br/>y"), { memberUserName: undefined, body: "note: @x:<br/>y" });
    assert.deepEqual(splitGroupPrefix("@a b:<br/>x"), { memberUserName: undefined, body: "@a b:<br/>x" });
    assert.deepEqual(splitGroupPrefix(undefined), { memberUserName: undefined, body: "" });
  });
});

describe("messages/text isMentioned", () => {
  it("finds @Name followed by U+2005, a space, or the end", () => {
    assert.equal(isMentioned("@Bob\u2005hi", ["Bob"]), true);
    assert.equal(isMentioned("hi @Bob please", ["Bob"]), true);
    assert.equal(isMentioned("hi @Bob", ["Bob"]), true);
    assert.equal(isMentioned("@小明\u2005在吗", ["小明"]), true);
  });

  it("does not match prefixes of other names or bare names", () => {
    assert.equal(isMentioned("@Bobby hi", ["Bob"]), false);
    assert.equal(isMentioned("Bob hi", ["Bob"]), false);
    assert.equal(isMentioned("@Bobby hi @Bob", ["Bob"]), true);
    assert.equal(isMentioned("@ hi", [""]), false);
    assert.equal(isMentioned("", ["Bob"]), false);
  });

  it("checks every name given", () => {
    assert.equal(isMentioned("@Robert\u2005x", ["Bob", "Robert"]), true);
  });
});

describe("messages/text names keep their text (issue #12 point 9)", () => {
  const name = "Dev <Team> & 朋友";

  it("keeps text that only looks like a tag, sent raw or escaped", () => {
    assert.equal(decodeContent("Dev <Team> & 朋友"), name);
    assert.equal(decodeContent("Dev &lt;Team&gt; &amp; 朋友"), name);
    assert.equal(decodeContent("Project <Alpha> <dev>"), "Project <Alpha> <dev>");
    assert.equal(decodeContent("1 <a2> & <spanish>"), "1 <a2> & <spanish>");
  });

  it("decodes entities once and only with their semicolon (a raw AT&T &copy 2 stays)", () => {
    assert.equal(decodeContent("AT&T &copy 2"), "AT&T &copy 2");
    assert.equal(decodeContent("Tom &amp;amp; Jerry"), "Tom &amp; Jerry");
  });

  it("strips only the server's markup: emoji spans, <br/>, links, QQ faces and a few real tags", () => {
    assert.equal(decodeContent('<span class="emoji emoji1f604"></span><span class="emoji emoji1f389"></span>'), "😄🎉");
    assert.equal(decodeContent('你邀请<a href="weixin://findfriend/verifycontact">Dev <Team></a>加入了群聊'), "你邀请Dev <Team>加入了群聊");
    assert.equal(decodeContent('ok <img class="qqemoji qqemoji13" text="[Grin]_web" src="/zh_CN/htmledition/v2/images/spacer.gif" />!'), "ok [Grin]!");
    assert.equal(decodeContent('<font color="red">red</font> <b>bold</b><br/>next'), "red bold\nnext");
  });
});
