import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as QRCode from "qrcode";
import { sniffImage } from "../../lib/wechat/util";
import { helper, nodeById, waitForEvent } from "../support/node-red";
import { NODES, accountConfig, catchFlow, loadOnline, logOf, login, useSandbox, useTempDir, wxNode } from "./fixture";

interface Caught {
  error: { code?: string; message: string };
}

describe("wx-send-image", function () {
  const ctx = useSandbox();
  let png: Buffer;

  before(async function () {
    png = await QRCode.toBuffer("an image for wx-send-image");
  });

  const flow = (extra: Record<string, unknown> = {}) => [
    accountConfig(ctx.sb),
    wxNode("img", "wx-send-image", extra, [["out"]]),
    { id: "out", type: "helper", wires: [] },
    ...catchFlow(["img"]),
  ];

  const nextOut = () => waitForEvent(nodeById("out"), "input", (m) => m as Record<string, unknown>);
  const nextCaught = () => waitForEvent(nodeById("caught"), "input", (m) => m as Caught);

  /** Expect one Catch report with `code` and nothing uploaded or sent. */
  async function expectRefused(msg: Record<string, unknown>, code: string): Promise<void> {
    let reports = 0;
    nodeById("caught").on("input", () => {
      reports += 1;
    });
    const caught = nextCaught();
    nodeById("img").receive(msg);
    const report = await caught;
    assert.equal(report.error.code, code, report.error.message);
    // a good image afterwards is the only thing that reaches the server
    const out = nextOut();
    nodeById("img").receive({ payload: png, to: "filehelper" });
    await out;
    assert.equal(reports, 1);
    assert.equal(ctx.sb.control.sent().length, 1);
    assert.equal(ctx.sb.control.uploads().length, 1);
  }

  it("uploads a Buffer, sends it as an image and adds msg.wechat.sent", async function () {
    await loadOnline(ctx, flow({ target: "家人群" }), "img");
    const out = nextOut();
    nodeById("img").receive({ payload: png, filename: "qr" });
    const msg = await out;
    const [record] = ctx.sb.control.sent();
    assert.equal(record?.type, "image");
    assert.equal(record?.toName, "家人群");
    const [upload] = ctx.sb.control.uploads();
    assert.equal(upload?.mime, "image/png");
    assert.equal(upload?.fileName, "qr.png");
    assert.ok(ctx.sb.control.upload(upload?.mediaId ?? "")?.equals(png));
    assert.equal((msg.wechat as { sent: { msgId: string } }).sent.msgId, record?.msgId);
  });

  it("refuses bytes that are not an image", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "img");
    await expectRefused({ payload: Buffer.from("plain text, not an image") }, "INVALID_ARGUMENT");
  });

  it("a WebP or GIF is an image but not one WeChat shows as a picture: the library's one list refuses it (#15.6)", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "img");
    const webp = Buffer.from([...Buffer.from("RIFF"), 0, 0, 0, 0, ...Buffer.from("WEBP"), ...Buffer.from("VP8 "), 0, 0, 0, 0]);
    const gif = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
    for (const [payload, mime] of [[webp, "image/webp"], [gif, "image/gif"]] as const) {
      assert.equal(sniffImage(payload)?.mime, mime);
      const caught = nextCaught();
      nodeById("img").receive({ payload });
      const report = await caught;
      assert.equal(report.error.code, "INVALID_ARGUMENT", report.error.message);
      assert.match(report.error.message, new RegExp(`${mime} file cannot be sent as image; send it as a file`));
    }
    assert.deepEqual(ctx.sb.control.uploads(), []);
  });

  it("refuses a file path unless the node allows it", async function () {
    await loadOnline(ctx, flow({ target: "filehelper" }), "img");
    const file = path.join(ctx.userDir, "pic.png");
    writeFileSync(file, png);
    await expectRefused({ payload: file }, "INVALID_ARGUMENT");
  });

  describe("from a folder", function () {
    const temp = useTempDir("wxflow-outbox-");
    let outbox: string;
    beforeEach(function () {
      outbox = temp.path;
    });

    it("reads a file path inside the node's folder", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", readFolders: outbox }), "img");
      const file = path.join(outbox, "pic.png");
      writeFileSync(file, png);
      const out = nextOut();
      nodeById("img").receive({ payload: file });
      await out;
      assert.equal(ctx.sb.control.uploads()[0]?.fileName, "pic.png");
    });

    it("refuses an image outside the folder, e.g. in the Node-RED user dir", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", readFolders: outbox }), "img");
      const file = path.join(ctx.userDir, "pic.png");
      writeFileSync(file, png);
      await expectRefused({ payload: file }, "INVALID_ARGUMENT");
    });

    it("a flow saved with the old allowPath checkbox reads no file and warns once at deploy", async function () {
      const file = path.join(outbox, "pic.png");
      writeFileSync(file, png);
      await helper.load(NODES, flow({ target: "filehelper", allowPath: true }));
      const img = nodeById("img");
      assert.equal(logOf("img", "warn").filter((w) => /readFolders|warn\.allowPath/.test(w)).length, 1, logOf("img", "warn").join("\n"));
      await login(ctx, img);
      await expectRefused({ payload: file }, "INVALID_ARGUMENT");
      assert.equal(logOf("img", "warn").filter((w) => /readFolders|warn\.allowPath/.test(w)).length, 1, "no warning per message");
    });
  });

  it("refuses an unknown target before uploading anything", async function () {
    await loadOnline(ctx, flow(), "img");
    await expectRefused({ payload: png, to: "Nobody Of That Name" }, "NOT_FOUND");
  });

  describe("from a URL", function () {
    let server: Server;
    let base: string;
    before(async function () {
      server = createServer((req, res) => {
        if (req.url === "/pic.png") {
          res.writeHead(200, { "content-type": "image/png" });
          res.end(png);
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async function () {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("downloads an http URL when allowed (a private host only once the node names it)", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowUrl: true, allowHosts: "127.0.0.1" }), "img");
      const out = nextOut();
      nodeById("img").receive({ payload: `${base}/pic.png` });
      await out;
      const [upload] = ctx.sb.control.uploads();
      assert.ok(ctx.sb.control.upload(upload?.mediaId ?? "")?.equals(png));
    });

    it("refuses a URL when not allowed", async function () {
      await loadOnline(ctx, flow({ target: "filehelper" }), "img");
      await expectRefused({ payload: `${base}/pic.png` }, "INVALID_ARGUMENT");
    });

    it("refuses a loopback URL when its host is not named", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowUrl: true }), "img");
      await expectRefused({ payload: `${base}/pic.png` }, "INVALID_ARGUMENT");
    });

    it("reports a failed download as NETWORK, nothing sent", async function () {
      await loadOnline(ctx, flow({ target: "filehelper", allowUrl: true, allowHosts: "127.0.0.1" }), "img");
      await expectRefused({ payload: `${base}/missing.png` }, "NETWORK");
    });
  });
});

describe("image sniffing", function () {
  it("knows PNG, JPEG, GIF, WebP and BMP by their bytes", function () {
    const cases: [number[], string][] = [
      [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0], "image/png"],
      [[0xff, 0xd8, 0xff, 0xe0, 0], "image/jpeg"],
      [[...Buffer.from("GIF89a"), 0, 0], "image/gif"],
      [[...Buffer.from("RIFF"), 0, 0, 0, 0, ...Buffer.from("WEBP"), 0], "image/webp"],
      [[0x42, 0x4d, ...new Array(20).fill(0)], "image/bmp"],
    ];
    for (const [bytes, mime] of cases) assert.equal(sniffImage(Buffer.from(bytes))?.mime, mime);
    assert.equal(sniffImage(Buffer.from("hello world, not an image")), undefined);
  });
});
