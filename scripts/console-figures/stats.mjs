/** Median and spread of a series of milliseconds. */
export function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

export const ms = (value) => value.toFixed(1);
