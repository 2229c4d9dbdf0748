import { createRequire } from "node:module";
import { type BenchSide, PhaseLog, contactCounts, errorText } from "./side";

/** The parts of wechat4u (untyped JavaScript) the bench touches. */
interface W4Contact {
  UserName: string;
  MemberCount?: number;
  MemberList?: unknown[];
}
interface W4Message {
  MsgType: number;
  Content: string;
}
interface W4Bot {
  state: string;
  contacts: Record<string, W4Contact>;
  on(event: string, listener: (value: unknown) => void): void;
  start(): Promise<void>;
  stop(): void;
  _getContact(seq?: number): Promise<W4Contact[]>;
  batchGetContact(list: { UserName: string }[]): Promise<W4Contact[]>;
  updateContacts(list: W4Contact[]): void;
  sendMsg(message: { file: Buffer; filename: string }, to: string): Promise<unknown>;
}
type W4Constructor = new () => W4Bot;
type GetConf = (host?: string) => Record<string, unknown>;

/**
 * wechat4u builds absolute https URLs from the page host it finds in redirect_uri (getCONF in lib/util/conf.js;
 * core.js looks the function up through lib/util/index.js on every call). Replacing that export before
 * construction points every URL it builds (login, page, push, file host) at the sandbox origin, paths unchanged.
 */
function pointAtSandbox(load: NodeRequire, origin: string): void {
  const conf = load("wechat4u/lib/util/conf.js") as { getCONF: GetConf };
  const original = conf.getCONF;
  conf.getCONF = () => {
    const values = original("wx.qq.com");
    for (const [key, value] of Object.entries(values)) {
      if (typeof value === "string") values[key] = value.replace(/^https:\/\/[^/?]+/, origin);
    }
    return values;
  };
}

export function createWechat4u(sandboxUrl: string): BenchSide {
  const load = createRequire(__filename);
  pointAtSandbox(load, new URL(sandboxUrl).origin);
  const Wechat = load("wechat4u") as W4Constructor;
  const bot = new Wechat();
  const errors: string[] = [];
  const phases = new PhaseLog();
  for (const event of ["uuid", "user-avatar", "init", "login", "contacts-updated"]) bot.on(event, () => phases.mark(event));
  bot.on("error", (error) => {
    if (errors.length < 20) errors.push(errorText(error));
  });
  // Capture the address-book load that wechat4u starts (and does not expose) after init.
  let addressBook: Promise<W4Contact[]> | undefined;
  const getContact = bot._getContact.bind(bot);
  bot._getContact = (seq = 0) => {
    const pending = getContact(seq);
    if (seq === 0) addressBook = pending;
    return pending;
  };
  return {
    async start(waitMembers, timeoutMs) {
      const loggedIn = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for wechat4u login`)), timeoutMs);
        bot.on("login", () => {
          clearTimeout(timer);
          resolve();
        });
        bot.on("logout", () => {
          clearTimeout(timer);
          reject(new Error(`wechat4u stopped: ${errors.join("; ")}`));
        });
      });
      void bot.start();
      await loggedIn;
      await addressBook;
      phases.mark("address-book");
      if (!waitMembers) return;
      // wechat4u only fetches members of groups listed with MemberCount 0; an application that needs the members
      // asks for the rest the way wechat4u itself does for unknown chats: batches of 50, all at once.
      const missing = Object.values(bot.contacts).filter(
        (c) => c.UserName.startsWith("@@") && (c.MemberList?.length ?? 0) === 0,
      );
      const batches: { UserName: string }[][] = [];
      for (let i = 0; i < missing.length; i += 50) {
        batches.push(missing.slice(i, i + 50).map((c) => ({ UserName: c.UserName })));
      }
      const answers = await Promise.all(batches.map((list) => bot.batchGetContact(list)));
      for (const list of answers) bot.updateContacts(list);
    },
    onText(listener) {
      bot.on("message", (value) => {
        const message = value as W4Message;
        if (message.MsgType === 1) listener(message.Content);
      });
    },
    async sendFile(to, data, fileName) {
      await bot.sendMsg({ file: data, filename: fileName }, to);
    },
    counts: () =>
      contactCounts(
        Object.values(bot.contacts),
        (c) => c.UserName.startsWith("@@"),
        (g) => g.MemberList?.length ?? 0,
      ),
    errors: () => errors,
    phases: (t0) => phases.relative(t0),
    async stop() {
      bot.stop();
    },
  };
}
