import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { z } from "zod";

/** What `custody serve` leaves in `<vault>/server.json` while it runs (only the fields the hint reads). */
const serverFileSchema = z.object({
  pid: z.number().int().positive(),
  // Printed to the person as is: https only, no spaces or control characters.
  urls: z
    .array(
      z
        .string()
        .max(200)
        .regex(/^https:\/\/[\x21-\x7e]+$/),
    )
    .max(16),
});

/**
 * The lock error to show when a running `custody serve` holds the vault: waiting for the lock would only
 * time out, so the person is told at once which server to use instead. Undefined when no live server
 * (as named by server.json, and holding this very lock when the lock says who holds it) is found.
 */
export async function lockHolderHint(
  dir: string,
  lockError: CustodyError,
): Promise<CustodyError | undefined> {
  const server = await readServerFile(join(dir, "server.json"));
  if (server === undefined || !isRunning(server.pid)) return undefined;
  const holder = lockError.details.pid;
  if (typeof holder === "number" && holder !== server.pid) return undefined;
  const url = server.urls[0] ?? "https://HOST:PORT";
  return new CustodyError(
    "ERR_AUDIT_LOCKED",
    `a custody server (pid ${server.pid}) holds this vault; use --server ${url} (or CUSTODY_SERVER) with your --identity`,
    { cause: lockError, details: { vault: dir, pid: server.pid, urls: server.urls } },
  );
}

async function readServerFile(file: string): Promise<z.infer<typeof serverFileSchema> | undefined> {
  try {
    const parsed = serverFileSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // No server file (the usual case) or an unreadable one: no hint, the lock error stands.
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
