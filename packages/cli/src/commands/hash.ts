import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { CustodyError, toCustodyError } from "@custody/core";
import {
  type DigestSet,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  hashFile,
  hashStream,
  hashTree,
  isHashAlgorithm,
  type TreeEntry,
} from "@custody/hash";
import type { CommandContext, CommandSpec } from "../command.js";
import { EXIT } from "../exit-codes.js";
import { formatBytes } from "../progress.js";

/** One line of output: a digested file, or a problem that goes to stderr and makes the exit code 1. */
type Row =
  | { kind: "file"; path: string; size: number; digests: DigestSet }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "other"; path: string; type: string }
  | { kind: "error"; path: string; error: { code: string; message: string } };

const BSD_NAMES: Record<HashAlgorithm, string> = {
  sha256: "SHA256",
  sha1: "SHA1",
  md5: "MD5",
  sha512: "SHA512",
};

export const hashCommand: CommandSpec = {
  path: ["hash"],
  summary: "print file digests in sha256sum format (one read for every algorithm)",
  usage: [
    "[-a ALG]... [-r] FILE|DIR|-...",
    "",
    "Digests each FILE (`-` or nothing: standard input); with -r, every file below each DIR, in",
    "sorted path order. One algorithm prints `<hex>  <path>` lines exactly as sha256sum (md5sum,",
    "sha1sum, sha512sum) does, with its escaping of names holding a backslash or newline, so",
    "`custody hash -r data | sha256sum -c` passes. Several -a print BSD-style `SHA256 (path) = <hex>`",
    "lines, one per algorithm and file, which `cksum -c` checks; --json gives every digest of",
    "every file with its size.",
    `Algorithms: ${HASH_ALGORITHMS.join(", ")} (default sha256).`,
    "Symlinks are reported, never followed; they, special files (a FIFO, socket or device is never",
    "opened, so it cannot hang the command) and unreadable files go to stderr",
    "and make the exit code 1 after the rest is hashed.",
  ].join("\n"),
  options: {
    algorithm: { type: "string", short: "a", multiple: true },
    recursive: { type: "boolean", short: "r" },
  },
  positionals: { min: 0 },
  run: runHash,
};

async function runHash(ctx: CommandContext): Promise<number> {
  const algorithms = parseAlgorithms(ctx.strings("algorithm"));
  const recursive = ctx.flag("recursive");
  const operands = ctx.positionals.length === 0 ? ["-"] : [...ctx.positionals];
  if (recursive && operands.includes("-")) {
    throw new CustodyError("ERR_USAGE", "-r hashes folders; standard input (-) cannot be combined with it");
  }
  const rows: Row[] = [];
  let problems = 0;
  let files = 0;
  let bytes = 0;
  const progress = ctx.progress();
  const emit = (row: Row) => {
    if (ctx.json) rows.push(row);
    else printRow(ctx, row, algorithms);
    if (row.kind !== "file") problems += 1;
    else {
      files += 1;
      bytes += row.size;
      progress.update(`hashed ${files} files, ${formatBytes(bytes)}`);
    }
  };
  for (const operand of operands) {
    for await (const row of hashOperand(ctx, operand, algorithms, recursive)) emit(row);
  }
  progress.done();
  if (ctx.json) ctx.printJson({ ok: problems === 0, algorithms, entries: rows });
  return problems === 0 ? EXIT.ok : EXIT.verificationFailed;
}

