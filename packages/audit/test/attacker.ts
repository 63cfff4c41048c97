// What someone who can write the log folder (and holds no key) can do: edit files and recompute every
// hash and chain link with public algorithms. Written without the package's own record code on purpose.
import { createHash } from "node:crypto";
import { appendFile, readdir, readFile, rm, truncate } from "node:fs/promises";
import { join, relative } from "node:path";
import { canonicalJson, type JsonValue } from "@custody/core";

type Line = { [key: string]: JsonValue };

export async function readLines(dir: string): Promise<Line[]> {
  const text = await readFile(join(dir, "audit.log"), "utf8");
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Line);
}

/** Appends a record that links to the last one, its hash recomputed; `seal` as given (or none). */
export async function appendForged(dir: string, seal?: string): Promise<Line> {
  const last = (await readLines(dir)).at(-1);
  const body: Line = {
    seq: last === undefined ? 0 : (last.seq as number) + 1,
    time: new Date().toISOString(),
    actor: "alice",
    action: "evidence.hold-released",
    target: "item:case-1/aa",
    outcome: "allow",
    reason: "added by hand",
    details: { legalHold: false },
    prev: last === undefined ? "0".repeat(64) : (last.hash as string),
  };
  const hash = createHash("sha256").update(canonicalJson(body)).digest("hex");
  const record = { ...body, hash, ...(seal === undefined ? {} : { seal }) };
  await appendFile(join(dir, "audit.log"), `${canonicalJson(record)}\n`);
  return record;
}

/** Cuts the log back to its first `keep` records and removes every checkpoint that covers more. */
export async function cutBack(dir: string, keep: number): Promise<void> {
  const text = await readFile(join(dir, "audit.log"), "utf8");
  const bytes = Buffer.byteLength(text.split("\n").slice(0, keep).join("\n")) + 1;
  await truncate(join(dir, "audit.log"), bytes);
  for (const name of await readdir(join(dir, "checkpoints"))) {
    if (Number(name.slice(0, 12)) > keep) await rm(join(dir, "checkpoints", name));
  }
}

/** Every file under `dir` with its bytes, to show that nothing changed. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), (await readFile(path)).toString("base64"));
  }
  return files;
}
