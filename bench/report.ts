import type { Side } from "./ipc";
import { median, round } from "./stats";
import type { MetricSpec, Sample, Workload } from "./workloads";

export interface SideResult {
  samples: Sample[];
  failures: string[];
}

export interface MetricRow {
  workload: string;
  title: string;
  metric: string;
  label: string;
  better: "lower" | "higher";
  target?: string | undefined;
  ours: number | null;
  theirs: number | null;
  /** The bare protocol loop (bench/sides/limit.ts), on the rows it runs. */
  limit: number | null;
  /** ours / theirs (both medians). */
  ratio: number | null;
  /** ours as % of the limit on a speed (MetricSpec.ofLimit): 100 = as fast as the bare loop. */
  oursOfLimitPct: number | null;
  theirsOfLimitPct: number | null;
  /** ours is better than theirs on this metric. */
  ahead: boolean | null;
  oursNa?: string | undefined;
  theirsNa?: string | undefined;
  limitNa?: string | undefined;
  oursSamples: number[];
  theirsSamples: number[];
  limitSamples: number[];
}

/** Why the limit column of rows 4-7 is empty. */
export const LIMIT_NOT_MEASURED = "not measured by the limit side";

export type WorkloadResults = Record<Side, SideResult | undefined>;

function cell(result: SideResult | undefined, key: string, side: Side): { value: number | null; samples: number[]; na?: string } {
  if (!result) return { value: null, samples: [], na: side === "limit" ? LIMIT_NOT_MEASURED : "not measured for this side" };
  const samples = result.samples.map((s) => s[key]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const value = median(samples);
  if (value === undefined) return { value: null, samples, na: result.failures[0] ?? "no sample" };
  return { value, samples };
}

/** A side's speed as % of the limit's: value / limit for "higher is better", limit / value for a time. */
export function ofLimit(value: number | null, limit: number | null, better: MetricSpec["better"]): number | null {
  if (value === null || limit === null || value <= 0 || limit <= 0) return null;
  return (better === "higher" ? value / limit : limit / value) * 100;
}

export function metricRows(workload: Workload, results: WorkloadResults): MetricRow[] {
  return workload.metrics.map((m: MetricSpec) => {
    const o = cell(results.ours, m.key, "ours");
    const t = cell(results.theirs, m.key, "theirs");
    const l = cell(results.limit, m.key, "limit");
    // A ratio of a value that can be zero or negative (growth %, counts of losses) says nothing.
    const ratio = o.value !== null && t.value !== null && o.value > 0 && t.value > 0 ? o.value / t.value : null;
    const ahead =
      o.value !== null && t.value !== null ? (m.better === "lower" ? o.value < t.value : o.value > t.value) : null;
    return {
      workload: workload.name,
      title: workload.title,
      metric: m.key,
      label: m.label,
      better: m.better,
      target: m.target,
      ours: o.value,
      theirs: t.value,
      limit: l.value,
      ratio,
      oursOfLimitPct: m.ofLimit ? ofLimit(o.value, l.value, m.better) : null,
      theirsOfLimitPct: m.ofLimit ? ofLimit(t.value, l.value, m.better) : null,
      ahead,
      oursNa: o.na,
      theirsNa: t.na,
      limitNa: l.na,
      oursSamples: o.samples,
      theirsSamples: t.samples,
      limitSamples: l.samples,
    };
  });
}

function show(value: number | null, na?: string): string {
  if (value === null) return na?.startsWith("not measured") && na !== LIMIT_NOT_MEASURED ? "-" : "n/a";
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(round(value, 2));
}

/** The printed table: one line per metric, then the reasons for every n/a. */
export function formatTable(rows: MetricRow[]): string {
  const header = ["row", "metric", "ours", "theirs", "limit", "ours/theirs", "ours % of limit", "theirs % of limit", "target"];
  const pct = (value: number | null): string => (value === null ? "" : `${Math.round(value)}%`);
  const lines = rows.map((r) => [
    r.title,
    `${r.label} (${r.better === "lower" ? "lower" : "higher"} is better)`,
    show(r.ours, r.oursNa),
    show(r.theirs, r.theirsNa),
    show(r.limit, r.limitNa),
    r.ratio === null
      ? r.ahead === null || r.ours === r.theirs
        ? "-"
        : r.ahead
          ? "ahead"
          : "behind"
      : `${round(r.ratio, 2)}${r.ahead === null ? "" : r.ahead ? " ahead" : " behind"}`,
    pct(r.oursOfLimitPct),
    pct(r.theirsOfLimitPct),
    r.target ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cols: string[]): string => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  const out = [fmt(header), widths.map((w) => "-".repeat(w)).join("  ")];
  let last = "";
  for (const l of lines) {
    const first = l[0] === last ? "" : (l[0] ?? "");
    last = l[0] ?? "";
    out.push(fmt([first, ...l.slice(1)]));
  }
  const reasons = new Set<string>();
  for (const r of rows) {
    if (r.oursNa) reasons.add(`${r.title} / ours: n/a: ${r.oursNa}`);
    if (r.theirsNa && !r.theirsNa.startsWith("not measured")) reasons.add(`${r.title} / theirs: n/a: ${r.theirsNa}`);
    if (r.limitNa) reasons.add(`${r.title} / limit: n/a: ${r.limitNa}`);
  }
  if (reasons.size > 0) out.push("", ...reasons);
  return out.join("\n");
}
