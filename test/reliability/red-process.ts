/**
 * A real Node-RED in a child process (its own runtime, settings.js, flow file, adminAuth), loading our nodes
 * from the compiled tree this test runs from. Everything it prints is kept, for the secret watch.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { repoRoot } from "../support/node-red";

const load = createRequire(__filename);
const NODE_TYPES = ["wx-account", "wx-receive", "wx-send-text", "wx-send-image", "wx-contacts"];

/**
 * A nodes dir Node-RED can load: for each type, the compiled .js (symlinked, so its relative imports resolve in the
 * compiled tree), the editor .html and the locales beside it.
 */
export function assembleNodes(into: string): string {
  const root = repoRoot();
  const compiled = path.resolve(__dirname, "..", "..", "nodes");
  for (const type of NODE_TYPES) {
    const js = path.join(compiled, type, `${type}.js`);
    if (!fs.existsSync(js)) continue;
    const dir = path.join(into, type);
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(js, path.join(dir, `${type}.js`));
    fs.copyFileSync(path.join(root, "nodes", type, `${type}.html`), path.join(dir, `${type}.html`));
    const locales = path.join(root, "nodes", type, "locales");
    if (fs.existsSync(locales)) fs.cpSync(locales, path.join(dir, "locales"), { recursive: true });
  }
  // As an installed package: Node-RED serves a package's resources/ folder (the editors' shared code, #15.7) under
  // resources/@wxflow/node-red-wechat/, and every node's HTML loads it first.
  const nodes = Object.fromEntries(NODE_TYPES.filter((type) => fs.existsSync(path.join(into, type))).map((type) => [type, `${type}/${type}.js`]));
  fs.writeFileSync(path.join(into, "package.json"), JSON.stringify({ name: "@wxflow/node-red-wechat", version: "0.0.0-test", "node-red": { nodes } }));
  fs.symlinkSync(path.join(root, "resources"), path.join(into, "resources"), "dir");
  return into;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

export interface RedUser {
  username: string;
  password: string;
  permissions: string;
}

export interface RedOptions {
  userDir: string;
  nodesDir: string;
  users?: RedUser[];
  /** Extra settings (JSON-serialisable). */
  settings?: Record<string, unknown>;
}

/** One Node-RED process; start() again after stop() restarts it on the same user dir (and flow file). */
export class RedProcess {
  /** stdout + stderr of every run, in order. */
  output = "";
  url = "";
  private child: ChildProcess | undefined;
  private readonly listeners = new Set<() => void>();

  /** Called after every chunk of output (to re-check a condition). */
  onOutput(listener: () => void): void {
    this.listeners.add(listener);
  }

  offOutput(listener: () => void): void {
    this.listeners.delete(listener);
  }

  constructor(private readonly options: RedOptions) {}

  get flowFile(): string {
    return path.join(this.options.userDir, "flows.json");
  }

  writeFlows(flows: unknown[]): void {
    fs.writeFileSync(this.flowFile, JSON.stringify(flows, null, 2));
  }

  private writeSettings(port: number): string {
    const bcrypt = load(load.resolve("bcryptjs", { paths: [path.dirname(load.resolve("node-red/package.json"))] })) as {
      hashSync(password: string, rounds: number): string;
    };
    const users = (this.options.users ?? []).map((u) => ({ username: u.username, password: bcrypt.hashSync(u.password, 4), permissions: u.permissions }));
    const settings: Record<string, unknown> = {
      uiHost: "127.0.0.1",
      uiPort: port,
      userDir: this.options.userDir,
      flowFile: "flows.json",
      credentialSecret: "reliability-credential-secret",
      nodesDir: [this.options.nodesDir],
      logging: { console: { level: "debug", metrics: false, audit: false } },
      editorTheme: { tours: false },
      ...(users.length > 0 ? { adminAuth: { type: "credentials", users } } : {}),
      ...this.options.settings,
    };
    const file = path.join(this.options.userDir, "settings.js");
    fs.writeFileSync(file, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
    return file;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const port = await freePort();
    const settingsFile = this.writeSettings(port);
    const red = load.resolve("node-red/red.js");
    const child = spawn(process.execPath, [red, "--settings", settingsFile, "--userDir", this.options.userDir], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_RED_ENABLE_PROJECTS: "false" },
    });
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    const take = (c: Buffer): void => {
      this.output += c.toString("utf8");
      for (const listener of [...this.listeners]) listener();
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    await this.waitForOutput(/Started flows|Server now running/, timeoutMs, this.output.length);
    await this.waitForOutput(/Started flows/, timeoutMs, 0);
  }

  /** Resolves when the output (from `from`) matches; rejects on timeout or exit. */
  waitForOutput(pattern: RegExp, timeoutMs = 15_000, from = this.output.length): Promise<string> {
    const child = this.child;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = pattern.exec(this.output.slice(from));
        if (!hit) return;
        finish();
        resolve(hit[0]);
      };
      const onExit = (): void => {
        finish();
        reject(new Error(`Node-RED exited:\n${this.output.slice(-3000)}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${pattern} in the Node-RED output:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        child?.stdout?.off("data", check);
        child?.stderr?.off("data", check);
        child?.off("exit", onExit);
      };
      child?.stdout?.on("data", check);
      child?.stderr?.on("data", check);
      child?.on("exit", onExit);
      check();
    });
  }

  /** SIGINT: Node-RED closes its nodes first; SIGKILL: a crash. */
  async stop(signal: "SIGINT" | "SIGKILL" = "SIGINT"): Promise<void> {
    const child = this.child;
    this.child = undefined;
    // Already gone (an exit code, or killed by a signal): no "exit" event is coming.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** An admin API call; `token` from login(). */
  async api(method: string, route: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.url}${route}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    return { status: res.status, text: await res.text() };
  }

  async login(username: string, password: string, scope = "*"): Promise<string> {
    const res = await this.api("POST", "/auth/token", { body: { client_id: "node-red-admin", grant_type: "password", scope, username, password } });
    if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${res.text}`);
    return (JSON.parse(res.text) as { access_token: string }).access_token;
  }
}

interface WsLike {
  on(event: "open" | "close", listener: () => void): void;
  on(event: "message", listener: (data: Buffer | string) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  send(data: string): void;
  close(): void;
}

/** An editor's comms connection (websocket /comms): auth with a token, subscribe, collect what is pushed. */
export class CommsClient {
  readonly messages: { topic: string; data: unknown }[] = [];
  private readonly listeners = new Set<() => void>();
  private ws: WsLike | undefined;
  /** The server's answer to the auth packet ("ok" / "fail"). */
  auth?: string;

  async connect(url: string, token: string | undefined, topics: string | string[]): Promise<void> {
    const WebSocketCtor = load(load.resolve("ws", { paths: [path.dirname(load.resolve("node-red/package.json"))] })) as new (url: string) => WsLike;
    const ws = new WebSocketCtor(`${url.replace(/^http/, "ws")}/comms`);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => resolve());
      ws.on("error", reject);
    });
    ws.on("message", (raw) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (parsed && typeof parsed === "object" && "auth" in parsed) this.auth = String((parsed as { auth: unknown }).auth);
      for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
        if (item && typeof item === "object" && typeof (item as { topic?: unknown }).topic === "string") {
          this.messages.push(item as { topic: string; data: unknown });
        }
      }
      for (const l of [...this.listeners]) l();
    });
    if (token) {
      ws.send(JSON.stringify({ auth: token }));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no auth answer on comms")), 10_000);
        const check = (): void => {
          if (this.auth === undefined) return;
          clearTimeout(timer);
          this.listeners.delete(check);
          resolve();
        };
        this.listeners.add(check);
      });
    }
    for (const topic of Array.isArray(topics) ? topics : [topics]) ws.send(JSON.stringify({ subscribe: topic }));
  }

  /** Resolves with the first pushed message matching pred; rejects after timeoutMs. */
  next(pred: (m: { topic: string; data: unknown }) => boolean, timeoutMs: number): Promise<{ topic: string; data: unknown }> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.messages.find(pred);
        if (!hit) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`nothing pushed in ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  close(): void {
    this.ws?.close();
  }
}
