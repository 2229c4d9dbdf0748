import assert from "node:assert/strict";
import { BoundedSet } from "../../lib/wechat/util/bounded-set";
import { sanitizeFileName, fileExtension } from "../../lib/wechat/util/filename";
import { ClientMsgIds, makeClientMsgId, deviceId } from "../../lib/wechat/util/ids";
import { extensionFor, sniffImage, sniffMime } from "../../lib/wechat/util/mime";
import { RecentMessages } from "../../lib/wechat/util/recent-messages";
import { parseScriptVars } from "../../lib/wechat/util/script-vars";

describe("util/BoundedSet", () => {
  it("lists the newest values oldest first, before and after it wraps", () => {
    const set = new BoundedSet<string>(4);
    for (const id of ["a", "b", "c"]) set.add(id);
    assert.deepEqual(set.newest(2), ["b", "c"]);
    assert.deepEqual(set.newest(10), ["a", "b", "c"]);
    for (const id of ["d", "e", "f"]) set.add(id);
    assert.deepEqual(set.newest(4), ["c", "d", "e", "f"]);
    assert.deepEqual(set.newest(2), ["e", "f"]);
    assert.deepEqual(set.newest(0), []);
  });

  it("de-duplicates and reports whether a value was new", () => {
    const set = new BoundedSet();
    assert.equal(set.capacity, 10_000);
    assert.equal(set.add("1"), true);
    assert.equal(set.add("1"), false);
    assert.equal(set.has("1"), true);
    assert.equal(set.has("2"), false);
    assert.equal(set.size, 1);
  });

  it("evicts the oldest value at capacity", () => {
    const set = new BoundedSet<string>(3);
    for (const id of ["a", "b", "c", "d"]) set.add(id);
    assert.equal(set.size, 3);
    assert.equal(set.has("a"), false);
    assert.ok(set.has("b") && set.has("c") && set.has("d"));
    set.add("e");
    assert.equal(set.has("b"), false);
  });

  it("stays at capacity over 200,000 adds", () => {
    const set = new BoundedSet<string>(10_000);
    for (let i = 0; i < 200_000; i += 1) set.add(`msg${i}`);
    assert.equal(set.size, 10_000);
    assert.equal(set.has("msg189999"), false);
    assert.equal(set.has("msg190000"), true);
    assert.equal(set.has("msg199999"), true);
  });

  it("forgets a value and keeps the order and the capacity of the others, before and after it wraps", () => {
    const set = new BoundedSet<string>(4);
    for (const id of ["a", "b", "c"]) set.add(id);
    assert.equal(set.delete("b"), true);
    assert.equal(set.delete("b"), false);
    for (const id of ["d", "e"]) set.add(id);
    assert.deepEqual(set.newest(4), ["a", "c", "d", "e"], "room was left: nothing evicted");
    assert.ok(set.has("a"));
    for (const id of ["f", "g"]) set.add(id);
    assert.deepEqual(set.newest(4), ["d", "e", "f", "g"]);
    assert.equal(set.delete("e"), true);
    set.add("h");
    assert.deepEqual(set.newest(4), ["d", "f", "g", "h"]);
    set.add("i");
    assert.deepEqual(set.newest(4), ["f", "g", "h", "i"]);
    assert.equal(set.size, 4);
    assert.equal(set.has("d"), false);
  });

  it("forgets its newest values in place, newest first, and fills their slots again before it evicts", () => {
    const set = new BoundedSet<string>(4);
    for (const id of ["a", "b", "c", "d", "e", "f"]) set.add(id);
    // full and wrapped: c d e f; f then e are forgotten as the newest
    assert.equal(set.delete("f"), true);
    assert.equal(set.delete("e"), true);
    assert.deepEqual(set.newest(4), ["c", "d"]);
    assert.equal(set.size, 2);
    // the answer comes again: its values take the freed slots, nothing is evicted
    for (const id of ["e", "f"]) assert.equal(set.add(id), true);
    assert.deepEqual(set.newest(4), ["c", "d", "e", "f"]);
    set.add("g");
    assert.deepEqual(set.newest(4), ["d", "e", "f", "g"]);
    // a freed slot, then a value that is not the newest forgotten: the others keep their order
    assert.equal(set.delete("g"), true);
    assert.equal(set.delete("d"), true);
    assert.deepEqual(set.newest(4), ["e", "f"]);
    for (const id of ["h", "i", "j"]) set.add(id);
    assert.deepEqual(set.newest(4), ["f", "h", "i", "j"]);
    assert.equal(set.has("e"), false);
    // before it is full, the newest is forgotten at the end
    const small = new BoundedSet<string>(4);
    for (const id of ["a", "b"]) small.add(id);
    assert.equal(small.delete("b"), true);
    small.add("c");
    assert.deepEqual(small.newest(4), ["a", "c"]);
  });

  it("lists the newest values as a plain list would, over thousands of adds and deletes (newest, oldest, any)", () => {
    // A seeded walk: adds (some of them repeats), deletes of the newest (an answer taken back), of any value.
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (const capacity of [1, 2, 5, 16]) {
      const set = new BoundedSet<string>(capacity);
      let model: string[] = [];
      for (let step = 0; step < 5_000; step++) {
        const roll = next(10);
        if (roll < 6) {
          const id = `v${next(capacity * 3)}`;
          const fresh = !model.includes(id);
          assert.equal(set.add(id), fresh);
          if (fresh) {
            model.push(id);
            if (model.length > capacity) model = model.slice(model.length - capacity);
          }
        } else if (roll < 8 && model.length > 0) {
          assert.equal(set.delete(model.pop() as string), true);
        } else if (model.length > 0) {
          const id = model[next(model.length)] as string;
          model = model.filter((v) => v !== id);
          assert.equal(set.delete(id), true);
        }
        const count = next(capacity + 2);
        assert.deepEqual(set.newest(count), count === 0 ? [] : model.slice(-count), `capacity ${capacity}, step ${step}`);
        assert.equal(set.size, model.length);
      }
    }
  });

  it("refuses a nonsensical capacity", () => {
    assert.throws(() => new BoundedSet(0), RangeError);
    assert.throws(() => new BoundedSet(1.5), RangeError);
  });
});

