/**
 * One bench worker: one client (ours, wechat4u or the bare limit loop), one workload, one round, driven by the
 * parent over IPC. Its own process, so RSS and CPU are its own.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Session as InspectorSession } from "node:inspector/promises";
import { installLoopbackGuard } from "./net-guard";
import { Collector } from "./collector";
import { type Command, type CpuSample, type MemSample, type Replies, type StartResult, type UploadResult, type WorkerInit, serveCommands } from "./ipc";
import { MB, wallNow } from "./stats";
import type { BenchSide } from "./sides/side";
import { createOurs } from "./sides/ours";
import { createWechat4u } from "./sides/wechat4u";
import { createLimit } from "./sides/limit";

installLoopbackGuard();

const init = JSON.parse(process.argv[2] ?? "{}") as WorkerInit;
let side: BenchSide | undefined;
let collector: Collector | undefined;

function requireSide(): BenchSide {
  if (!side) throw new Error("not started");
  return side;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

/**
 * BENCH_WINDOW_PROF=<dir>: CPU profiles of the timed windows alone (start() to ready; collect to collected),
 * without process start and module loading, written as <dir>/<window>-<side>-<pid>.cpuprofile.
 */
class WindowProfiler {
  private session: InspectorSession | undefined;

  async start(): Promise<void> {
    if (!process.env.BENCH_WINDOW_PROF || this.session) return;
    const session = new InspectorSession();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
    this.session = session;
  }

  async stop(window: string): Promise<void> {
    const session = this.session;
    const dir = process.env.BENCH_WINDOW_PROF;
    if (!session || !dir) return;
    this.session = undefined;
    const { profile } = await session.post("Profiler.stop");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${window}-${init.side}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
const profiler = new WindowProfiler();

function memSample(): MemSample {
  gc();
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, heapUsedMB: m.heapUsed / MB, externalMB: m.external / MB };
}

async function run(command: Command): Promise<Replies[Command["cmd"]]> {
  switch (command.cmd) {
    case "start": {
      // Loading and constructing the client is not part of login-to-ready.
      side = init.side === "ours" ? createOurs(init.sandboxUrl) : init.side === "limit" ? createLimit(init.sandboxUrl) : createWechat4u(init.sandboxUrl);
      side.onText((text) => collector?.handle(text));
      await side.loaded?.();
      await profiler.start();
      const cpu0 = process.cpuUsage();
      const t0 = wallNow();
      let readyAt: number;
      let cpu: NodeJS.CpuUsage;
      try {
        await side.start(init.waitMembers, command.timeoutMs);
      } finally {
        readyAt = wallNow();
        cpu = process.cpuUsage(cpu0);
        await profiler.stop("login");
      }
      const result: StartResult = {
        readyMs: readyAt - t0,
        readyAt,
        cpuMs: (cpu.user + cpu.system) / 1000,
        ...side.counts(),
        phases: side.phases(t0),
      };
      return result;
    }
    case "collect":
      await profiler.start();
      collector = new Collector(command.prefix, command.count);
      return { ok: true };
    case "collected": {
      if (!collector) throw new Error("collect was not called");
      const result = await collector.wait(command.timeoutMs, command.idleMs);
      collector = undefined;
      await profiler.stop("collect");
      return result;
    }
    case "upload": {
      const client = requireSide();
      const data = Buffer.alloc(command.bytes);
      for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
      const rssBeforeMB = process.memoryUsage().rss / MB;
      const t0 = wallNow();
      await client.sendFile(command.to, data, command.fileName);
      const result: UploadResult = {
        ms: wallNow() - t0,
        bytes: command.bytes,
        rssBeforeMB,
        peakRssMB: process.resourceUsage().maxRSS / 1024,
      };
      return result;
    }
    case "mem":
      return memSample();
    case "cpu": {
      const u = process.cpuUsage();
      const sample: CpuSample = { micros: u.user + u.system, at: wallNow() };
      return sample;
    }
    case "stop": {
      const errors = side?.errors() ?? [];
      await side?.stop();
      return { errors };
    }
    case "accounts":
    case "loop-delay":
      throw new Error(`a client worker does not do "${command.cmd}" (the Node-RED worker does)`);
  }
}

serveCommands(run);
