import assert from "node:assert/strict";
import { parseXml, escapeXml, readXmlTags, xmlString, xmlPath } from "../../lib/wechat/util/xml";
import { isWeChatError } from "../../lib/wechat/errors";

function assertProtocol(fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => isWeChatError(error, "PROTOCOL"));
}

describe("util/xml parseXml", () => {
  it("parses the login ticket XML with every value kept as a string", () => {
    const xml =
      "<error><ret>0</ret><message></message><skey>@crypt_8b4f09cc_a587</skey><wxsid>+urBrYI292xoIknf</wxsid>" +
      "<wxuin>211722515</wxuin><pass_ticket>qg%2BL%2BfjNnoHyqYsL3xj0KoNi5nqchsInPWWSxDwqCJ8%3D</pass_ticket><isgrayscale>1</isgrayscale></error>";
    const doc = parseXml(xml);
    assert.equal(xmlString(doc, "error", "ret"), "0");
    assert.equal(xmlPath(doc, "error", "ret"), "0");
    assert.equal(xmlString(doc, "error", "message"), "");
    assert.equal(xmlString(doc, "error", "wxuin"), "211722515");
    assert.equal(typeof xmlPath(doc, "error", "wxuin"), "string");
    assert.equal(xmlString(doc, "error", "pass_ticket"), "qg%2BL%2BfjNnoHyqYsL3xj0KoNi5nqchsInPWWSxDwqCJ8%3D");
    assert.equal(xmlString(doc, "error", "skey"), "@crypt_8b4f09cc_a587");
  });

  it("keeps leading zeros, big ids and attributes as strings", () => {
    const doc = parseXml(`<msg><appmsg appid="wx1" sdkver="0"><msgid>8173638466587391029</msgid><x>007</x></appmsg></msg>`);
    assert.equal(xmlString(doc, "msg", "appmsg", "msgid"), "8173638466587391029");
    assert.equal(xmlString(doc, "msg", "appmsg", "x"), "007");
    assert.equal(xmlPath(doc, "msg", "appmsg", "@_appid"), "wx1");
    assert.equal(xmlPath(doc, "msg", "appmsg", "@_sdkver"), "0");
  });

  it("keeps CDATA as trimmed text and decodes the XML entities", () => {
    const doc = parseXml(
      `<?xml version="1.0"?>\n<sysmsg type="revokemsg"><revokemsg><msgid> 123 </msgid>` +
        `<replacemsg><![CDATA["Ann" recalled a message]]></replacemsg><t>a &amp; b &lt;c&gt;</t></revokemsg></sysmsg>`,
    );
    assert.equal(xmlString(doc, "sysmsg", "revokemsg", "msgid"), "123");
    assert.equal(xmlString(doc, "sysmsg", "revokemsg", "replacemsg"), '"Ann" recalled a message');
    assert.equal(xmlString(doc, "sysmsg", "revokemsg", "t"), "a & b <c>");
    assert.equal(xmlPath(doc, "sysmsg", "@_type"), "revokemsg");
  });

  it("refuses DOCTYPE and ENTITY declarations (billion laughs)", () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>';
    assertProtocol(() => parseXml(laughs));
    assertProtocol(() => parseXml('<!doctype x SYSTEM "file:///etc/passwd"><x/>'));
    assertProtocol(() => parseXml('<a><!ENTITY x "y"></a>'));
  });

  it("refuses input over maxBytes quickly, counting UTF-8 bytes", () => {
    const big = "<a>" + "x".repeat(2 * 1024 * 1024) + "</a>";
    const started = process.hrtime.bigint();
    assertProtocol(() => parseXml(big));
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 200, "refusal must be fast");
    // 10 chars of 3 bytes each = 30 bytes + tags
    assertProtocol(() => parseXml("<a>" + "中".repeat(10) + "</a>", { maxBytes: 20 }));
    assert.equal(xmlString(parseXml("<a>中</a>", { maxBytes: 20 }), "a"), "中");
  });

  it("turns malformed, empty and non-XML input into PROTOCOL errors, never a crash", () => {
    for (const bad of ["", "   ", "<a><b></a>", "<a>", "not xml at all", "<a></b>", "<a x=1></a>", "<<>>", "</a>", "<a><b></b>"]) {
      assertProtocol(() => parseXml(bad));
    }
    assertProtocol(() => parseXml(undefined as unknown as string));
  });

  it("refuses absurd nesting instead of recursing", () => {
    const deep = "<a>".repeat(500) + "x" + "</a>".repeat(500);
    assertProtocol(() => parseXml(deep));
  });

  it("error messages never echo the document content", () => {
    try {
      parseXml("<error><skey>@crypt_secret</skey><wxsid>sid</error>");
      assert.fail("should throw");
    } catch (error) {
      assert.ok(isWeChatError(error, "PROTOCOL"));
      assert.ok(!error.message.includes("@crypt_secret"));
    }
  });
});

