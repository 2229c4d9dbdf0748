/**
 * Issue #15 point 8: lib/wechat/index.ts is the library's public entry (package.json `main` and `exports`),
 * the sandbox its second one; Node-RED still finds every node; no lint glob matches nothing.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.join(__dirname, "..", "..", "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  main: string;
  exports: Record<string, string>;
  "node-red": { nodes: Record<string, string> };
};

/** Files of the checkout, relative and with "/" (no dependencies, no build output, no git data). */
function files(dir = ""): string[] {
  const found: string[] = [];
  for (const name of readdirSync(path.join(root, dir))) {
    if (["node_modules", "dist", "resources", ".git", ".node-red", ".out", ".ci", "coverage"].includes(name)) continue;
    const rel = dir === "" ? name : `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) found.push(...files(rel));
    else found.push(rel);
  }
  return found;
}

/** The glob subset the lint config uses: `**` (any folders), `*` (within a name). */
function globRegExp(glob: string): RegExp {
  const source = glob
    .split("/")
    .map((part) => (part === "**" ? "(?:.*/)?" : `${part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}/`))
    .join("");
  return new RegExp(`^${source.replace(/\/$/, "").replace(/\(\?:\.\*\/\)\?$/, ".*")}$`);
}

describe("the library's public entry (#15.8)", function () {
  it("is lib/wechat/index.ts: package.json main and exports name it, and the sandbox", function () {
    assert.equal(pkg.main, "dist/lib/wechat/index.js");
    assert.deepEqual(pkg.exports, {
      ".": "./dist/lib/wechat/index.js",
      "./sandbox": "./dist/lib/sandbox/index.js",
      "./package.json": "./package.json",
    });
    for (const target of Object.values(pkg.exports)) assert.ok(existsSync(path.join(root, target)), target);
  });

  it("resolves by the package's own name to the client, its errors and constants; the sandbox too", async function () {
    // A package may require itself by name once it has `exports` (self-reference): what a user's require() sees.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const lib = require(pkg.name) as typeof import("../../lib/wechat");
    const sandbox = require(`${pkg.name}/sandbox`) as typeof import("../../lib/sandbox");
    /* eslint-enable @typescript-eslint/no-require-imports */
    assert.equal(typeof lib.WeChatClient, "function");
    assert.ok(lib.isWeChatError(new lib.WeChatError("NOT_FOUND", "x"), "NOT_FOUND"));
    assert.equal(lib.MsgType.TEXT, 1);
    assert.equal(lib.AppMsgType.FILE, 6);
    assert.equal(lib.StatusNotifyCode.SYNC_CONVERSATIONS, 4);
    assert.equal(lib.ScanCode.Confirmed, 200);
    assert.equal(typeof sandbox.startSandbox, "function");
    // internals stay internal
    assert.throws(() => require.resolve(`${pkg.name}/dist/lib/wechat/client.js`), (e: NodeJS.ErrnoException) => e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("leaves Node-RED its node files: every node-red.nodes entry is built and registers a node type", function () {
    for (const [type, file] of Object.entries(pkg["node-red"].nodes)) {
      const full = path.join(root, file);
      assert.ok(existsSync(full), file);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const register = require(full) as (red: unknown) => void;
      const registered: string[] = [];
      register({
        nodes: { registerType: (name: string) => registered.push(name), createNode: () => undefined, getNode: () => undefined },
        httpAdmin: { get: () => undefined, post: () => undefined },
        auth: { needsPermission: () => () => undefined },
        settings: {},
        log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
        events: { on: () => undefined, off: () => undefined },
        _: (key: string) => key,
      });
      assert.ok(registered.includes(type), `${file} registers ${type}`);
    }
  });
});

describe("lint and compiler configuration (#15.8)", function () {
  it("checks optional properties exactly: no `...(x ? { x } : {})` needed where a type takes undefined", function () {
    const text = readFileSync(path.join(root, "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, "");
    const config = JSON.parse(text) as { compilerOptions: Record<string, unknown> };
    assert.equal(config.compilerOptions.exactOptionalPropertyTypes, true);
    assert.equal(config.compilerOptions.strict, true);
  });

  it("has no file glob that matches nothing", async function () {
    const config = (await import(pathToFileURL(path.join(root, "eslint.config.mjs")).href)) as { default: { name?: string; files?: string[] }[] };
    const all = files();
    // the project's own entries (the shared presets are named, e.g. "typescript-eslint/base")
    const globs = config.default.filter((entry) => entry.name === undefined).flatMap((entry) => entry.files ?? []).filter((g) => typeof g === "string");
    assert.ok(globs.length > 0);
    for (const glob of globs) {
      const re = globRegExp(glob);
      assert.ok(all.some((f) => re.test(f)), `"${glob}" matches no file`);
    }
  });
});
