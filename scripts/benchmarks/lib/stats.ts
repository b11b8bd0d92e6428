/**
 * The benchmarks' statistics and units, defined once: nearest-rank percentiles, medians, and how figures are
 * written. MB are megabytes, 10^6 bytes, everywhere the benchmarks print them; the kernel's "kB" (/proc/PID/status,
 * GNU time's maxrss) are KiB, 1,024 bytes.
 */

/** Nearest-rank percentile (p in 0..100) of the samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** The median (mean of the two middle values for an even count); NaN when empty. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds with a precision that suits their size: 0.42, 4.2, 42, 420. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 100) return `${Math.round(value)} ms`;
  if (abs >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '—';
}

/** A share (0.175) as a percentage: "17.5 %". */
export const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—');

/** 1000 → "1,000". */
export const count = (n: number): string => n.toLocaleString('en-US');

/** Bytes in a megabyte: the one unit of memory the benchmarks print ("MB"). */
const BYTES_PER_MB = 1e6;
/** Bytes → MB. */
export const bytesToMb = (bytes: number): number => bytes / BYTES_PER_MB;
/** Kernel kB (KiB) → MB. */
export const kibToMb = (kib: number): number => bytesToMb(kib * 1024);
/** Kernel kB (KiB) written as MB, with `digits` decimals: 102 MB. */
export const mb = (kib: number, digits = 0): string =>
  Number.isFinite(kib) ? `${kibToMb(kib).toFixed(digits)} MB` : '—';
