import { randomUUID } from "node:crypto";
import { link, rm, writeFile } from "node:fs/promises";

/**
 * Creates `path` with all of `bytes` or not at all: written and synced under a private name, then
 * linked into place (link fails when `path` exists, so this is also create-only).
 */
export async function createWhole(path: string, bytes: Buffer): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, bytes, { flag: "wx", flush: true, mode: 0o600 });
  try {
    await link(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}