describe("util/sanitizeFileName", () => {
  it("keeps ordinary names", () => {
    assert.equal(sanitizeFileName("report.pdf", "file"), "report.pdf");
    assert.equal(sanitizeFileName("季度 报告 (final).docx", "file"), "季度 报告 (final).docx");
  });

  it("strips directories and parent references", () => {
    assert.equal(sanitizeFileName("../../etc/passwd", "file"), "passwd");
    assert.equal(sanitizeFileName("..\\..\\Windows\\system32\\evil.dll", "file"), "evil.dll");
    assert.equal(sanitizeFileName("/abs/path/x.txt", "file"), "x.txt");
    assert.equal(sanitizeFileName("..", "fallback.bin"), "fallback.bin");
    assert.equal(sanitizeFileName("a/..", "f"), "f");
    assert.equal(sanitizeFileName("name..pdf", "f"), "name.pdf");
  });

  it("drops NUL, control and direction-override characters", () => {
    assert.equal(sanitizeFileName("a\u0000b.txt", "f"), "ab.txt");
    assert.equal(sanitizeFileName("line\nbreak\r\t.txt", "f"), "linebreak.txt");
    assert.equal(sanitizeFileName("invoice\u202Efdp.exe", "f"), "invoicefdp.exe");
    assert.equal(sanitizeFileName('a<b>c:d"e|f?g*h.txt', "f"), "a_b_c_d_e_f_g_h.txt");
  });

  it("defuses reserved Windows names and leading dots", () => {
    assert.equal(sanitizeFileName("CON", "f"), "_CON");
    assert.equal(sanitizeFileName("nul.txt", "f"), "_nul.txt");
    assert.equal(sanitizeFileName("com1.log", "f"), "_com1.log");
    assert.equal(sanitizeFileName("console.log", "f"), "console.log");
    assert.equal(sanitizeFileName(".bashrc", "f"), "bashrc");
    assert.equal(sanitizeFileName("...hidden", "f"), "hidden");
    assert.equal(sanitizeFileName("trailing. . ", "f"), "trailing");
  });

  it("limits the length to 200 UTF-8 bytes and keeps the extension", () => {
    const long = sanitizeFileName("x".repeat(1000) + ".pdf", "f");
    assert.equal(Buffer.byteLength(long), 200);
    assert.ok(long.endsWith(".pdf"));
    const cjk = sanitizeFileName("文".repeat(300) + ".docx", "f");
    assert.ok(Buffer.byteLength(cjk) <= 200);
    assert.ok(cjk.endsWith(".docx"));
    assert.ok(!cjk.includes("\uFFFD"));
    const emoji = sanitizeFileName("😄".repeat(100), "f");
    assert.ok(Buffer.byteLength(emoji) <= 200);
    assert.equal([...emoji].every((c) => c === "😄"), true);
    const hugeExt = sanitizeFileName("a." + "b".repeat(500), "f");
    assert.ok(Buffer.byteLength(hugeExt) <= 200 && hugeExt.length > 0);
  });

  it("is never empty", () => {
    assert.equal(sanitizeFileName("", "fallback"), "fallback");
    assert.equal(sanitizeFileName("\u0000\u0001", "fallback"), "fallback");
    assert.equal(sanitizeFileName(undefined, "fallback"), "fallback");
    assert.equal(sanitizeFileName("///", "../.."), "file");
    assert.equal(sanitizeFileName(42 as unknown as string), "file");
  });

  it("fileExtension", () => {
    assert.equal(fileExtension("a/b/Report.PDF"), "pdf");
    assert.equal(fileExtension(".bashrc"), "");
    assert.equal(fileExtension("noext"), "");
    assert.equal(fileExtension("x."), "");
  });
});

