/**
 * Bookkeeping of the reliability suite: a seeded PRNG (the seed is printed so a failing schedule can be replayed
 * with WXFLOW_SEED=<seed>), a ledger that proves every injected message arrived exactly once and in order per chat,
 * and the summary table printed at the end of a run.
 */

import { Rng } from "../../lib/sandbox/rng";

/** The sandbox's seeded PRNG (mulberry32), keeping the seed so a failing schedule can be printed and replayed. */
export class Prng extends Rng {
  constructor(readonly seed: number) {
    super(seed);
  }
}

/**
 * The seed of this run, printed either way: WXFLOW_SEED=<n> when set (replay), else `pinned` (the mocha suite pins
 * its schedules, so `npm test` and CI run the same ones every time), else a fresh one (`npm run soak`, or any run
 * with WXFLOW_SEED=random).
 */
export function runSeed(what: string, pinned?: number, env: NodeJS.ProcessEnv = process.env): Prng {
  const wanted = env.WXFLOW_SEED?.trim() ?? "";
  const fromEnv = Number(wanted);
  const fresh = (Date.now() % 2_147_483_647) + 1;
  const seed = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : wanted === "random" || pinned === undefined ? fresh : pinned;
  console.log(`    [${what}] seed ${seed} (replay with WXFLOW_SEED=${seed})`);
  return new Prng(seed);
}

/** Inbound accounting: what was injected, per chat in order, against what the bot emitted. */
export class Ledger {
  private readonly expected = new Map<string, string[]>();
  private readonly chatOf = new Map<string, string>();
  private readonly counts = new Map<string, number>();
  private readonly observed = new Map<string, string[]>();
  /** Emitted ids that were never injected (must stay 0). */
  strangers = 0;

  expect(chat: string, msgId: string): void {
    const list = this.expected.get(chat) ?? [];
    list.push(msgId);
    this.expected.set(chat, list);
    this.chatOf.set(msgId, chat);
  }

  knows(msgId: string): boolean {
    return this.chatOf.has(msgId);
  }

  /** Every message the bot emitted (of any client instance). */
  observe(msgId: string): void {
    const chat = this.chatOf.get(msgId);
    if (chat === undefined) {
      this.strangers++;
      return;
    }
    const n = (this.counts.get(msgId) ?? 0) + 1;
    this.counts.set(msgId, n);
    if (n === 1) {
      const list = this.observed.get(chat) ?? [];
      list.push(msgId);
      this.observed.set(chat, list);
    }
  }

  get injected(): number {
    return this.chatOf.size;
  }

  get received(): number {
    return this.counts.size;
  }

  get lost(): number {
    return this.injected - this.received;
  }

  get duplicated(): number {
    let extra = 0;
    for (const n of this.counts.values()) extra += n - 1;
    return extra;
  }

  /** Chats whose first arrivals are not in injection order. */
  outOfOrder(): string[] {
    const bad: string[] = [];
    for (const [chat, ids] of this.expected) {
      const seen = this.observed.get(chat) ?? [];
      const want = ids.filter((id) => this.counts.has(id));
      if (want.join(",") !== seen.join(",")) bad.push(chat);
    }
    return bad;
  }

  allArrived(): boolean {
    return this.received === this.injected;
  }

  missing(limit = 5): string[] {
    return [...this.chatOf.keys()].filter((id) => !this.counts.has(id)).slice(0, limit);
  }
}

export interface SummaryRow {
  scenario: string;
  seed?: number;
  faults: number;
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  note?: string;
}

/** Rows of this run, printed as one table when the run ends. */
export class Summary {
  readonly rows: SummaryRow[] = [];

  add(row: SummaryRow): void {
    this.rows.push(row);
  }

  table(title: string): string {
    const head = ["scenario", "seed", "faults", "sent", "received", "lost", "duplicated", "note"];
    const body = this.rows.map((r) => [
      r.scenario,
      r.seed === undefined ? "-" : String(r.seed),
      String(r.faults),
      String(r.sent),
      String(r.received),
      String(r.lost),
      String(r.duplicated),
      r.note ?? "",
    ]);
    const total = this.rows.reduce(
      (t, r) => ({ faults: t.faults + r.faults, sent: t.sent + r.sent, received: t.received + r.received, lost: t.lost + r.lost, duplicated: t.duplicated + r.duplicated }),
      { faults: 0, sent: 0, received: 0, lost: 0, duplicated: 0 },
    );
    body.push(["TOTAL", "", String(total.faults), String(total.sent), String(total.received), String(total.lost), String(total.duplicated), ""]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
    const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
    return [`${title}`, line(head), rule, ...body.map(line)].join("\n");
  }
}
