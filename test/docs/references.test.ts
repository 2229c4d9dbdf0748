/**
 * Issue #15 point 1: the protocol reference the code cites lives in the repository. Every "protocol.md section N"
 * in the sources names docs/protocol.md, and the sections cited exist there; the READMEs link it.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..", "..", "..");

/** Source and documentation files under `dir` (no build output, no dependencies). */
function sources(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) found.push(...sources(rel));
    else if (/\.(ts|js|md|html)$/.test(name)) found.push(rel);
  }
  return found;
}

describe("docs/protocol.md, the protocol reference in the repository (#15.1)", function () {
  const reference = readFileSync(path.join(root, "docs", "protocol.md"), "utf8");
  const sections = new Set([...reference.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1])));

  it("has the nine sections the code cites: hosts, requests, login, sync, messages, sending, contacts, errors, real answers", function () {
    assert.deepEqual([...sections].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const topic of ["Hosts", "Login", "desktop", "Sync", "Messages", "Sending", "Upload", "Contacts", "Errors", "real answers"]) {
      assert.ok(reference.toLowerCase().includes(topic.toLowerCase()), topic);
    }
  });

  it("is what every citation names, with a section that exists", function () {
    const files = ["lib", "nodes", "test", "bench", "bin", "scripts"].flatMap(sources);
    let citations = 0;
    for (const file of files) {
      const text = readFileSync(path.join(root, file), "utf8").replace(/\s*\n\s*(\*|\/\/)?\s*/g, " ");
      for (const m of text.matchAll(/(\S*)protocol\.md(?:\s+sections?\s+(\d+)(?:\s*(?:-|and)\s*(\d+))?)?/g)) {
        if (file.endsWith(path.join("docs", "references.test.ts"))) continue;
        citations++;
        assert.match(m[1] ?? "", /docs\/$/, `${file}: "${m[0]}" must name docs/protocol.md`);
        for (const n of [m[2], m[3]]) if (n !== undefined) assert.ok(sections.has(Number(n)), `${file}: section ${n}`);
      }
    }
    assert.ok(citations >= 30, `${citations} citations found`);
  });

  it("is linked from README.md (absolute, it renders on npm) and from lib/sandbox/README.md", function () {
    assert.match(readFileSync(path.join(root, "README.md"), "utf8"), /\]\(https:\/\/github\.com\/wxflow\/node-red-wechat\/blob\/main\/docs\/protocol\.md\)/);
    assert.match(readFileSync(path.join(root, "lib", "sandbox", "README.md"), "utf8"), /\]\(\.\.\/\.\.\/docs\/protocol\.md\)/);
  });
});

describe("docs/architecture.md, the life of a message (#15.3)", function () {
  const text = readFileSync(path.join(root, "docs", "architecture.md"), "utf8");

  it("names only files that exist, and functions that are in the file named with them", function () {
    const files = [...text.matchAll(/`((?:lib|nodes)\/[\w/.-]+\.ts)`/g)].map((m) => m[1]!);
    assert.ok(files.length >= 30, `${files.length} files named`);
    for (const file of files) assert.ok(existsSync(path.join(root, file)), file);
    let pairs = 0;
    for (const m of text.matchAll(/`((?:lib|nodes)\/[\w/.-]+\.ts)` `([\w.]+)`((?: (?:\/|→) `[\w.]+`)*)/g)) {
      const source = readFileSync(path.join(root, m[1]!), "utf8");
      const names = [m[2]!, ...[...(m[3] ?? "").matchAll(/`([\w.]+)`/g)].map((n) => n[1]!)];
      for (const name of names) {
        const last = name.split(".").at(-1)!;
        pairs++;
        assert.match(source, new RegExp(`\\b${last}\\b`), `${m[1]} has ${name}`);
      }
    }
    assert.ok(pairs >= 30, `${pairs} functions named`);
  });

  it("follows a message in and out, and says where login, sync, send, upload, contacts and each node decide", function () {
    for (const heading of ["## The life of an incoming message", "## The life of an outgoing message", "## Where is X decided"]) {
      assert.ok(text.includes(heading), heading);
    }
    for (const topic of ["login", "sync", "send", "upload", "contacts", "wx-account", "wx-receive", "wx-send-text", "wx-contacts", "wx-event", "wx-action"]) {
      assert.match(text, new RegExp(`^\\| ${topic}`, "m"), topic);
    }
  });
});

