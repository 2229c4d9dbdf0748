import { strict as assert } from "node:assert";
import { type PerformanceEntry, PerformanceObserver, constants as perfConstants } from "node:perf_hooks";
import { isWeChatError } from "../../lib/wechat/errors";
import { MAX_JSON_DEPTH, jsonNestsDeeper, opensAtMost, topLevelMembers, valueNestsDeeper } from "../../lib/wechat/json-scan";
import { parseJsonBody } from "../../lib/wechat/http";
import { syncPage } from "../../lib/wechat/sync-page";

const HEAD = ["BaseResponse", "ContinueFlag", "SyncKey", "SyncCheckKey", "SKey"];

/** What the scan says each wanted member is, as JSON.parse of its range; "unsure" / "too-deep" as they come. */
function scanned(text: string, names: string[] = HEAD): Record<string, unknown> | string {
  const bytes = Buffer.from(text, "utf8");
  const result = topLevelMembers(bytes, names, MAX_JSON_DEPTH);
  if (result.kind !== "members") return result.kind;
  const out: Record<string, unknown> = {};
  for (const [name, range] of result.members) out[name] = JSON.parse(bytes.toString("utf8", range.start, range.end));
  return out;
}

/** What JSON.parse says the same members are. */
function parsed(text: string, names: string[] = HEAD): Record<string, unknown> {
  const value = JSON.parse(text.replace(/^\uFEFF/, "")) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(value, name)) out[name] = value[name];
  return out;
}

/** A sync page laid out as the real server lays it out ("}" then "," on its own line: docs/protocol.md section 9). */
function wirePage(messages: { MsgId: string; Content: string }[], keys: { sync: number; check: number; continueFlag: number; skey?: string }): string {
  const key = (v: number) => `{\n"Count": 2,\n"List": [{\n"Key": 1,\n"Val": ${v}\n}\n,{\n"Key": 2,\n"Val": ${v + 1}\n}\n]\n}`;
  const list = messages
    .map((m) => `{\n"MsgId": "${m.MsgId}",\n"FromUserName": "@a1b2",\n"ToUserName": "@c3d4",\n"MsgType": 1,\n"Content": ${JSON.stringify(m.Content)},\n"NewMsgId": ${m.MsgId},\n"RecommendInfo": {\n"UserName": "",\n"Ticket": ""\n}\n}`)
    .join("\n,");
  return (
    `{\n"BaseResponse": {\n"Ret": 0,\n"ErrMsg": ""\n}\n,\n"AddMsgCount": ${messages.length},\n"AddMsgList": [${list}]\n,\n"ModContactCount": 0,\n"ModContactList": []\n,\n` +
    `"ContinueFlag": ${keys.continueFlag},\n"SyncKey": ${key(keys.sync)}\n,\n"SKey": "${keys.skey ?? ""}",\n"SyncCheckKey": ${key(keys.check)}\n}\n`
  );
}

