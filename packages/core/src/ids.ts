import { randomBytes } from "node:crypto";
import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";

/** Makes unique identifiers. Inject a deterministic one in tests. */
export interface IdGenerator {
  next(): string;
}

/**
 * UUIDv7 (RFC 9562): 48 bits of milliseconds then randomness, so ids sort by creation time and
 * listings come out in the order things happened.
 */
export function uuidv7Generator(clock: Clock = systemClock): IdGenerator {
  // randomness is drawn 4 KiB at a time: one call per id was a measurable cost per server request
  let pool = Buffer.alloc(0);
  let used = 0;
  return {
    next() {
      if (used + 16 > pool.length) {
        pool = randomBytes(4096);
        used = 0;
      }
      const bytes = Buffer.from(pool.subarray(used, used + 16));
      used += 16;
      bytes.writeUIntBE(clock.now().getTime(), 0, 6);
      bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
      bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
      const hex = bytes.toString("hex");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
}

/** `prefix-1`, `prefix-2`, ... for tests that need stable ids. */
export function sequentialIds(prefix = "id"): IdGenerator {
  let n = 0;
  return { next: () => `${prefix}-${++n}` };
}
