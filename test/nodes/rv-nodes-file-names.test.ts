import assert from "node:assert/strict";
import { nodeById } from "../support/node-red";
import { accountConfig, catchFlow, loadOnline, nextAt, useSandbox, wxNode } from "./fixture";

/** An MP3 (an ID3 tag, then filler) and a QuickTime movie (an ftyp box with the "qt  " brand). */
const MP3 = Buffer.concat([Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00", "latin1"), Buffer.alloc(512, 1)]);
const MOV = Buffer.concat([Buffer.from("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "latin1"), Buffer.alloc(512, 2)]);

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
