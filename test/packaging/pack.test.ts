/**
 * #16.7: the tarball npm would publish, packed for real from the built layout (with the prepack clean-up, without
 * the build: the suite runs from dist/): no source map pointing at sources it does not ship, README links and images
 * that render on npm and in the flow library, and every node loading from the packed files.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type FlowNode, helper, nodeById, repoRoot } from "../support/node-red";

interface PackedFile {
  path: string;
  size: number;
}
interface PackJson {
  filename: string;
  size: number;
  files: PackedFile[];
}
interface PackageJson {
  files: string[];
  scripts: Record<string, string>;
  "node-red": { nodes: Record<string, string> };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("the published package (#16.7)", function () {
  this.timeout(120_000);
  const root = repoRoot();
  let tmp: string;
  let packed: string;
  let pack: PackJson;
  let pkg: PackageJson;

  before(function () {
    tmp = mkdtempSync(path.join(tmpdir(), "wxflow-pack-"));
    pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as PackageJson;
    // what `npm pack` sees after its prepack build: the checkout's files, dist/ as built
    const stage = path.join(tmp, "stage");
    mkdirSync(stage);
    for (const entry of ["package.json", "README.md", "LICENSE", "examples", "dist/lib", "dist/nodes", "dist/bin", "resources"]) {
      cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true });
    }
    // the rest of prepack, on the copy
    assert.match(pkg.scripts.prepack ?? "", /npm run build && node scripts\/pack-clean\.js$/);
    execFileSync(process.execPath, [path.join(root, "scripts", "pack-clean.js"), stage], { stdio: "ignore" });
    const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], { cwd: stage, encoding: "utf8" });
    [pack] = JSON.parse(out) as PackJson[];
    assert.ok(pack);
    mkdirSync(path.join(tmp, "x"));
    execFileSync("tar", ["-xzf", path.join(tmp, pack.filename), "-C", path.join(tmp, "x")]);
    packed = path.join(tmp, "x", "package");
  });

  after(async function () {
    await helper.unload();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("ships no source map, and no code names one", function () {
    assert.deepEqual(
      pack.files.filter((f) => f.path.endsWith(".map")).map((f) => f.path),
      [],
    );
    const js = walk(packed).filter((f) => f.endsWith(".js"));
    assert.ok(js.length > 50, `${js.length} .js files`);
    for (const file of js) assert.doesNotMatch(readFileSync(file, "utf8"), /sourceMappingURL/, path.relative(packed, file));
    // nothing of the development tree either
    assert.deepEqual(
      pack.files.filter((f) => /^(dist\/test|dist\/bench|lib|nodes|test|scripts)\//.test(f.path) || f.path.endsWith(".ts")).map((f) => f.path),
      [],
    );
  });

  it("has a README whose links and images are absolute URLs (they render on npm and in the flow library)", function () {
    const readme = readFileSync(path.join(packed, "README.md"), "utf8");
    const targets = [...readme.matchAll(/\]\(([^)\s]+)/g), ...readme.matchAll(/<img[^>]*\ssrc="([^"]+)"/g), ...readme.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1] ?? "");
    assert.ok(targets.length >= 5, targets.join(" "));
    for (const target of targets) assert.match(target, /^(https:\/\/|#)/, target);
    const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)/g)].map((m) => m[1] ?? "");
    assert.ok(images.length >= 3);
    for (const image of images) {
      // the image is in the repository at the path the URL names
      const rel = image.replace(/^https:\/\/raw\.githubusercontent\.com\/wxflow\/node-red-wechat\/main\//, "");
      assert.notEqual(rel, image, image);
      assert.ok(existsSync(path.join(root, rel)), rel);
    }
  });

  it("loads every node from the packed layout: code, editor HTML, both catalogs, icons, and runs them", async function () {
    const nodes = Object.entries(pkg["node-red"].nodes);
    assert.equal(nodes.length, 8);
    for (const [type, file] of nodes) {
      const dir = path.dirname(path.join(packed, file));
      for (const need of [file, path.join(path.dirname(file), `${type}.html`)]) assert.ok(existsSync(path.join(packed, need)), need);
      for (const lang of ["en-US", "zh-CN"]) {
        for (const ext of ["json", "html"]) assert.ok(existsSync(path.join(dir, "locales", lang, `${type}.${ext}`)), `${type} ${lang} ${ext}`);
      }
      // each flow node ships the one icon its editor names, beside it (not every icon in every folder); the config
      // node shows no icon
      const html = readFileSync(path.join(dir, `${type}.html`), "utf8");
      // a flow node registered through the shared editor code (registerNode, sendNode) has the icon "<type>.svg"
      const shared = html.includes(`registerNode("${type}"`) || html.includes(`sendNode("${type}"`);
      const icon = /\bicon:\s*"([^"]+)"/.exec(html)?.[1] ?? (shared ? `${type}.svg` : undefined);
      if (type === "wx-account") assert.equal(icon, undefined, "the config node names no icon");
      else assert.deepEqual(readdirSync(path.join(dir, "icons")), [icon], `${type} icons`);
    }
    assert.ok(existsSync(path.join(packed, "dist", "lib", "sandbox", "public", "phone.html")), "the sandbox phone page");
    // the editor code the node editors share, served by Node-RED from the package's resources/ folder (#15.7)
    for (const file of ["wxflow-editor.js", "wxflow-lists.js"]) assert.ok(existsSync(path.join(packed, "resources", file)), `resources/${file}`);
    assert.ok(readdirSync(path.join(packed, "examples")).filter((f) => f.endsWith(".json")).length >= 10);
    // the packed code, with this checkout's dependencies (as an install would have them)
    symlinkSync(path.join(root, "node_modules"), path.join(packed, "node_modules"), "dir");
    const load = createRequire(__filename);
    const registers = nodes.map(([, file]) => load(path.join(packed, file)) as (red: unknown) => void);
    const account = "packacct00000001";
    // an account on a closed loopback port: every node starts and shows a status, nothing leaves this machine
    const flow: FlowNode[] = [
      { id: account, type: "wx-account", name: "packed", server: "custom", loginUrl: "http://127.0.0.1:9", mode: "desktop", pacing: 60 },
      ...nodes.filter(([type]) => type !== "wx-account").map(([type], i): FlowNode => ({ id: `packnode${i}`, type, account, name: "", wires: [[]] })),
    ];
    await helper.load(registers, flow);
    for (const node of flow) assert.ok(nodeById(node.id), `${node.type} created from the packed code`);
    const wx = (nodeById(account) as unknown as { wx?: object }).wx;
    assert.ok(wx, "the packed wx-account runs its account");
  });
});
