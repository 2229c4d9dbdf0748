/**
 * What msg.payload may name in wx-send-file / wx-send-image: files only inside chosen folders (never the
 * Node-RED user dir, /proc, /sys, /dev), URLs only on public addresses unless a host is named. The classifier
 * is checked on every range without connecting; the refusals are checked over real HTTP on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { isWeChatError } from "../../lib/wechat/errors";
import { guardedLookup, isPublicAddress, parseAllowHosts, refusedLiteral } from "../../nodes/shared/address";
import { MAX_REDIRECTS, redactUrl } from "../../nodes/shared/download";
import { readInFolders, resolveReadFolders, type ReadFolders } from "../../nodes/shared/folders";
import { loadBytes, type SourceOptions } from "../../nodes/shared/source";

/** Await `promise` and expect a WeChatError with `code`; returns its message. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isWeChatError(error), `a WeChatError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error.message;
  }
  assert.fail(`expected ${code}`);
}

describe("payload sources: address classifier", function () {
  const PRIVATE = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254", // cloud metadata
    "100.64.0.1", // CGNAT
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::ffff:192.168.0.1",
    "64:ff9b::7f00:1", // NAT64 of 127.0.0.1
    "2002:7f00:1::1", // 6to4 of 127.0.0.1
    "2001:db8::1",
    "not an address",
  ];
  const PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450::1", "::ffff:8.8.8.8"];

  for (const address of PRIVATE) {
    it(`refuses ${address}`, function () {
      assert.equal(isPublicAddress(address), false);
    });
  }
  for (const address of PUBLIC) {
    it(`accepts ${address}`, function () {
      assert.equal(isPublicAddress(address), true);
    });
  }

  it("refuses literal hosts in every spelling the URL parser turns into a private address", function () {
    const policy = { allowHosts: [] };
    for (const url of [
      "http://2130706433/",
      "http://0x7f.1/",
      "http://017700000001/",
      "http://127.1/",
      "http://0/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://169.254.169.254/latest/meta-data/",
      "http://[fd00::1]:8080/",
    ]) {
      assert.ok(refusedLiteral(new URL(url).hostname, policy), url);
    }
    assert.equal(refusedLiteral(new URL("http://8.8.8.8/").hostname, policy), undefined);
    assert.equal(refusedLiteral(new URL("http://example.com/").hostname, policy), undefined, "names are checked at lookup");
    assert.equal(refusedLiteral(new URL("http://192.168.1.20/").hostname, { allowHosts: ["192.168.1.20"] }), undefined, "a named host");
  });

  it("reads the allowed hosts setting: commas or spaces, any case, brackets and a final dot dropped", function () {
    assert.deepEqual(parseAllowHosts(" NAS.local., 192.168.1.20  [fd00::1]\n"), ["nas.local", "192.168.1.20", "fd00::1"]);
    assert.deepEqual(parseAllowHosts(undefined), []);
  });

  it("resolves a name and drops every private address it gets, unless the host is allowed", async function () {
    const lookup = (allowHosts: string[], all: boolean) =>
      new Promise<{ error: Error | null; address: unknown }>((resolve) => {
        guardedLookup({ allowHosts })("localhost", { all }, (error, address) => resolve({ error, address }));
      });
    for (const all of [true, false]) {
      const refused = await lookup([], all);
      assert.equal(refused.error?.name, "AddressRefusedError");
      assert.match(refused.error?.message ?? "", /localhost is a private or local address/);
      const allowed = await lookup(["localhost"], all);
      assert.equal(allowed.error, null);
      const first = Array.isArray(allowed.address) ? (allowed.address[0] as { address: string }).address : allowed.address;
      assert.ok(first === "127.0.0.1" || first === "::1", String(first));
    }
  });

  it("shows a URL without credentials, query or fragment", function () {
    assert.equal(redactUrl("https://alice:s3cret@files.example.com:8443/a/b.pdf?token=T0K3N#x"), "https://files.example.com:8443/a/b.pdf");
    assert.equal(redactUrl("not a url"), "(an invalid URL)");
  });
});

describe("payload sources: URLs over HTTP", function () {
  let server: Server;
  let port: number;
  let seen: { url: string; host: string; authorization?: string }[];
  const BODY = Buffer.from("%PDF-1.4\nthe secret document\n%%EOF\n");

  before(async function () {
    server = createServer((req: IncomingMessage, res) => {
      const entry: { url: string; host: string; authorization?: string } = { url: req.url ?? "", host: req.headers.host ?? "" };
      if (req.headers.authorization !== undefined) entry.authorization = req.headers.authorization;
      seen.push(entry);
      const url = new URL(req.url ?? "/", "http://x");
      const to = url.searchParams.get("to");
      if (url.pathname === "/redirect" && to) res.writeHead(302, { location: to }).end();
      else if (url.pathname === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else if (url.pathname === "/file.pdf") res.writeHead(200, { "content-type": "application/pdf" }).end(BODY);
      else if (url.pathname === "/big") res.writeHead(200).end(Buffer.alloc(4096, 1));
      else res.writeHead(404).end("no such thing");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  beforeEach(function () {
    seen = [];
  });
  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const options = (allowHosts: string[] = [], maxBytes = 1024 * 1024): SourceOptions => ({
    read: undefined,
    allowUrl: true,
    address: { allowHosts },
    maxBytes,
    what: "file",
  });

  it("refuses loopback by IP, by name and in decimal or v4-mapped form: nothing reaches the server", async function () {
    for (const url of [
      `http://127.0.0.1:${port}/file.pdf`,
      `http://localhost:${port}/file.pdf`,
      `http://2130706433:${port}/file.pdf`,
      `http://0x7f.0.0.1:${port}/file.pdf`,
      `http://[::ffff:127.0.0.1]:${port}/file.pdf`,
    ]) {
      const message = await rejectsWith(loadBytes(url, options()), "INVALID_ARGUMENT");
      assert.match(message, /private or local address/, url);
    }
    assert.deepEqual(seen, []);
  });

  it("fetches a private host once the setting names it", async function () {
    const { data, name } = await loadBytes(`http://127.0.0.1:${port}/file.pdf`, options(["127.0.0.1"]));
    assert.ok(data.equals(BODY));
    assert.equal(name, "file.pdf");
    const viaName = await loadBytes(`http://localhost:${port}/file.pdf`, options(["localhost"]));
    assert.ok(viaName.data.equals(BODY));
  });

  it("checks every redirect hop: an allowed host redirecting to 127.0.0.1 is refused there", async function () {
    const target = `http://127.0.0.1:${port}/file.pdf`;
    const message = await rejectsWith(loadBytes(`http://localhost:${port}/redirect?to=${encodeURIComponent(target)}`, options(["localhost"])), "INVALID_ARGUMENT");
    assert.match(message, /127\.0\.0\.1 is a private or local address.*redirected from/);
    // The allowed host was asked; the redirect target never was.
    assert.deepEqual(
      seen.map((s) => s.url),
      [`/redirect?to=${encodeURIComponent(target)}`],
    );
    // Also when the redirect names the private address in decimal.
    seen = [];
    await rejectsWith(loadBytes(`http://localhost:${port}/redirect?to=${encodeURIComponent(`http://2130706433:${port}/file.pdf`)}`, options(["localhost"])), "INVALID_ARGUMENT");
    assert.equal(seen.length, 1);
    // Redirects between allowed hosts are followed.
    const { data } = await loadBytes(`http://localhost:${port}/redirect?to=${encodeURIComponent(target)}`, options(["localhost", "127.0.0.1"]));
    assert.ok(data.equals(BODY));
  });

  it("never reuses a connection another node's allowed host opened (each download has its own sockets)", async function () {
    const url = `http://localhost:${port}/file.pdf`;
    assert.ok((await loadBytes(url, options(["localhost"]))).data.equals(BODY));
    await rejectsWith(loadBytes(url, options()), "INVALID_ARGUMENT");
    assert.equal(seen.length, 1);
  });

  it(`follows at most ${MAX_REDIRECTS} redirects`, async function () {
    const message = await rejectsWith(loadBytes(`http://127.0.0.1:${port}/loop`, options(["127.0.0.1"])), "NETWORK");
    assert.match(message, /more than 5 redirects/);
    assert.equal(seen.length, MAX_REDIRECTS + 1);
  });

  it("never repeats credentials or the query in an error, and sends credentials to their origin only", async function () {
    const secretUrl = (p: string) => `http://alice:s3cret-pw@127.0.0.1:${port}${p}${p.includes("?") ? "&" : "?"}token=T0K3N-42`;
    const messages = [
      await rejectsWith(loadBytes(secretUrl("/missing"), options(["127.0.0.1"])), "NETWORK"),
      await rejectsWith(loadBytes(secretUrl("/file.pdf"), options()), "INVALID_ARGUMENT"),
      await rejectsWith(loadBytes(secretUrl("/big"), options(["127.0.0.1"], 100)), "TOO_LARGE"),
      await rejectsWith(loadBytes(`http://alice:s3cret-pw@127.0.0.1:1/x?token=T0K3N-42`, options(["127.0.0.1"])), "NETWORK"),
    ];
    for (const message of messages) {
      assert.ok(!/alice|s3cret|T0K3N/.test(message), message);
    }
    assert.match(messages[0] ?? "", /HTTP 404/);
    assert.match(messages[0] ?? "", new RegExp(`http://127\\.0\\.0\\.1:${port}/missing`));
    // The origin that carried them got them; the other origin after a redirect did not.
    const expected = `Basic ${Buffer.from("alice:s3cret-pw").toString("base64")}`;
    seen = [];
    const target = `http://localhost:${port}/file.pdf`;
    await loadBytes(`http://alice:s3cret-pw@127.0.0.1:${port}/redirect?to=${encodeURIComponent(target)}`, options(["127.0.0.1", "localhost"]));
    assert.deepEqual(
      seen.map((s) => s.authorization),
      [expected, undefined],
    );
  });

  it("keeps the size cap", async function () {
    await rejectsWith(loadBytes(`http://127.0.0.1:${port}/big`, options(["127.0.0.1"], 1000)), "TOO_LARGE");
  });
});

describe("payload sources: files in folders", function () {
  let root: string;
  let userDir: string;
  let outbox: string;
  let access: ReadFolders;

  beforeEach(function () {
    root = mkdtempSync(path.join(tmpdir(), "wxflow-source-"));
    userDir = path.join(root, "node-red");
    outbox = path.join(root, "outbox");
    mkdirSync(path.join(userDir, "wxflow"), { recursive: true });
    mkdirSync(path.join(outbox, "sub"), { recursive: true });
    writeFileSync(path.join(userDir, ".config.runtime.json"), '{"_credentialSecret":"x"}');
    writeFileSync(path.join(userDir, "wxflow", "acc1.session"), "encrypted session");
    writeFileSync(path.join(outbox, "report.pdf"), "%PDF-1.4 report");
    writeFileSync(path.join(outbox, "sub", "notes.txt"), "notes");
    writeFileSync(path.join(root, "beside.txt"), "not in the folder");
    access = resolveReadFolders([outbox], userDir);
  });
  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
  });

  it("reads a file inside the folder, by absolute or relative path", async function () {
    assert.equal((await readInFolders(path.join(outbox, "report.pdf"), access, 1000, "file")).data.toString(), "%PDF-1.4 report");
    const sub = await readInFolders("sub/notes.txt", access, 1000, "file");
    assert.equal(sub.data.toString(), "notes");
    assert.equal(sub.name, "notes.txt");
  });

  it("refuses the user dir's secrets, .. escapes and files beside the folder", async function () {
    for (const ref of [
      path.join(userDir, ".config.runtime.json"),
      path.join(userDir, "wxflow", "acc1.session"),
      "../node-red/.config.runtime.json",
      path.join(outbox, "..", "beside.txt"),
      "sub/../../beside.txt",
      "/etc/passwd",
      "/proc/self/environ",
      // Missing files outside answer the same: no way to learn what exists there.
      path.join(userDir, "no-such-file"),
      "/no/such/file",
    ]) {
      const message = await rejectsWith(readInFolders(ref, access, 1000, "file"), "INVALID_ARGUMENT");
      assert.match(message, /not inside the folders/, ref);
    }
  });

  it("refuses a symlink in the folder that leads out of it", async function () {
    symlinkSync(path.join(userDir, ".config.runtime.json"), path.join(outbox, "innocent.pdf"));
    symlinkSync(userDir, path.join(outbox, "linked"));
    symlinkSync("/proc/self/environ", path.join(outbox, "env.txt"));
    for (const ref of ["innocent.pdf", "linked/wxflow/acc1.session", "env.txt"]) {
      await rejectsWith(readInFolders(ref, access, 1000, "file"), "INVALID_ARGUMENT");
    }
    // A symlink that stays inside is fine.
    symlinkSync(path.join(outbox, "report.pdf"), path.join(outbox, "latest.pdf"));
    assert.equal((await readInFolders("latest.pdf", access, 1000, "file")).data.toString(), "%PDF-1.4 report");
  });

  it("refuses what is not a regular file: a folder, a FIFO (without hanging), a device", async function () {
    execFileSync("mkfifo", [path.join(outbox, "pipe")]);
    await rejectsWith(readInFolders("sub", access, 1000, "file"), "INVALID_ARGUMENT");
    await rejectsWith(readInFolders("pipe", access, 1000, "file"), "INVALID_ARGUMENT");
    const wide = resolveReadFolders(["/"], userDir);
    await rejectsWith(readInFolders("/dev/zero", wide, 1000, "file"), "INVALID_ARGUMENT");
  });

  it("takes the size from the open file and keeps the cap", async function () {
    writeFileSync(path.join(outbox, "big.bin"), Buffer.alloc(2000, 1));
    const message = await rejectsWith(readInFolders("big.bin", access, 1000, "file"), "TOO_LARGE");
    assert.match(message, /2000 bytes/);
  });

  it("keeps the user dir, /proc, /sys and /dev out of reach even under a folder that holds them", async function () {
    const wide = resolveReadFolders([root], userDir);
    assert.equal((await readInFolders(path.join(root, "beside.txt"), wide, 1000, "file")).data.toString(), "not in the folder");
    await rejectsWith(readInFolders(path.join(userDir, "wxflow", "acc1.session"), wide, 1000, "file"), "INVALID_ARGUMENT");
    const everything = resolveReadFolders(["/"], userDir);
    for (const ref of ["/proc/self/environ", "/proc/self/cmdline", "/sys/kernel/uevent_seqnum", path.join(userDir, ".config.runtime.json")]) {
      await rejectsWith(readInFolders(ref, everything, 1000, "file"), "INVALID_ARGUMENT");
    }
  });

  it("refuses at deploy a folder that is or is inside the user dir, /proc, /sys, /dev, or not absolute", function () {
    symlinkSync(userDir, path.join(root, "alias"));
    for (const folder of [userDir, path.join(userDir, "wxflow"), path.join(root, "alias"), "/proc", "/proc/self", "/sys", "/dev", "/dev/shm", "outbox", path.join(root, "missing")]) {
      assert.throws(
        () => resolveReadFolders([outbox, folder], userDir),
        (error: unknown) => isWeChatError(error) && /folder/.test(error.message),
        folder,
      );
    }
  });

  it("loadBytes refuses paths when no folder is set", async function () {
    const options: SourceOptions = { read: undefined, allowUrl: false, address: { allowHosts: [] }, maxBytes: 1000, what: "file" };
    await rejectsWith(loadBytes(path.join(outbox, "report.pdf"), options), "INVALID_ARGUMENT");
    const { data } = await loadBytes(path.join(outbox, "report.pdf"), { ...options, read: access });
    assert.equal(data.toString(), "%PDF-1.4 report");
  });
});
