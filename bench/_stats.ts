/** Small statistics over samples; every function copies before sorting. */

export function mean(samples: number[]): number {
  return samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function min(samples: number[]): number {
  return samples.reduce((low, x) => Math.min(low, x), Infinity);
}
