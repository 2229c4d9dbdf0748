import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as QRCode from "qrcode";
import { MAX_VIDEO_BYTES } from "../../lib/wechat/outbox";
import { nodeById } from "../support/node-red";
import { accountConfig, catchFlow, expectCaught, loadOnline, logOf, nextAt, useSandbox, useTempDir, wxNode } from "./fixture";

const MB = 1024 * 1024;
const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** A small MP4 (an ftyp box, then filler): enough for the type to be recognised. */
function mp4(size = 4096): Buffer {
  const head = Buffer.from("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "latin1");
  return Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length), 7)]);
}

const PDF = Buffer.from("%PDF-1.4\n% a tiny document for wx-send-file\n%%EOF\n");

/** An MP3 (an ID3 tag, then filler) and a QuickTime movie (an ftyp box with the "qt  " brand). */
const MP3 = Buffer.concat([Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1"), Buffer.alloc(512, 1)]);
const MOV = Buffer.concat([Buffer.from("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "latin1"), Buffer.alloc(512, 2)]);

describe("wx-send-file", function () {
  const ctx = useSandbox();
  let png: Buffer;

  before(async function () {
    png = await QRCode.toBuffer("a picture for wx-send-file");
  });

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("sendfile", "wx-send-file", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    ...catchFlow(["sendfile"]),
  ];

  /** Send a msg and wait for its output. */
  async function send(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const out = nextAt("out");
    nodeById("sendfile").receive(msg);
    return out;
  }

  /** Expect a refusal: done(err) once, nothing uploaded or sent (a good file afterwards is all the server saw). */
  async function refused(msg: Record<string, unknown>, code: string): Promise<void> {
    await expectCaught("sendfile", msg, code, () => send({ payload: PDF, filename: "ok.pdf", to: "filehelper", as: "file" }));
    assert.deepEqual(
      ctx.sb.control.sent().map((r) => r.fileName),
      ["ok.pdf"],
    );
    assert.equal(ctx.sb.control.uploads().length, 1);
  }

  it("sends a Buffer with msg.filename as a file attachment and adds msg.wechat.sent", async function () {
    await loadOnline(ctx, flow({ target: "家人群" }), "sendfile");
    const msg = await send({ payload: PDF, filename: "report 2024.pdf" });
    const [record] = ctx.sb.control.sent();
    assert.equal(record?.type, "file");
    assert.equal(record?.toName, "家人群");
    assert.equal(record?.fileName, "report 2024.pdf");
    const [upload] = ctx.sb.control.uploads();
    assert.equal(upload?.mediaType, "doc");
    assert.ok(ctx.sb.control.upload(upload?.mediaId ?? "")?.equals(PDF));
    const sent = (msg.wechat as { sent: Record<string, unknown> }).sent;
    assert.equal(sent.msgId, record?.msgId);
    assert.equal(sent.toHandle, "家人群");
    assert.equal(typeof sent.time, "number");
    assert.equal(msg.filename, "report 2024.pdf");
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("picks the form by type: PNG as image, GIF as sticker, MP4 as video, the rest as file", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await send({ payload: png, filename: "a.png" });
    await send({ payload: GIF, filename: "b.gif" });
    await send({ payload: mp4(), filename: "c.mp4" });
    await send({ payload: PDF, filename: "d.pdf" });
    assert.deepEqual(
      ctx.sb.control.sent().map((r) => r.type),
      ["image", "sticker", "video", "file"],
    );
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("sends as the node's option says, and msg.as overrides it", async function () {
    await loadOnline(ctx, flow({ target: "filehelper", as: "file" }), "sendfile");
    await send({ payload: png, filename: "as-file.png" });
    await send({ payload: png, filename: "as-image.png", as: "image" });
    assert.deepEqual(
      ctx.sb.control.sent().map((r) => [r.type, r.fileName]),
      [
        ["file", "as-file.png"],
        ["image", "as-image.png"],
      ],
    );
  });

  it("keeps only a clean last segment of a hostile msg.filename", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    const msg = await send({ payload: PDF, filename: "../../etc/pass\u0000wd.pdf" });
    assert.equal(ctx.sb.control.sent()[0]?.fileName, "passwd.pdf");
    assert.equal(msg.filename, "passwd.pdf");
  });

  it("names a Buffer without msg.filename by its type", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await send({ payload: PDF });
    assert.equal(ctx.sb.control.sent()[0]?.fileName, "file.pdf");
  });

  it("goes through webwxcheckupload for files over 25 MB", async function () {
    this.timeout(60_000);
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    const big = Buffer.alloc(26 * MB, 1);
    big.write("%PDF-1.4\n");
    await send({ payload: big, filename: "big.pdf" });
    const [upload] = ctx.sb.control.uploads();
    assert.equal(upload?.size, big.length);
    assert.equal(upload?.chunks, Math.ceil(big.length / 524_288));
    assert.equal(ctx.sb.control.sent()[0]?.type, "file");
    // The sandbox refuses a >25 MB upload without checkupload's AESKey and Signature: none refused.
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("refuses zero bytes", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await refused({ payload: Buffer.alloc(0), filename: "empty.txt" }, "INVALID_ARGUMENT");
  });

  it("refuses files over 100 MB", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await refused({ payload: Buffer.alloc(100 * MB + 1), filename: "huge.bin" }, "TOO_LARGE");
  });

  it("refuses videos of 20 MB or more sent as video", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await refused({ payload: mp4(20 * MB), filename: "long.mp4", as: "video" }, "TOO_LARGE");
  });

  it("takes a video one byte under 20 MB as video: the node reads what the library accepts (#15.6)", async function () {
    this.timeout(60_000);
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await send({ payload: mp4(MAX_VIDEO_BYTES - 1), filename: "just.mp4", as: "video" });
    assert.equal(ctx.sb.control.sent()[0]?.type, "video");
    assert.equal(ctx.sb.control.uploads()[0]?.size, MAX_VIDEO_BYTES - 1);
  });

  it("refuses a video of exactly 20 MB and one of 20 MB + 1 alike, with the library's one message (#15.6)", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    for (const size of [MAX_VIDEO_BYTES, MAX_VIDEO_BYTES + 1]) {
      const report = await expectCaught("sendfile", { payload: mp4(size), filename: "long.mp4", as: "video" }, "TOO_LARGE", async () => undefined);
      assert.match(report.error.message, /videos must be under 20 MB; send it as a file/, `${size} bytes`);
    }
    assert.deepEqual(ctx.sb.control.uploads(), []);
  });

  it("refuses a type that cannot take the chosen form", async function () {
    await loadOnline(ctx, flow({ target: "filehelper", as: "image" }), "sendfile");
    await refused({ payload: PDF, filename: "x.pdf" }, "INVALID_ARGUMENT");
  });

  it("refuses an unknown msg.as", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
    await refused({ payload: PDF, filename: "x.pdf", as: "hologram" }, "INVALID_ARGUMENT");
  });

  it("refuses an unknown target before uploading anything", async function () {
    await loadOnline(ctx, flow(), "sendfile");
    await refused({ payload: PDF, filename: "x.pdf", to: "Nobody Of That Name" }, "NOT_FOUND");
  });

  describe("from a folder", function () {
    const temp = useTempDir("wxflow-outbox-");
    let outbox: string;
    beforeEach(function () {
      outbox = temp.path;
    });

    it("refuses a file path unless a folder is set, reads a file inside it", async function () {
      await loadOnline(ctx, [...flow({ target: "filehelper" }), wxNode("file2", "wx-send-file", { target: "filehelper", readFolders: outbox }, [["out"]])], "sendfile");
      const file = path.join(outbox, "notes.txt");
      writeFileSync(file, "some notes\n");
      await refused({ payload: file }, "INVALID_ARGUMENT");
      const out = nextAt("out");
      nodeById("file2").receive({ payload: file });
      await out;
      const last = ctx.sb.control.sent().at(-1);
      assert.equal(last?.fileName, "notes.txt");
      assert.equal(last?.type, "file");
    });

    it("refuses a video file of exactly 20 MB and of 20 MB + 1 alike, with the library's one message (#15.6)", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", readFolders: outbox }), "sendfile");
      for (const size of [MAX_VIDEO_BYTES, MAX_VIDEO_BYTES + 1]) {
        const file = path.join(outbox, `long-${size}.mp4`);
        writeFileSync(file, mp4(size));
        const report = await expectCaught("sendfile", { payload: file, as: "video" }, "TOO_LARGE", async () => undefined);
        assert.match(report.error.message, /videos must be under 20 MB; send it as a file/, `${size} bytes`);
      }
      assert.deepEqual(ctx.sb.control.uploads(), []);
    });

    it("refuses the Node-RED user dir's files (credential secret, session) and .. out of the folder", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", readFolders: outbox }), "sendfile");
      const secret = path.join(ctx.userDir, ".config.runtime.json");
      writeFileSync(secret, '{"_credentialSecret":"0123456789abcdef"}');
      const relative = path.relative(outbox, secret);
      for (const payload of [secret, relative, `${outbox}/../${path.basename(ctx.userDir)}/.config.runtime.json`, "/proc/self/environ"]) {
        const report = await expectCaught("sendfile", { payload }, "INVALID_ARGUMENT", async () => undefined);
        assert.match(report.error.message, /not inside the folders/, payload);
      }
      assert.deepEqual(ctx.sb.control.uploads(), []);
      assert.deepEqual(ctx.sb.control.sent(), []);
    });

    it("refuses at deploy a folder that is the user dir or inside it: an error in the log, paths stay off", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", readFolders: `${outbox};${path.join(ctx.userDir, "wxflow")}` }), "sendfile");
      const errors = logOf("sendfile", "error");
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0] ?? "", /Node-RED user directory/);
      writeFileSync(path.join(outbox, "fine.txt"), "fine");
      await refused({ payload: path.join(outbox, "fine.txt") }, "INVALID_ARGUMENT");
    });

    it("a flow saved with the old allowPath checkbox reads no file and warns once at deploy", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowPath: true }), "sendfile");
      const file = path.join(outbox, "notes.txt");
      writeFileSync(file, "notes");
      await refused({ payload: file }, "INVALID_ARGUMENT");
      assert.equal(logOf("sendfile", "warn").filter((w) => /readFolders|warn\.allowPath/.test(w)).length, 1);
    });
  });

  describe("from a URL", function () {
    let server: Server;
    let base: string;
    before(async function () {
      server = createServer((req, res) => {
        if (req.url === "/docs/manual.pdf") {
          res.writeHead(200, { "content-type": "application/pdf" });
          res.end(PDF);
        } else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async function () {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("downloads when allowed, named after the URL (a private host only once the node names it)", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowUrl: true, allowHosts: "127.0.0.1" }), "sendfile");
      await send({ payload: `${base}/docs/manual.pdf` });
      assert.equal(ctx.sb.control.sent()[0]?.fileName, "manual.pdf");
    });

    it("refuses a loopback URL unless its host is named", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowUrl: true }), "sendfile");
      await refused({ payload: `${base}/docs/manual.pdf` }, "INVALID_ARGUMENT");
    });

    it("refuses a URL when not allowed", async function () {
      await loadOnline(ctx, flow({ target: "filehelper" }), "sendfile");
      await refused({ payload: `${base}/docs/manual.pdf` }, "INVALID_ARGUMENT");
    });
  });
});

describe("wx-send-file: names of unnamed buffers", function () {
  const ctx = useSandbox();
  const flow = () => [
    accountConfig(ctx.sb),
    wxNode("sendfile", "wx-send-file", { target: "filehelper", as: "file" }, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    ...catchFlow(["sendfile"]),
  ];

  it("uses the usual extension, not the mime subtype (mp3, not mpeg; mov, not quicktime)", async function () {
    await loadOnline(ctx, flow(), "sendfile");
    for (const payload of [MP3, MOV]) {
      const out = nextAt("out");
      nodeById("sendfile").receive({ payload });
      await out;
    }
    assert.deepEqual(
      ctx.sb.control.sent().map((r) => r.fileName),
      ["file.mp3", "file.mov"],
    );
  });
});
