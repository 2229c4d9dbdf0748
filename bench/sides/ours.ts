import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import type { ClientOptions, Logger, StateInfo, WeChatClientApi } from "../../lib/wechat/types";
import { makeSessionDir } from "../session-dir";
import { type BenchSide, PhaseLog, contactCounts, errorText, waitUntil } from "./side";

type ClientConstructor = new (options: ClientOptions) => WeChatClientApi;

/** Load lib/wechat/client.js at run time, so the bench builds and reports "n/a" before the client exists. */
function loadClient(): ClientConstructor {
  const file = path.join(__dirname, "..", "..", "lib", "wechat", "client.js");
  let loaded: unknown;
  try {
    loaded = createRequire(__filename)(file);
  } catch (error) {
    throw new Error(`our client is not built (${path.relative(process.cwd(), file)}): ${errorText(error).split("\n")[0]}`);
  }
  const ctor = (loaded as { WeChatClient?: unknown }).WeChatClient;
  if (typeof ctor !== "function") throw new Error("lib/wechat/client.js does not export WeChatClient");
  return ctor as ClientConstructor;
}

/** lib/wechat/http.js preloadHttp(): got is an ES module our client imports asynchronously. */
function loadHttpStack(): Promise<void> {
  const file = path.join(__dirname, "..", "..", "lib", "wechat", "http.js");
  const loaded = createRequire(__filename)(file) as { preloadHttp?: () => Promise<void> };
  return loaded.preloadHttp ? loaded.preloadHttp() : Promise.resolve();
}

const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function createOurs(sandboxUrl: string): BenchSide {
  const Client = loadClient();
  // The session is saved as a wx-account saves it under Node-RED's user dir (an encrypted file written after every
  // answer that moved the keys): the client measured is the one users run. The limit saves nothing; wechat4u leaves
  // saving to its application (bench/README.md, Fairness: "The session saved").
  const dir = makeSessionDir();
  const client = new Client({
    loginUrl: sandboxUrl,
    pacing: false,
    qrImage: false,
    logger: quietLogger,
    sessionFile: path.join(dir, "account.session"),
    sessionSecret: "bench session secret",
  });
  const errors: string[] = [];
  const phases = new PhaseLog();
  client.on("state", (s) => phases.mark(s.state));
  client.on("contacts", () => phases.mark("contacts"));
  client.on("warn", (text) => {
    if (errors.length < 20) errors.push(text);
  });
  return {
    // Loading the client is outside the timed part: wechat4u loads all of its modules at require().
    loaded: () => loadHttpStack(),
    async start(waitMembers, timeoutMs) {
      client.start();
      const failed = (): string | undefined => {
        const s: StateInfo = client.state;
        return s.state === "refused" || s.state === "logged-out" ? `client ${s.state} (${s.code ?? ""} ${s.message ?? ""})` : undefined;
      };
      const subscribe = (trigger: () => void): (() => void) => {
        client.on("state", trigger);
        client.on("contacts", trigger);
        return () => {
          client.off("state", trigger);
          client.off("contacts", trigger);
        };
      };
      // Online comes before the address book (StateInfo.contacts "loading"): ready is when the client says it has
      // loaded. That every group came with its members is checked after the timed part (counts(), the login row),
      // so the check's copies of 300 groups are not counted as the client's time. A row that does not wait for the
      // members still starts once the load is over ("loaded" or "incomplete"): the limit's start() and wechat4u's
      // return after their address books too, and a load still running would be timed as part of the row (the burst
      // row's first ~170 ms, the idle row's minute).
      const ready = (): boolean => {
        const { state, contacts } = client.state;
        return state === "online" && (waitMembers ? contacts === "loaded" : contacts !== undefined && contacts !== "loading");
      };
      await waitUntil(ready, subscribe, timeoutMs, waitMembers ? "online with group members" : "online with its address book", failed);
    },
    onText(listener) {
      client.on("message", (message) => {
        if (message.type === "text") listener(message.text);
      });
    },
    async sendFile(to, data, fileName) {
      await client.sendFile(to, data, { fileName, as: "file" });
    },
    counts: () =>
      contactCounts(
        client.listContacts({ kind: "all" }),
        (c) => c.kind === "group",
        (g) => g.members?.length ?? 0,
      ),
    errors: () => errors,
    phases: (t0) => phases.relative(t0),
    stop: async () => {
      try {
        await client.stop();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
