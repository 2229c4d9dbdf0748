/** Small numeric helpers shared by the parent and the workers. */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function median(values: number[]): number | undefined {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of a copy of values. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function mean(values: number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Sample standard deviation (0 for fewer than two values). */
export function standardDeviation(values: number[]): number {
  const m = mean(values);
  if (m === undefined || values.length < 2) return 0;
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1));
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1024 * 1024;
