import { spawnSync } from "node:child_process";

/** True when `tool` can be run here; tests that need it skip (visibly) otherwise. */
export function hasTool(tool: string, args: string[] = ["-v"]): boolean {
  const result = spawnSync(tool, args, { stdio: "ignore" });
  return result.error === undefined;
}

/** Log-like text of `size` bytes: compressible, but not trivially. */
export function textBlob(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let state = seed;
  let at = 0;
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0;
    const line = `2026-01-02T03:04:${String(state % 60).padStart(2, "0")}Z pid=${state % 9973} event=${(state >>> 8).toString(36)} ok\n`;
    at += out.write(line, at);
  }
  return out;
}
