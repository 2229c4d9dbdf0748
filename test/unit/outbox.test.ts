import assert from "node:assert/strict";
import { buildFileAppMsg, buildFileAppMsgFields } from "../../lib/wechat/outbox/appmsg";
import { uploadPlan, UPLOAD_CHUNK_SIZE } from "../../lib/wechat/outbox/upload";
import { buildMentionSource, mentionText } from "../../lib/wechat/outbox/mention";
import { parseXml, xmlString } from "../../lib/wechat/util/xml";
import { isWeChatError } from "../../lib/wechat/errors";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
const GIF = Buffer.from("GIF89a\x01\x00\x01\x00", "latin1");
const MP4 = Buffer.from("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "latin1");
const MB = 1024 * 1024;

function code(expected: string) {
  return (error: unknown) => isWeChatError(error, expected as never);
}

describe("outbox/buildFileAppMsg", () => {
  it("builds the exact web XML", () => {
    const xml = buildFileAppMsg({ title: "report.pdf", size: 20480, mediaId: "@crypt_abc", ext: "pdf" });
    assert.equal(
      xml,
      "<appmsg appid='wxeb7ec651dd0aefa9' sdkver=''><title>report.pdf</title><des></des><action></action><type>6</type>" +
        "<content></content><url></url><lowurl></lowurl><appattach><totallen>20480</totallen><attachid>@crypt_abc</attachid>" +
        "<fileext>pdf</fileext></appattach><extinfo></extinfo></appmsg>",
    );
  });

  it("uses the web appid (desktop mode sends it too) and escapes the title", () => {
    const xml = buildFileAppMsg({ title: `a<b>&"c'.txt`, size: 1, mediaId: "@m", ext: "txt" });
    assert.ok(xml.startsWith("<appmsg appid='wxeb7ec651dd0aefa9' sdkver=''><title>a&lt;b&gt;&amp;&quot;c&apos;.txt</title>"));
    const doc = parseXml(xml);
    assert.equal(xmlString(doc, "appmsg", "title"), `a<b>&"c'.txt`);
    assert.equal(xmlString(doc, "appmsg", "appattach", "totallen"), "1");
  });

  it("puts a signature beside the Content, not inside it", () => {
    const input = { title: "big.zip", size: 30 * MB, mediaId: "@m", ext: "zip", signature: "sig123" };
    const fields = buildFileAppMsgFields(input);
    assert.equal(fields.Type, 6);
    assert.equal(fields.Signature, "sig123");
    assert.equal(fields.Content, buildFileAppMsg(input));
    assert.equal(buildFileAppMsgFields({ ...input, signature: undefined }).Signature, undefined);
  });

  it("puts a checkupload Signature both beside the Content and inside <appattach>", () => {
    const input = { title: "big.zip", size: 30 * 1024 * 1024, mediaId: "@m", ext: "zip", desktop: false, signature: "sig<1>" };
    const fields = buildFileAppMsgFields(input);
    assert.equal(fields.Signature, "sig<1>");
    assert.equal(xmlString(parseXml(fields.Content), "appmsg", "appattach", "signature"), "sig<1>");
    assert.ok(!buildFileAppMsg({ ...input, signature: undefined }).includes("signature"));
  });

  it("refuses a bad size or a missing media id", () => {
    assert.throws(() => buildFileAppMsg({ title: "x", size: -1, mediaId: "@m", ext: "" }), code("INVALID_ARGUMENT"));
    assert.throws(() => buildFileAppMsg({ title: "x", size: 1.5, mediaId: "@m", ext: "" }), code("INVALID_ARGUMENT"));
    assert.throws(() => buildFileAppMsg({ title: "x", size: 1, mediaId: "", ext: "" }), code("INVALID_ARGUMENT"));
  });
});

describe("outbox/uploadPlan", () => {
  it("plans an image: pic, one chunk", () => {
    const plan = uploadPlan(PNG, "photo.png", "image/png");
    assert.equal(plan.sendAs, "image");
    assert.equal(plan.mediatype, "pic");
    assert.deepEqual(plan.chunks, [{ start: 0, end: PNG.length }]);
    assert.equal(plan.needsCheckUpload, false);
    assert.equal(plan.ext, "png");
  });

  it("sniffs the mime when none is given: gif is a sticker uploaded as doc, mp4 a video", () => {
    const gif = uploadPlan(GIF, "funny.gif");
    assert.equal(gif.sendAs, "sticker");
    assert.equal(gif.mediatype, "doc");
    assert.equal(gif.mime, "image/gif");
    const video = uploadPlan(MP4, "clip.mp4");
    assert.equal(video.sendAs, "video");
    assert.equal(video.mediatype, "video");
    const doc = uploadPlan(Buffer.from("hello"), "notes.txt");
    assert.equal(doc.sendAs, "file");
    assert.equal(doc.mediatype, "doc");
    assert.equal(doc.mime, "text/plain");
  });

  it("honours an explicit form and refuses impossible ones", () => {
    assert.equal(uploadPlan(PNG, "p.png", "image/png", "file").mediatype, "pic");
    assert.equal(uploadPlan(PNG, "p.png", "image/png; charset=binary", "sticker").sendAs, "sticker");
    assert.throws(() => uploadPlan(Buffer.from("x"), "a.txt", "text/plain", "image"), code("INVALID_ARGUMENT"));
    assert.throws(() => uploadPlan(GIF, "a.gif", undefined, "video"), code("INVALID_ARGUMENT"));
  });

  it("chunks at 524288 bytes", () => {
    const data = Buffer.alloc(UPLOAD_CHUNK_SIZE * 2 + 10, 1);
    const plan = uploadPlan(data, "blob.bin");
    assert.deepEqual(plan.chunks, [
      { start: 0, end: 524288 },
      { start: 524288, end: 1048576 },
      { start: 1048576, end: 1048586 },
    ]);
    assert.equal(uploadPlan(Buffer.alloc(UPLOAD_CHUNK_SIZE), "x.bin").chunks.length, 1);
  });

  it("needs webwxcheckupload over 25 MB", () => {
    assert.equal(uploadPlan(Buffer.alloc(25 * MB), "a.bin").needsCheckUpload, false);
    assert.equal(uploadPlan(Buffer.alloc(25 * MB + 1), "a.bin").needsCheckUpload, true);
  });

  it("enforces the limits", () => {
    assert.throws(() => uploadPlan(Buffer.alloc(0), "empty.txt"), code("INVALID_ARGUMENT"));
    assert.throws(() => uploadPlan("text" as unknown as Buffer, "a.txt"), code("INVALID_ARGUMENT"));
    const bigVideo = Buffer.concat([MP4, Buffer.alloc(20 * MB)]);
    assert.throws(() => uploadPlan(bigVideo, "big.mp4"), code("TOO_LARGE"));
    assert.equal(uploadPlan(bigVideo, "big.mp4", undefined, "file").sendAs, "file");
    assert.throws(() => uploadPlan(Buffer.alloc(100 * MB + 1), "huge.bin"), code("TOO_LARGE"));
  });

  it("sanitises the upload name", () => {
    const plan = uploadPlan(Buffer.from("x"), "../../etc/passwd\u0000.txt");
    assert.equal(plan.fileName, "passwd.txt");
    assert.equal(plan.ext, "txt");
  });
});

describe("outbox/buildMentionSource", () => {
  it("builds the MsgSource of docs/protocol.md section 6", () => {
    assert.equal(
      buildMentionSource(["@u1", "@u2"], "@@room"),
      "<msgsource><atusername>@u1,@u2</atusername><atchatroomname>@@room</atchatroomname></msgsource>",
    );
    assert.equal(buildMentionSource(["@u1", "@u1", ""], "@@r"), "<msgsource><atusername>@u1</atusername><atchatroomname>@@r</atchatroomname></msgsource>");
  });

  it("refuses no members, a non-group, commas", () => {
    assert.throws(() => buildMentionSource([], "@@room"), code("INVALID_ARGUMENT"));
    assert.throws(() => buildMentionSource(["@u1"], "@friend"), code("INVALID_ARGUMENT"));
    assert.throws(() => buildMentionSource(["@u1,@u2"], "@@room"), code("INVALID_ARGUMENT"));
  });

  it("escapes hostile names", () => {
    const source = buildMentionSource(["@a<b>"], "@@r&x");
    assert.equal(xmlString(parseXml(source), "msgsource", "atusername"), "@a<b>");
  });

  it("mentionText puts @Name + U+2005 before the text", () => {
    assert.equal(mentionText(["Ann", "Bo"], "hi"), "@Ann\u2005@Bo\u2005hi");
  });
});
