/** Full-jitter exponential back-off: a random wait in [0, min(cap, base * 2^attempt)). */
export function backoffDelayMs(
  attempt: number,
  random: () => number = Math.random,
  baseMs = 1000,
  capMs = 60_000,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