/** A small deterministic generator (the property test must fail the same way every time it fails). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TRICKY = ['"SyncKey": 1', '\\"SKey\\":', "}{][,:", "\\", "\u2028", "😀", "中文", '"', "\\u0022SKey\\u0022"];

function randomValue(random: () => number, depth: number): unknown {
  const pick = random();
  if (depth > 3 || pick < 0.3) {
    const kind = Math.floor(random() * 5);
    if (kind === 0) return Math.floor(random() * 1e6);
    if (kind === 1) return TRICKY[Math.floor(random() * TRICKY.length)]! + String(Math.floor(random() * 100));
    if (kind === 2) return random() < 0.5;
    if (kind === 3) return null;
    return "";
  }
  if (pick < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 5); i > 0; i--) {
    // Nested members may bear the wanted names: only the top level's count.
    const name = random() < 0.4 ? HEAD[Math.floor(random() * HEAD.length)]! : `k${Math.floor(random() * 50)}`;
    out[name] = randomValue(random, depth + 1);
  }
  return out;
}

/** JSON.stringify with random whitespace between tokens (outside strings). */
function layOut(value: unknown, random: () => number): string {
  const space = (): string => [" ", "\n", "\t", "\r\n", ""][Math.floor(random() * 5)]!;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${space()}${value.map((v) => layOut(v, random)).join(`${space()},${space()}`)}${space()}]`;
  const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}${space()}:${space()}${layOut(v, random)}`);
  return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`;
}

describe("json-scan: the top-level members of a JSON object, read without parsing the rest", () => {
  it("reads a sync page's keys as JSON.parse does (the real server's layout, ids as numbers, a BOM)", () => {
    const page = wirePage(
      [
        { MsgId: "4000000001000000268", Content: 'he wrote "SyncKey": {"List": []}, then }' },
        { MsgId: "4000000001000000455", Content: "\\ back \\\\ slashes \\" },
      ],
      { sync: 700, check: 710, continueFlag: 1, skey: "@crypt_new" },
    );
    assert.deepEqual(scanned(page), parsed(page));
    assert.deepEqual(scanned(`\uFEFF${page}`), parsed(page));
    assert.equal((scanned(page) as { ContinueFlag: number }).ContinueFlag, 1);
  });

  it("agrees with JSON.parse on 3,000 random objects: wanted names nested deeper, tricky strings, any whitespace", () => {
    const random = rng(19);
    for (let round = 0; round < 3_000; round++) {
      const value = randomValue(random, 0);
      if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
      // Some of the wanted names at the top level too, each once.
      const top: Record<string, unknown> = { ...value };
      for (const name of HEAD) if (random() < 0.5) top[name] = randomValue(random, 1);
      const text = layOut(top, random);
      assert.deepEqual(scanned(text), parsed(text), text);
    }
  });

  it("says unsure where a byte scan could differ from JSON.parse, and never guesses", () => {
    for (const text of [
      '{"Sync\\u004bey": {"List": []}}', // an escaped top-level key
      '[{"SKey": "a"}]', // not an object
      '{"SKey": "a"} x', // something after the object
      '{"SKey": "a"', // never closed
      '{"SKey": "a}', // a string never closed
      '{"SKey" "a"}', // no colon
      '{"SKey": "a"]', // closed by the wrong bracket
      "",
    ]) {
      assert.equal(scanned(text), "unsure", text);
    }
    assert.deepEqual(scanned("{}"), {});
    assert.deepEqual(scanned(' { "k" : [1, {"SKey": 2}] } '), {});
  });

  it("takes the last of a key given twice, as JSON.parse does", () => {
    for (const text of ['{"SKey": "a", "SKey": "b"}', '{"SKey": "a", "k": 1, "SKey": "b", "SyncKey": 3}', '{"k": 0, "SKey": "a", "SKey": "b"}']) {
      assert.deepEqual(scanned(text), parsed(text), text);
    }
  });

  it("walks only the first member and the members after the lists: a list is not looked at until the body is parsed (#19)", () => {
    const keys = '"ContinueFlag": 1, "SyncKey": {"Count": 1, "List": [{"Key": 1, "Val": 5}]}, "SKey": "", "SyncCheckKey": {"Count": 0, "List": []}';
    // A list no walk could get through (a bracket never closed, a string never ended), between BaseResponse and the keys.
    for (const list of ["[1, [2, 3", '["never ended]', "[" + "[".repeat(200)]) {
      const bytes = Buffer.from(`{"BaseResponse": {"Ret": 0}, "AddMsgList": ${list}, ${keys}}`);
      const result = topLevelMembers(bytes, HEAD, MAX_JSON_DEPTH);
      assert.ok(result.kind === "members" && !result.complete, list);
      assert.deepEqual([...result.members.keys()].sort(), [...HEAD].sort());
    }
    // A wanted name that is not there: every member is walked.
    const whole = topLevelMembers(Buffer.from(`{"BaseResponse": {"Ret": 0}, "AddMsgList": [1, [2]], "SyncKey": 1}`), HEAD, MAX_JSON_DEPTH);
    assert.ok(whole.kind === "members" && whole.complete);
  });

  it("guards the nesting as the whole-body check does: 64 levels pass, 65 are refused", () => {
    const nest = (levels: number) => `{"SKey": "x", "deep": ${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
    assert.deepEqual(scanned(nest(MAX_JSON_DEPTH)), { SKey: "x" });
    assert.equal(scanned(nest(MAX_JSON_DEPTH + 1)), "too-deep");
    // Brackets inside strings are not nesting.
    assert.deepEqual(scanned(`{"SKey": "${"[".repeat(500)}"}`), { SKey: "[".repeat(500) });
  });

  it("counts the levels of a parsed value as the byte walk counts brackets, and refuses small bodies after parsing them (#19)", () => {
    const random = rng(7);
    for (let round = 0; round < 200; round++) {
      // A chain of arrays and objects, empty ones and siblings included, some levels deep.
      const levels = 1 + Math.floor(random() * (MAX_JSON_DEPTH + 8));
      let value: unknown = random() < 0.5 ? [] : {};
      for (let level = 1; level < levels; level++) value = random() < 0.5 ? [1, value, "]]"] : { a: "{{", b: value, c: [] };
      const text = JSON.stringify({ top: value });
      const bytes = Buffer.from(text);
      assert.equal(valueNestsDeeper(JSON.parse(text), MAX_JSON_DEPTH), jsonNestsDeeper(bytes, MAX_JSON_DEPTH), text);
      if (jsonNestsDeeper(bytes, MAX_JSON_DEPTH)) {
        assert.throws(() => parseJsonBody(bytes, "webwxsync"), (e) => isWeChatError(e, "PROTOCOL") && /nests deeper/.test(e.message));
      } else {
        assert.deepEqual(parseJsonBody(bytes, "webwxsync"), JSON.parse(text));
      }
    }
    assert.equal(valueNestsDeeper("[[[", 1), false);
    assert.equal(valueNestsDeeper([[]], 1), true);
  });

  it("skips the walk only for a text too short of brackets to nest too deep, and still refuses one just over (#19)", () => {
    const random = rng(11);
    for (let round = 0; round < 300; round++) {
      const levels = 1 + Math.floor(random() * (MAX_JSON_DEPTH + 4));
      let value: unknown = random() < 0.5 ? [] : {};
      for (let level = 1; level < levels; level++) value = random() < 0.5 ? [value] : { a: value, s: random() < 0.3 ? "{[" : "" };
      const text = JSON.stringify(value);
      // Never says "cannot nest too deep" of a text that does.
      if (valueNestsDeeper(value, MAX_JSON_DEPTH)) assert.equal(opensAtMost(text, MAX_JSON_DEPTH), false, text);
    }
    assert.equal(opensAtMost('{"a":[{"b":"{[{["}]}', 7), true);
    assert.equal(opensAtMost('{"a":[{"b":"{[{["}]}', 6), false);
    assert.equal(opensAtMost("", 0), true);
    // 65 levels, the outermost included: one more than allowed, refused although the check before parsing is skipped.
    const deep = Buffer.from(`${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`);
    assert.throws(() => parseJsonBody(deep, "webwxsync"), (e) => isWeChatError(e, "PROTOCOL") && /nests deeper/.test(e.message));
    const justDeepEnough = Buffer.from(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`);
    assert.deepEqual(parseJsonBody(justDeepEnough, "webwxsync"), JSON.parse(justDeepEnough.toString()));
  });

  it("checks a large answer with few brackets on its parsed value, with no walk over its bytes first; a dense one is walked (#19)", () => {
    // A contact page of the size a 5,000-contact login reads twelve of (~400 KB), one contact nesting `levels` deep.
    const page = (levels: number): Buffer => {
      const contacts = Array.from({ length: 500 }, (_, i) => ({ UserName: `@${i.toString(16).padStart(32, "0")}`, NickName: `联系人 ${i}`, Signature: "x".repeat(600), MemberList: [] }));
      const nested = `${"[".repeat(levels - 3)}${"]".repeat(levels - 3)}`;
      const text = JSON.stringify({ BaseResponse: { Ret: 0, ErrMsg: "" }, MemberCount: 500, MemberList: contacts, Seq: 0 });
      // The top object is level 1, MemberList 2, a contact 3: its member "Deep" opens levels 4 and on.
      return Buffer.from(text.replace('"MemberList":[]}]', `"MemberList":[],"Deep":${nested}}]`));
    };
    // The module as parseJsonBody calls into it (CommonJS exports, looked up at each call): its check counted.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const scan = require("../../lib/wechat/json-scan") as { valueNestsDeeper: typeof valueNestsDeeper };
    const original = scan.valueNestsDeeper;
    const checked: unknown[] = [];
    scan.valueNestsDeeper = (value: unknown, max: number): boolean => {
      checked.push(value);
      return original(value, max);
    };
    try {
      for (const levels of [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1]) {
        const body = page(levels);
        assert.ok(body.length > 300_000, `${body.length} bytes`);
        // Exactly `levels` deep, as the byte walk counts.
        assert.ok(jsonNestsDeeper(body, levels - 1) && !jsonNestsDeeper(body, levels), `${levels} levels`);
        checked.length = 0;
        if (levels > MAX_JSON_DEPTH) {
          assert.throws(() => parseJsonBody(body, "webwxgetcontact"), (e) => isWeChatError(e, "PROTOCOL") && /nests deeper/.test(e.message));
        } else {
          assert.deepEqual(parseJsonBody(body, "webwxgetcontact"), JSON.parse(body.toString()));
        }
        // Checked once, on the value JSON.parse made (the byte walk before parsing cost ~35 ms of a login's CPU).
        assert.equal(checked.length, 1, `${levels} levels`);
        assert.equal((checked[0] as { MemberList: unknown[] }).MemberList.length, 500);
      }
      // One "[" or "{" in fewer than 64 characters: walked before parsing (issue #14), then not checked again.
      checked.length = 0;
      const dense = Buffer.from(JSON.stringify({ BaseResponse: { Ret: 0 }, Lists: Array.from({ length: 30_000 }, (_, i) => [i % 10]) }));
      assert.ok(dense.length > 100_000);
      assert.deepEqual(parseJsonBody(dense, "webwxgetcontact"), JSON.parse(dense.toString()));
      assert.equal(checked.length, 0);
    } finally {
      scan.valueNestsDeeper = original;
    }
  });

  it("makes no garbage per string: 10,000 scans of a 50-message page take no more than a few minor GCs (#19)", async () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ MsgId: String(4000000001000000000n + BigInt(i)), Content: `burst ${i}` }));
    const page = Buffer.from(wirePage(messages, { sync: 5, check: 6, continueFlag: 1, skey: "@k" }));
    assert.ok(page.length > 10_000);
    // Minor GCs are counted while the scans run: a closure over the loop's block made V8 allocate a context for
    // every string (~2.5 bytes of garbage per byte of page: hundreds of scavenges here); without it, one call
    // makes a Map and its ranges.
    let minor = 0;
    const count = (entries: PerformanceEntry[]): void => {
      for (const entry of entries) if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minor++;
    };
    const observer = new PerformanceObserver((list) => count(list.getEntries()));
    observer.observe({ entryTypes: ["gc"] });
    for (let i = 0; i < 10_000; i++) assert.equal(topLevelMembers(page, HEAD, MAX_JSON_DEPTH).kind, "members");
    // Node queues a GC's entry for the next turn of the loop: two turns, then whatever is still buffered.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    count(observer.takeRecords());
    observer.disconnect();
    assert.ok(minor <= 8, `${minor} minor GCs during 10,000 scans`);
  });
});

describe("sync-page: a webwxsync answer whose keys come before its lists", () => {
  it("gives the keys at once and the lists (ids with every digit) when first read", () => {
    const page = syncPage(Buffer.from(wirePage([{ MsgId: "4000000001000000268", Content: "hi" }], { sync: 5, check: 6, continueFlag: 1, skey: "@k" })));
    assert.equal(page.continueFlag, 1);
    assert.deepEqual(page.syncKey, { Count: 2, List: [{ Key: 1, Val: 5 }, { Key: 2, Val: 6 }] });
    assert.deepEqual(page.syncCheckKey, { Count: 2, List: [{ Key: 1, Val: 6 }, { Key: 2, Val: 7 }] });
    assert.equal(page.skey, "@k");
    assert.equal(page.addMsgList.length, 1);
    assert.equal(page.addMsgList[0]?.NewMsgId, "4000000001000000268");
    assert.deepEqual(page.modContactList, []);
    assert.strictEqual(page.addMsgList, page.addMsgList, "parsed once");
  });

  it("refuses as every JSON call does: Ret 1101 is SESSION_EXPIRED, too deep is PROTOCOL, both before any key is given", () => {
    assert.throws(
      () => syncPage(Buffer.from('{"BaseResponse": {"Ret": 1101, "ErrMsg": ""}, "SyncKey": {"Count": 0, "List": []}}')),
      (e) => isWeChatError(e, "SESSION_EXPIRED") && e.ret === 1101,
    );
    assert.throws(
      () => syncPage(Buffer.from(`{"BaseResponse": {"Ret": 0}, "AddMsgList": ${"[".repeat(100)}${"]".repeat(100)}}`)),
      (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true && /deeper/.test(e.message),
    );
    assert.throws(() => syncPage(Buffer.from("<html>busy</html>")), (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true);
  });

  it("keys after a list that nests too deep are given; reading the list is PROTOCOL (#19)", () => {
    const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
    const page = syncPage(Buffer.from(`{"BaseResponse": {"Ret": 0}, "AddMsgList": ${deep}, "ContinueFlag": 0, "SyncKey": {"Count": 1, "List": [{"Key": 1, "Val": 5}]}, "SKey": "", "SyncCheckKey": {"Count": 0, "List": []}}`));
    assert.equal(page.syncKey?.List[0]?.Val, 5);
    assert.throws(() => page.addMsgList, (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true && /deeper/.test(e.message));
  });

  it("a page whose keys read but whose lists do not: the keys are given, reading a list is PROTOCOL", () => {
    const good = wirePage([{ MsgId: "4000000001000000268", Content: "hi" }], { sync: 5, check: 6, continueFlag: 1 });
    const broken = good.replace('"MsgType": 1', '"MsgType": 1 1');
    const page = syncPage(Buffer.from(broken));
    assert.equal(page.syncKey?.List[0]?.Val, 5);
    assert.throws(() => page.addMsgList, (e) => isWeChatError(e, "PROTOCOL") && e.afterSent === true);
  });

  it("a page the scan cannot answer for is parsed whole, with the same result", () => {
    const text = '{"BaseResponse": {"Ret": 0}, "Sync\\u004bey": {"Count": 1, "List": [{"Key": 1, "Val": 9}]}, "AddMsgList": [{"MsgId": 12345678901234567890}], "ContinueFlag": 0}';
    const page = syncPage(Buffer.from(text));
    assert.equal(page.syncKey?.List[0]?.Val, 9);
    assert.equal(page.addMsgList[0]?.MsgId, "12345678901234567890");
  });
});