describe("util/ids", () => {
  it("makeClientMsgId is ms + 4 digits (17 digits)", () => {
    const id = makeClientMsgId(1_700_000_000_123);
    assert.match(id, /^1700000000123\d{4}$/);
    assert.match(makeClientMsgId(), /^\d{17}$/);
    const ids = new Set(Array.from({ length: 50 }, () => makeClientMsgId(1_700_000_000_000)));
    assert.ok(ids.size > 40, "random part varies");
  });

  it("ClientMsgIds never repeats, even for thousands of sends in one millisecond", () => {
    const ids = new ClientMsgIds(() => 1_700_000_000_123);
    const drawn = Array.from({ length: 20_000 }, () => ids.next());
    assert.equal(new Set(drawn).size, drawn.length);
    for (const id of drawn) assert.match(id, /^\d{17}$/);
    for (let i = 1; i < drawn.length; i++) assert.ok(BigInt(drawn[i]!) > BigInt(drawn[i - 1]!), "each id is above the one before");
    assert.match(drawn[0]!, /^1700000000123\d{4}$/);
    let clock = 1_700_000_000_000;
    const later = new ClientMsgIds(() => clock);
    const a = later.next();
    clock += 1;
    assert.match(later.next(), /^1700000000001\d{4}$/, "a new millisecond starts from its own prefix");
    assert.match(a, /^1700000000000\d{4}$/);
  });

  it("deviceId is e + 15 digits", () => {
    for (let i = 0; i < 100; i += 1) assert.match(deviceId(), /^e\d{15}$/);
    assert.notEqual(deviceId(), deviceId());
  });
});

