import { rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@custody/core";

/** `<vault>/server.json`: tells a CLI that finds the vault locked which server holds it. */
export interface ServerFile {
  pid: number;
  urls: string[];
  caFingerprintSha256: string;
  startedAt: string;
}

export const SERVER_FILE = "server.json";

export async function writeServerFile(dir: string, content: ServerFile): Promise<void> {
  await writeFileAtomic(join(dir, SERVER_FILE), `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
}

export async function removeServerFile(dir: string): Promise<void> {
  await rm(join(dir, SERVER_FILE), { force: true });
}
