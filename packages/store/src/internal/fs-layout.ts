import { link, mkdir, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { z } from "zod";
import { EVIDENCE_KEY_PATTERN } from "../validate.js";
import {
  errnoCode,
  fsyncDir,
  isProcessAlive,
  ownerPid,
  removeTree,
  tempName,
  writeDurableFile,
} from "./fs-durable.js";
import { readRecord } from "./fs-record.js";

/*
 * Layout of a store directory:
 *   custody-store.json      format marker
 *   objects/a/b/=c/         the object with key "a/b/c": data (0444), meta.json, state-NNNNNNNNNN.json
 *   tmp/<pid>-<uuid>.*      staging directories, early copies, trash, delete journals; cleaned on open
 * A leaf starts with "=", which the key grammar forbids, so an object directory is never also the
 * parent directory of another key, and a committed object directory is never empty (so rename()
 * onto it fails instead of replacing it).
 */
export const MARKER_FILE = "custody-store.json";
const MARKER = { format: "custody.fs-store/v1" };
const markerSchema = z.object({ format: z.string() });
const journalSchema = z.strictObject({ key: z.string().regex(EVIDENCE_KEY_PATTERN), version: z.string() });

export function objectDir(objectsRoot: string, key: string): string {
  const segments = key.split("/");
  const leaf = segments.pop() ?? "";
  return join(objectsRoot, ...segments, `=${leaf}`);
}

/** Refuses a directory that is neither empty nor a store, and a store of a format this code does not know. */
export async function ensureMarker(root: string): Promise<void> {
  let bytes = await readMarker(root);
  if (bytes === undefined) {
    // The marker itself may be there already: another process is initializing the same store.
    const entries = (await readdir(root)).filter((n) => n !== "objects" && n !== "tmp" && n !== MARKER_FILE);
    if (entries.length > 0) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${root} is not empty and is not an evidence store`, {
        details: { dir: root, entries: entries.slice(0, 5) },
      });
    }
    await writeMarker(root);
    bytes = (await readMarker(root)) ?? Buffer.from("");
  }
  const parsed = markerSchema.safeParse(safeJson(bytes));
  if (!parsed.success || parsed.data.format !== MARKER.format) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_VERSION",
      `${root} holds an evidence store of an unknown format`,
      {
        details: { dir: root, format: parsed.success ? parsed.data.format : undefined },
      },
    );
  }
}

async function readMarker(root: string): Promise<Buffer | undefined> {
  return readFile(join(root, MARKER_FILE)).catch((error: unknown) => {
    if (errnoCode(error) === "ENOENT") return undefined;
    throw error;
  });
}

/** Complete before it appears (written aside, then linked), so a concurrent opener never reads half of it. */
async function writeMarker(root: string): Promise<void> {
  await mkdir(join(root, "tmp"), { recursive: true });
  const temp = join(root, "tmp", tempName(".marker"));
  await writeDurableFile(temp, Buffer.from(`${JSON.stringify(MARKER)}\n`));
  try {
    await link(temp, join(root, MARKER_FILE));
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(root);
}

/** Removes what writers killed mid-way left in tmp/, and finishes deletes they had decided on. */
export async function cleanTmp(tmpDir: string, objectsRoot: string): Promise<void> {
  for (const name of await readdir(tmpDir)) {
    const pid = ownerPid(name);
    if (pid !== undefined && isProcessAlive(pid)) continue;
    if (name.endsWith(".delete")) await finishJournaledDelete(join(tmpDir, name), tmpDir, objectsRoot);
    await removeTree(join(tmpDir, name));
  }
  await fsyncDir(tmpDir);
}

export async function writeDeleteJournal(tmpDir: string, key: string, version: string): Promise<string> {
  const path = join(tmpDir, tempName(".delete"));
  await writeDurableFile(path, Buffer.from(JSON.stringify({ key, version })));
  await fsyncDir(tmpDir);
  return path;
}

/** Moves a tombstoned object out of the key space, then removes it. */
export async function removeObjectDir(dir: string, tmpDir: string): Promise<void> {
  const trash = join(tmpDir, tempName(".trash"));
  try {
    await rename(dir, trash);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return;
    throw error;
  }
  await fsyncDir(join(dir, ".."));
  await removeTree(trash);
}

export async function removeJournal(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

async function finishJournaledDelete(journal: string, tmpDir: string, objectsRoot: string): Promise<void> {
  const parsed = journalSchema.safeParse(safeJson(await readFile(journal).catch(() => Buffer.from(""))));
  if (!parsed.success) return;
  const dir = objectDir(objectsRoot, parsed.data.key);
  const record = await readRecord(dir, parsed.data.key).catch(() => undefined);
  // Only the incarnation that was tombstoned goes; a later object under the same key stays.
  if (record?.state.deleted === true && record.meta.version === parsed.data.version) {
    await removeObjectDir(dir, tmpDir);
  }
}

function safeJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}