describe("util/sniffMime", () => {
  const cases: Array<[string, number[] | string, string]> = [
    ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0], "image/png"],
    ["jpeg", [0xff, 0xd8, 0xff, 0xe0, 0, 0x10], "image/jpeg"],
    ["gif", "GIF89a\x01\x00", "image/gif"],
    ["webp", "RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"],
    ["bmp", [0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0], "image/bmp"],
    ["mp4", "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "video/mp4"],
    ["mov", "\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "video/quicktime"],
    ["mp3 id3", "ID3\x04\x00\x00\x00\x00", "audio/mpeg"],
    ["mp3 frame", [0xff, 0xfb, 0x90, 0x64], "audio/mpeg"],
    ["pdf", "%PDF-1.7\n", "application/pdf"],
    ["zip", [0x50, 0x4b, 0x03, 0x04, 0x14, 0], "application/zip"],
  ];
  for (const [name, bytes, mime] of cases) {
    it(`detects ${name} by magic number`, () => {
      const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : Buffer.from(bytes);
      assert.equal(sniffMime(data, "misleading.txt"), mime);
    });
  }

  it("falls back to the extension, then octet-stream", () => {
    assert.equal(sniffMime(Buffer.from("hello"), "notes.TXT"), "text/plain");
    assert.equal(sniffMime(Buffer.from("hello"), "x.docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    assert.equal(sniffMime(Buffer.from("hello")), "application/octet-stream");
    assert.equal(sniffMime(Buffer.alloc(0), "unknown.zzz"), "application/octet-stream");
    assert.equal(sniffMime(Buffer.from([0xff, 0xf1, 0x50]), "a.aac"), "application/octet-stream", "AAC ADTS is not mp3");
  });

  it("prefers the extension for zip containers", () => {
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0]);
    assert.equal(sniffMime(zip, "sheet.xlsx"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert.equal(sniffMime(zip, "archive.zip"), "application/zip");
  });
});

describe("util/extensionFor and sniffImage: one MIME table for lib and nodes (#15.6)", () => {
  it("gives every sniffed type its usual extension, webp included", () => {
    for (const [name, bytes, mime] of [
      ["png", "\x89PNG\r\n\x1a\n\x00\x00", "png"],
      ["jpeg", "\xff\xd8\xff\xe0\x00\x10", "jpg"],
      ["gif", "GIF89a\x01\x00", "gif"],
      ["webp", "RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"],
      ["mov", "\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "mov"],
      ["mp3", "ID3\x04\x00\x00\x00\x00", "mp3"],
      ["pdf", "%PDF-1.7\n", "pdf"],
    ] as const) {
      assert.equal(extensionFor(sniffMime(Buffer.from(bytes, "latin1"))), mime, name);
    }
    assert.equal(extensionFor("image/jpeg"), "jpg");
    assert.equal(extensionFor("IMAGE/WEBP; q=1"), "webp");
    assert.equal(extensionFor("audio/mp4"), "m4a");
    assert.equal(extensionFor("application/octet-stream"), undefined);
  });

  it("knows the images a viewer shows by their bytes, webp included; HEIC and text are none", () => {
    assert.deepEqual(sniffImage(Buffer.from("RIFF\x10\x00\x00\x00WEBPVP8 ", "latin1")), { mime: "image/webp", ext: "webp" });
    assert.deepEqual(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0])), { mime: "image/jpeg", ext: "jpg" });
    assert.equal(sniffImage(Buffer.from("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "latin1")), undefined);
    assert.equal(sniffImage(Buffer.from("not an image")), undefined);
  });
});

describe("util/RecentMessages", () => {
  const entry = (id: string) => ({ MsgId: id, MsgType: 1, FromUserName: "@a", ToUserName: "@b", Content: id });

  it("remembers the last messages' entries by id, bounded by count and age", () => {
    let now = 0;
    const recent = new RecentMessages(3, 1_000, () => now);
    for (const id of ["1", "2", "3", "4"]) recent.add(id, entry(id));
    assert.equal(recent.size, 3);
    assert.equal(recent.get("1"), undefined, "the oldest was dropped");
    assert.equal(recent.get("4")?.MsgId, "4");
    now = 1_500;
    assert.equal(recent.get("4"), undefined, "too old");
    recent.add("5", entry("5"));
    assert.equal(recent.size, 1, "old entries are dropped on add");
    for (let i = 0; i < 10_000; i++) recent.add(String(i), entry(String(i)));
    assert.equal(recent.size, 3, "memory stays flat");
    assert.deepEqual(["9997", "9998", "9999"].map((id) => recent.get(id)?.MsgId), ["9997", "9998", "9999"]);
    assert.equal(recent.get("9996"), undefined);
  });

  it("keeps the entry itself, makes nothing per message, and finds the newest of an id kept twice", () => {
    const recent = new RecentMessages(4);
    const first = entry("7");
    recent.add("7", first);
    assert.equal(recent.get("7"), first, "the entry JSON.parse made, not a copy");
    const again = entry("7");
    recent.add("7", again);
    assert.equal(recent.get("7"), again);
    recent.add("", entry(""));
    assert.equal(recent.size, 2, "an empty id is not kept");
    recent.clear();
    assert.equal(recent.size, 0);
    assert.equal(recent.get("7"), undefined);
  });
});

describe("util/parseScriptVars", () => {
  it("reads the jslogin answer", () => {
    const vars = parseScriptVars('window.QRLogin.code = 200; window.QRLogin.uuid = "wb7R2kx9dA==";');
    assert.equal(vars["QRLogin.code"], "200");
    assert.equal(vars["QRLogin.uuid"], "wb7R2kx9dA==");
    assert.equal(vars.uuid, "wb7R2kx9dA==");
    assert.equal(vars.code, "200");
  });

  it("reads the login answers 200, 201, 408, 400", () => {
    const ok = parseScriptVars(
      'window.code=200;\nwindow.redirect_uri="https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=A-b_c&uuid=wb7R2kx9dA==&lang=zh_CN&scan=1700000000";',
    );
    assert.equal(ok.code, "200");
    assert.equal(ok.redirect_uri, "https://wx2.qq.com/cgi-bin/mmwebwx-bin/webwxnewloginpage?ticket=A-b_c&uuid=wb7R2kx9dA==&lang=zh_CN&scan=1700000000");
    const scanned = parseScriptVars("window.code=201;window.userAvatar = 'data:img/jpg;base64,/9j/4AAQSk+Zg==';");
    assert.equal(scanned.code, "201");
    assert.equal(scanned.userAvatar, "data:img/jpg;base64,/9j/4AAQSk+Zg==");
    assert.equal(parseScriptVars("window.code=408;").code, "408");
    assert.equal(parseScriptVars("window.code=400;").code, "400");
    assert.equal(parseScriptVars("window.code = 202 ;").code, "202");
  });

  it("reads synccheck with bare and quoted keys", () => {
    const vars = parseScriptVars('window.synccheck={retcode:"0",selector:"2"}');
    assert.equal(vars["synccheck.retcode"], "0");
    assert.equal(vars["synccheck.selector"], "2");
    assert.equal(vars.retcode, "0");
    assert.equal(vars.selector, "2");
    const spaced = parseScriptVars("window.synccheck = { \"retcode\" : '1101', selector : 0 };");
    assert.equal(spaced.retcode, "1101");
    assert.equal(spaced.selector, "0");
  });

  it("unescapes string escapes without evaluating anything", () => {
    const vars = parseScriptVars('window.x="a\\"b\\\\c\\/d\\u0041";window.y="process.exit(1)"');
    assert.equal(vars.x, 'a"b\\c/dA');
    assert.equal(vars.y, "process.exit(1)");
  });

  it("returns nothing for garbage, and ignores prototype keys", () => {
    assert.deepEqual(parseScriptVars("<html>502 Bad Gateway</html>"), {});
    assert.deepEqual(parseScriptVars(""), {});
    assert.deepEqual(parseScriptVars(undefined as unknown as string), {});
    const vars = parseScriptVars('window.__proto__.polluted="yes";window.a.__proto__="x";');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.keys(vars).length, 0);
  });

  it("stays fast on a huge hostile answer", () => {
    const started = Date.now();
    parseScriptVars('window.x="' + "\\".repeat(200_000));
    parseScriptVars("window.synccheck={" + "a:".repeat(100_000));
    assert.ok(Date.now() - started < 1000);
  });
});