function parseAlgorithms(requested: string[]): HashAlgorithm[] {
  const names = requested.length === 0 ? ["sha256"] : requested.flatMap((a) => a.split(","));
  const result: HashAlgorithm[] = [];
  for (const raw of names) {
    const name = raw.trim().toLowerCase().replace(/^sha-/, "sha");
    if (!isHashAlgorithm(name)) {
      throw new CustodyError(
        "ERR_USAGE",
        `unknown algorithm ${JSON.stringify(raw)} (choose from ${HASH_ALGORITHMS.join(", ")})`,
      );
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

async function* hashOperand(
  ctx: CommandContext,
  operand: string,
  algorithms: HashAlgorithm[],
  recursive: boolean,
): AsyncGenerator<Row> {
  try {
    if (operand === "-") {
      const result = await hashStream(ctx.stdin as Readable, { algorithms });
      yield { kind: "file", path: "-", ...result };
      return;
    }
    const absolute = resolve(ctx.cwd, operand);
    const info = await stat(absolute);
    if (info.isDirectory() && recursive) {
      yield* hashFolder(absolute, operand, algorithms);
    } else if (info.isDirectory()) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "is a folder (use -r)");
    } else if (!info.isFile()) {
      // Opening a FIFO blocks until a writer comes; a device may never end. Refused before any open.
      throw new CustodyError("ERR_INVALID_ARGUMENT", `is a ${specialKind(info)}, not a regular file`);
    } else {
      yield { kind: "file", path: operand, ...(await hashFile(absolute, { algorithms })) };
    }
  } catch (cause) {
    const error = toCustodyError(cause, "ERR_IO", "cannot hash");
    yield { kind: "error", path: operand, error: { code: error.code, message: error.message } };
  }
}

function specialKind(info: Stats): string {
  if (info.isFIFO()) return "FIFO";
  if (info.isSocket()) return "socket";
  if (info.isCharacterDevice()) return "character device";
  if (info.isBlockDevice()) return "block device";
  return "special file";
}

async function* hashFolder(
  absolute: string,
  shown: string,
  algorithms: HashAlgorithm[],
): AsyncGenerator<Row> {
  // Paths are printed under the folder as it was named, so `sha256sum -c` works from the same place.
  const prefix = shown.endsWith("/") ? shown : `${shown}/`;
  for await (const entry of hashTree(absolute, { algorithms })) yield toRow(entry, prefix);
}

function toRow(entry: TreeEntry, prefix: string): Row {
  const path = prefix + entry.path;
  switch (entry.kind) {
    case "file":
      return { kind: "file", path, size: entry.size, digests: entry.digests };
    case "symlink":
      return { kind: "symlink", path, target: entry.target };
    case "other":
      return { kind: "other", path, type: entry.type };
    case "error":
      return { kind: "error", path, error: { code: entry.error.code, message: entry.error.message } };
  }
}

function printRow(ctx: CommandContext, row: Row, algorithms: HashAlgorithm[]): void {
  switch (row.kind) {
    case "file":
      for (const line of digestLines(row.path, row.digests, algorithms)) ctx.out(line);
      return;
    case "symlink":
      ctx.err(`custody hash: ${row.path}: symlink to ${row.target}, not followed`);
      return;
    case "other":
      ctx.err(`custody hash: ${row.path}: ${row.type}, not a regular file, skipped`);
      return;
    case "error":
      ctx.err(`custody hash: ${row.path}: ${row.error.code}: ${row.error.message}`);
      return;
  }
}

/** The lines sha256sum (one algorithm) or `sha256sum --tag`/cksum (several) would print. */
export function digestLines(
  path: string,
  digests: DigestSet,
  algorithms: readonly HashAlgorithm[],
): string[] {
  const { escaped, name } = escapeName(path);
  const mark = escaped ? "\\" : "";
  if (algorithms.length === 1) {
    const [only] = algorithms as [HashAlgorithm];
    return [`${mark}${digests[only] ?? ""}  ${name}`];
  }
  return algorithms.map((a) => `${mark}${BSD_NAMES[a]} (${name}) = ${digests[a] ?? ""}`);
}

/** GNU coreutils' rule: a name with a backslash or newline is escaped and the line starts with '\'. */
export function escapeName(path: string): { escaped: boolean; name: string } {
  if (!path.includes("\\") && !path.includes("\n")) return { escaped: false, name: path };
  return { escaped: true, name: path.replaceAll("\\", "\\\\").replaceAll("\n", "\\n") };
}
