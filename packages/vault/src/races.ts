/** Races a caller loses in a row (to other replicas appending first) before its error is reported. */
export const RACE_RETRIES = 64;

/**
 * After a lost race, a random pause that grows with the losses in a row (up to ~40 ms): replicas that
 * collided do not all come back at the same moment and collide again.
 */
export function backOff(losses: number): Promise<void> {
  const ceilingMs = Math.min(40, 2 ** Math.min(losses, 6));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceilingMs));
}
