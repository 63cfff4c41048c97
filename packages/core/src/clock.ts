/** Where custody reads the time. Inject a fixed clock in tests and in verification. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that always answers `at` (or advances by `stepMs` per call, for ordered timestamps). */
export function fixedClock(at: Date | string, stepMs = 0): Clock {
  let next = new Date(at).getTime();
  return {
    now() {
      const value = new Date(next);
      next += stepMs;
      return value;
    },
  };
}
