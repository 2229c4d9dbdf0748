/**
 * The "send me the file I name" flow: wx-receive wired straight into wx-send-file, so a contact's chat text becomes
 * msg.payload. Over real HTTP (the sandbox delivers the chat text; a local server stands for the private network),
 * a contact asks for the Node-RED secrets, the saved session, /proc, a loopback URL and a redirect to loopback:
 * each is refused with one Catch report and nothing reaches WeChat, while a file in the chosen folder and a URL on
 * a named host still get sent back.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { nodeById } from "../support/node-red";
import { accountConfig, catchFlow, loadOnline, useSandbox, wxNode, type Caught, type Context } from "../nodes/fixture";
import { watchUnhandledRejections } from "./suite";

const PDF = Buffer.from("%PDF-1.4\nthe public price list\n%%EOF\n");
const SECRET = Buffer.from("%PDF-1.4\nan intranet document\n%%EOF\n");

describe("reliability: a chat message naming a file or URL", function () {
  this.timeout(30_000);
  watchUnhandledRejections();
  const ctx: Context = useSandbox({ longPollMs: 400, throttle: false });
  let outbox: string;
  let server: Server;
  let port: number;
  let requests: string[];

  before(async function () {
    server = createServer((req, res) => {
      requests.push(req.url ?? "");
      const url = new URL(req.url ?? "/", "http://x");
      const to = url.searchParams.get("to");
      if (url.pathname === "/redirect" && to) res.writeHead(302, { location: to }).end();
      else if (url.pathname === "/intranet.pdf") res.writeHead(200, { "content-type": "application/pdf" }).end(SECRET);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(function () {
    requests = [];
    outbox = mkdtempSync(path.join(tmpdir(), "wxflow-outbox-"));
    writeFileSync(path.join(outbox, "prices.pdf"), PDF);
  });
  afterEach(function () {
    rmSync(outbox, { recursive: true, force: true });
  });

  /** wx-receive -> wx-send-file (reply to the sender), a Catch on the sender, its output at "sent". */
  async function start(send: Record<string, unknown>): Promise<string> {
    await loadOnline(
      ctx,
      [
        accountConfig(ctx.sb),
        wxNode("recv", "wx-receive", { types: ["text"] }, [["sendfile"]]),
        wxNode("sendfile", "wx-send-file", { as: "file", ...send }, [["sent"]]),
        { id: "sent", type: "helper", wires: [] },
        ...catchFlow(["sendfile"]),
      ],
      "recv",
    );
    const friend = ctx.sb.control.worldContacts({ kind: "friend" }).find((c) => !c.remarkName && !/[<&]/.test(c.nickName));
    assert.ok(friend, "a plain-named friend in the sandbox world");
    return friend.nickName;
  }

  /** The friend writes `text`; resolves with the Catch report, or undefined when the file went out. */
  function ask(from: string, text: string): Promise<Caught["error"] | undefined> {
    const caught = nodeById("caught");
    const sent = nodeById("sent");
    return new Promise((resolve, reject) => {
      const onCaught = (m: never): void => finish(() => resolve((m as Caught).error));
      const onSent = (): void => finish(() => resolve(undefined));
      const timer = setTimeout(() => finish(() => reject(new Error(`no outcome for ${text} in 15 s`))), 15_000);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        caught.removeListener("input", onCaught);
        sent.removeListener("input", onSent);
        settle();
      };
      caught.on("input", onCaught);
      sent.on("input", onSent);
      ctx.sb.control.inject({ from, text });
    });
  }

  it("refuses the Node-RED secrets, the saved session, .. and /proc; sends a file from the chosen folder", async function () {
    // allowPath: the old checkbox, still in a flow saved before; it must no longer widen what is read.
    const friend = await start({ readFolders: outbox, allowPath: true });
    const runtime = path.join(ctx.userDir, ".config.runtime.json");
    writeFileSync(runtime, '{"_credentialSecret":"0123456789abcdef0123456789abcdef"}');
    const session = path.join(ctx.userDir, "wxflow", "acc1.session");
    assert.ok(existsSync(session), "the account saved its session: the attack has a real target");
    const attacks = [runtime, session, path.relative(outbox, session), `${outbox}/../${path.relative(path.dirname(outbox), runtime)}`, "/proc/self/environ", "/etc/passwd"];
    for (const text of attacks) {
      const error = await ask(friend, text);
      assert.ok(error, `${text} was sent`);
      assert.equal(error.code, "INVALID_ARGUMENT", `${text}: ${error.message}`);
    }
    assert.deepEqual(ctx.sb.control.uploads(), [], "nothing uploaded");
    assert.deepEqual(ctx.sb.control.sent(), [], "nothing sent");
    // The flow itself works: a file in the folder goes back to the friend who asked.
    assert.equal(await ask(friend, "prices.pdf"), undefined);
    const [reply] = ctx.sb.control.sent();
    assert.equal(reply?.fileName, "prices.pdf");
    assert.equal(reply?.toName, friend);
    assert.deepEqual(ctx.sb.control.violations(), []);
  });

  it("refuses loopback URLs and a redirect from an allowed host to loopback; the allowed host still works", async function () {
    const friend = await start({ allowUrl: true, allowHosts: "localhost" });
    const direct = `http://127.0.0.1:${port}/intranet.pdf`;
    for (const text of [direct, `http://2130706433:${port}/intranet.pdf`, `http://[::ffff:127.0.0.1]:${port}/intranet.pdf`]) {
      const error = await ask(friend, text);
      assert.equal(error?.code, "INVALID_ARGUMENT", text);
      assert.match(error?.message ?? "", /private or local address/);
    }
    assert.deepEqual(requests, [], "no request reached the private server");
    // localhost is named, so its first hop is fetched; the redirect to 127.0.0.1 is checked again and refused.
    const redirect = `/redirect?to=${encodeURIComponent(direct)}`;
    const error = await ask(friend, `http://localhost:${port}${redirect}`);
    assert.equal(error?.code, "INVALID_ARGUMENT");
    assert.match(error?.message ?? "", /127\.0\.0\.1 is a private or local address/);
    assert.deepEqual(requests, [redirect], "the redirect target was never asked");
    assert.deepEqual(ctx.sb.control.sent(), []);
    // The named host itself is reachable.
    assert.equal(await ask(friend, `http://localhost:${port}/intranet.pdf`), undefined);
    assert.equal(ctx.sb.control.sent()[0]?.fileName, "intranet.pdf");
  });
});
