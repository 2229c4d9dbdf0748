/**
 * #15.7: the editor's enum lists are the runtime's. The build writes resources/wxflow-lists.js from
 * nodes/editor-lists.ts; the editors read it, so no node's HTML repeats a list by hand.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { runInNewContext } from "node:vm";
import { EDITOR_LISTS } from "../../nodes/editor-lists";
import { ACTIONS, ACTION_SETTINGS } from "../../nodes/wx-action/args";
import { EVENT_TYPES } from "../../nodes/wx-event/events";
import { RECEIVE_TYPES } from "../../nodes/wx-receive/filter";
import { SEND_AS } from "../../nodes/wx-send-file/send-as";
import { TARGET_TYPES } from "../../nodes/shared/typed-target";
import { repoRoot } from "../support/node-red";

/** What the editor gets: the served script, run as a browser would run it. */
function servedLists(): Record<string, unknown> {
  const window: { wxflowLists?: Record<string, unknown> } = {};
  runInNewContext(readFileSync(path.join(repoRoot(), "resources", "wxflow-lists.js"), "utf8"), { window });
  assert.ok(window.wxflowLists, "resources/wxflow-lists.js sets window.wxflowLists");
  // plain data (the arrays of another realm compare by value only once copied)
  return JSON.parse(JSON.stringify(window.wxflowLists)) as Record<string, unknown>;
}

describe("editor lists (#15.7)", function () {
  it("the served lists equal the runtime lists", function () {
    const served = servedLists();
    assert.deepEqual(served, JSON.parse(JSON.stringify(EDITOR_LISTS)));
    assert.deepEqual(served["wx-receive"], { types: [...RECEIVE_TYPES] });
    assert.deepEqual(served["wx-event"], { events: [...EVENT_TYPES] });
    assert.deepEqual(served["wx-action"], { actions: [...ACTIONS], settings: JSON.parse(JSON.stringify(ACTION_SETTINGS)) });
    assert.deepEqual(served["wx-send-file"], { as: [...SEND_AS] });
    assert.deepEqual(served.targetTypes, [...TARGET_TYPES]);
  });

  it("no node editor repeats a list by hand: each loads the shared scripts from resources/", function () {
    const nodes = path.join(repoRoot(), "nodes");
    const types = readdirSync(nodes).filter((t) => t.startsWith("wx-"));
    assert.equal(types.length, 8);
    const lists: readonly (readonly string[])[] = [RECEIVE_TYPES, EVENT_TYPES, ACTIONS, SEND_AS];
    for (const type of types) {
      const html = readFileSync(path.join(nodes, type, `${type}.html`), "utf8");
      const loads = (file: string): boolean => html.includes(`<script type="text/javascript" src="resources/@wxflow/node-red-wechat/${file}"></script>`);
      assert.ok(loads("wxflow-editor.js"), `${type} loads wxflow-editor.js`);
      // a node that uses a list (its own, or the target types of a typedInput) loads them too
      if (/lists\(\)|sendNode|targetInput/.test(html)) assert.ok(loads("wxflow-lists.js"), `${type} loads wxflow-lists.js`);
      for (const list of lists) {
        for (let i = 0; i + 1 < list.length; i++) {
          const pair = new RegExp(`["']${list[i]}["'],\\s*["']${list[i + 1]}["']|value="${list[i]}"[\\s\\S]{0,120}value="${list[i + 1]}"`);
          assert.doesNotMatch(html, pair, `${type}.html repeats ${list[i]}, ${list[i + 1]}`);
        }
      }
    }
  });

  it("no node editor writes a select row by hand: data-wx-select rows come from the shared editor code (#15)", function () {
    const nodes = path.join(repoRoot(), "nodes");
    let placeholders = 0;
    for (const type of readdirSync(nodes).filter((t) => t.startsWith("wx-"))) {
      const html = readFileSync(path.join(nodes, type, `${type}.html`), "utf8");
      assert.doesNotMatch(html, /<select\b/, `${type}.html builds a <select> by hand`);
      placeholders += [...html.matchAll(/data-wx-select="/g)].length;
    }
    assert.ok(placeholders >= 5, "the select rows of wx-account, wx-contacts and wx-action are shared placeholders");
  });

  it("every list entry has its label in both catalogs", function () {
    const labels: [string, string, readonly string[]][] = [
      ["wx-receive", "types", RECEIVE_TYPES],
      ["wx-event", "events", EVENT_TYPES],
      ["wx-action", "actions", ACTIONS],
      ["wx-send-file", "as", ["auto", ...SEND_AS]],
    ];
    for (const lang of ["en-US", "zh-CN"]) {
      for (const [type, key, list] of labels) {
        const file = path.join(repoRoot(), "dist", "nodes", type, "locales", lang, `${type}.json`);
        const catalog = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, Record<string, string>>>;
        for (const entry of list) assert.ok(catalog[type]?.[key]?.[entry], `${lang} ${type}.${key}.${entry}`);
      }
    }
  });
});
