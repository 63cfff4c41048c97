import { randomUUID } from "node:crypto";
import { link, lstat, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import { ZipWriter } from "./zip/writer.js";

/** The writer's output, created exclusively under a hidden temporary name next to `outFile`. */
export async function openTemporary(outFile: string, forceZip64: boolean): Promise<ZipWriter> {
  const exists = await lstat(outFile).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new CustodyError("ERR_ALREADY_EXISTS", `${outFile} already exists`, { details: { path: outFile } });
  const temporary = join(dirname(outFile), `.${basename(outFile)}.${randomUUID().slice(0, 8)}.partial`);
  return ZipWriter.create(temporary, { forceZip64 });
}

/** Gives the finished file its name without ever replacing an existing one, then makes that durable. */
export async function publish(temporary: string, outFile: string): Promise<void> {
  await link(temporary, outFile).catch((error: unknown) => {
    throw toCustodyError(error, "ERR_IO", `cannot create ${outFile}`);
  });
  await unlink(temporary);
  const directory = await open(dirname(outFile), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
