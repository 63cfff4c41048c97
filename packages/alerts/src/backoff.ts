export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential back-off with "equal jitter": the n-th retry waits between half and all of
 * min(max, base * 2^(n-1)), so many sinks retrying the same receiver spread out but never retry at once.
 */
export function backoffDelayMs(retry: number, options: BackoffOptions, random: () => number): number {
  const exponent = Math.min(Math.max(retry - 1, 0), 30);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Logs the 1st, 2nd, 4th, 8th... occurrence: a flood is reported without flooding the log. */
export function isPowerOfTwo(count: number): boolean {
  return count > 0 && (count & (count - 1)) === 0;
}
