/**
 * Row 9, "handover" (#17): two Node-RED instances with the same flow, one account whose session and lease are in
 * Redis (the multi-process set-up of test/scale-out/cluster.ts). Texts arrive at a steady 20 a second; the owner is
 * killed (SIGKILL) and the standby takes over from the stored session without a scan. Measured: SIGKILL to the
 * standby online, the messages that arrived meanwhile (held on the server) and how long after the takeover the
 * last of them reached the flow, and lost / duplicated across both instances' ledgers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Instance, ledgerCount, readLedgers, scaleOutFlow, startInstances } from "../test/scale-out/cluster";
import { SpanLog } from "../test/scale-out/proxies";
import { startRedis } from "../test/support/redis";
import type { BenchOptions } from "./options";
import { accountName, startSandbox } from "./sandbox-host";
import type { Sample, Workload } from "./workloads";

const RATE_INTERVAL_MS = 50;
const STEP_TIMEOUT_MS = 60_000;

export function handoverWorkload(options: BenchOptions): Workload {
  // --quick: a short lease (settings wxflow.leaseTtlMs); the full run: the account's default, what a user gets.
  const leaseMs = options.quick ? 3000 : undefined;
  return {
    name: "handover",
    title: `9 Node-RED handover (2 instances, Redis, lease ${leaseMs === undefined ? "default" : `${leaseMs} ms`})`,
    sides: ["ours"],
    metrics: [
      { key: "handoverMs", label: "SIGKILL to standby online ms", better: "lower", target: "< lease ttl + 5 s" },
      { key: "heldMessages", label: "messages held during it (20/s)", better: "lower" },
      { key: "catchUpMs", label: "online to last held message ms", better: "lower" },
      { key: "lost", label: "lost", better: "lower", target: "0" },
      { key: "duplicated", label: "duplicated", better: "lower", target: "0" },
    ],
    async run(): Promise<Sample> {
      const dir = mkdtempSync(path.join(tmpdir(), "wxflow-bench-handover-"));
      const redis = await startRedis();
      const sb = await startSandbox({ seed: 1, throttle: false });
      const instances: Instance[] = [];
      let injecting = true;
      let injector: Promise<void> = Promise.resolve();
      try {
        const friend = await accountName(sb, 1);
        const common = {
          flow: scaleOutFlow(sb.url),
          redisPort: redis.port,
          sandboxPort: Number(new URL(sb.url).port),
          spans: new SpanLog(),
          sessionKey: "bench-handover-session-key",
          ...(leaseMs === undefined ? {} : { leaseMs }),
        };
        await startInstances(["bench-a", "bench-b"], (name) => ({ ...common, name, userDir: path.join(dir, name) }), instances);
        const login = await sb.control.waitForLogin({ timeoutMs: STEP_TIMEOUT_MS });
        await sb.control.scan({ uuid: login.uuid });
        const owner = await Promise.any(instances.map((i) => i.untilOnline(STEP_TIMEOUT_MS).then(() => i)));
        const standby = instances.find((i) => i !== owner) as Instance;
        await standby.untilStandby(owner.name, STEP_TIMEOUT_MS);
        // A steady stream from before the kill to after the takeover.
        const injected: { msgId: string; at: number }[] = [];
        injector = (async () => {
          for (let i = 1; injecting; i++) {
            const answer = (await sb.control.inject({ from: friend, text: `handover ${i}` })) as { msgId: string };
            injected.push({ msgId: answer.msgId, at: Date.now() });
            await sleep(RATE_INTERVAL_MS);
          }
        })();
        await owner.until("a second of messages", () => (owner.ledger.length >= 20 ? true : undefined), STEP_TIMEOUT_MS);
        const killedAt = Date.now();
        await owner.kill();
        const onlineAt = await standby.untilOnline(STEP_TIMEOUT_MS);
        await standby.until("a second of messages after the takeover", () => (standby.ledger.length >= 20 ? true : undefined), STEP_TIMEOUT_MS);
        injecting = false;
        await injector;
        const held = injected.filter((m) => m.at >= killedAt && m.at <= onlineAt).map((m) => m.msgId);
        await standby.untilLedger(held, STEP_TIMEOUT_MS);
        const heldIds = new Set(held);
        const lastHeld = Math.max(onlineAt, ...standby.ledger.filter((e) => heldIds.has(e.msgId)).map((e) => e.at));
        // Everything the killed owner had not written to its ledger file must reach the standby's; one that never
        // does is counted as lost below rather than failing the round.
        const ownerIds = new Set(readLedgers([owner]).map((e) => e.msgId));
        const rest = injected.map((m) => m.msgId).filter((id) => !ownerIds.has(id));
        await standby.untilLedger(rest, STEP_TIMEOUT_MS).catch(() => undefined);
        const { lost, duplicated } = ledgerCount(readLedgers(instances), injected.map((m) => m.msgId));
        return {
          handoverMs: onlineAt - killedAt,
          heldMessages: held.length,
          catchUpMs: lastHeld - onlineAt,
          lost: lost.length,
          duplicated: duplicated.length,
          injected: injected.length,
        };
      } finally {
        injecting = false;
        await injector.catch(() => undefined);
        await Promise.all(instances.map((i) => i.close()));
        await sb.close();
        await redis.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
