import type { Collector } from "../types.js";

export function windowsCollectors(): Collector[] {
  return [];
}