describe("util/xml escapeXml", () => {
  it("escapes the five XML characters and round-trips through parseXml", () => {
    const name = `a<b>&"c'd 中文.pdf`;
    const escaped = escapeXml(name);
    assert.equal(escaped, "a&lt;b&gt;&amp;&quot;c&apos;d 中文.pdf");
    assert.equal(xmlString(parseXml(`<t>${escaped}</t>`), "t"), name);
    assert.equal(xmlPath(parseXml(`<t v='${escaped}'/>`), "t", "@_v"), name);
  });

  it("drops characters XML cannot hold", () => {
    assert.equal(escapeXml("a\u0000b\u0007c\td\ne"), "abc\td\ne");
    assert.equal(escapeXml("x\uD800y"), "xy");
    assert.equal(escapeXml("😄"), "😄");
  });
});

describe("util/xml entities", () => {
  it("decodes numeric and HTML references once, leaves CDATA alone", () => {
    const doc = parseXml('<a t="&#x41;&amp;&lt;"><b>&#x1F604;&#65;&amp;lt;&copy;</b><c><![CDATA[&amp; raw]]></c></a>');
    assert.equal(xmlString(doc, "a", "b"), "😄A&lt;©");
    assert.equal(xmlString(doc, "a", "c"), "&amp; raw");
    assert.equal(xmlPath(doc, "a", "@_t"), "A&<");
  });

  it("refuses several roots and a bare ampersand", () => {
    assertProtocol(() => parseXml("<a>1</a><b>2</b>"));
    assertProtocol(() => parseXml("<a>x & y</a>"));
  });
});

describe("util/xml readXmlTags", () => {
  const TAGS = ["ret", "message", "skey", "wxsid", "wxuin", "pass_ticket"] as const;
  /** What the parser reads: the text of each tag present under the root. */
  function parsed(xml: string, root: string): Record<string, string> {
    const doc = parseXml(xml);
    const out: Record<string, string> = {};
    for (const tag of TAGS) if (xmlPath(doc, root, tag) !== undefined) out[tag] = xmlString(doc, root, tag);
    return out;
  }

  it("reads a plain tickets page (no parser) as the parser reads it", () => {
    const plainOnes = [
      "<error><ret>0</ret><message></message><skey>@crypt_1a2b3c4d_0042</skey><wxsid>Xq3+AbCdEf9GhIjK</wxsid>" +
        "<wxuin>123456789</wxuin><pass_ticket>aB%2BcD%2FeF%3D</pass_ticket><isgrayscale>1</isgrayscale></error>",
      "<error>\n  <ret>1203</ret>\n  <message> 当前登录环境异常。为了你的帐号安全，暂时不能登录web微信。 </message>\n</error>",
      "<error><ret>0</ret><ret>5</ret><skey></skey></error>",
      "<error></error>",
    ];
    for (const xml of plainOnes) assert.deepEqual(readXmlTags(xml, "error", TAGS), parsed(xml, "error"), xml);
    assert.deepEqual(readXmlTags(plainOnes[0] as string, "error", TAGS), {
      ret: "0",
      message: "",
      skey: "@crypt_1a2b3c4d_0042",
      wxsid: "Xq3+AbCdEf9GhIjK",
      wxuin: "123456789",
      pass_ticket: "aB%2BcD%2FeF%3D",
    });
  });

  it("reads any other well-formed page through the parser (entities, CDATA, attributes, a declaration, another root)", () => {
    const others = [
      "<error><ret>1</ret><message>a &amp; b &lt;c&gt; &#x4E2D;</message></error>",
      "<error><ret>1</ret><message><![CDATA[x <y> z]]></message></error>",
      '<error><ret code="1">2</ret><skey>k</skey></error>',
      '<?xml version="1.0" encoding="utf-8"?><error><ret>0</ret></error>',
      "<error><ret>0<!-- note --></ret><wxuin>7</wxuin></error>",
      "<other><ret>0</ret></other>",
    ];
    for (const xml of others) assert.deepEqual(readXmlTags(xml, "error", TAGS), parsed(xml, "error"), xml);
    assert.equal(readXmlTags(others[0] as string, "error", TAGS).message, "a & b <c> 中");
  });

  it("still reads a page that is not well-formed element by element, and keeps the size and DTD rules", () => {
    assert.deepEqual(readXmlTags("<error><ret>1203</ret><message>refused<br></message>", "error", ["ret", "message"]), { ret: "1203", message: "refused" });
    assertProtocol(() => readXmlTags('<!DOCTYPE x [<!ENTITY a "b">]><error><ret>0</ret></error>', "error", TAGS));
    assertProtocol(() => readXmlTags(`<error><ret>${"0".repeat(100)}</ret></error>`, "error", TAGS, { maxBytes: 64 }));
  });
});
