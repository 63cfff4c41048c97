import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import type { DownloadBody } from "../schemas.js";
import type { ServerExchange } from "./remediate/exchange.js";
import { writeChecked } from "./remediate/write.js";

/** The working folder putfile writes to: `<agent dir>/work`, private. */
export function workDir(agentDir: string): string {
  return join(agentDir, "work");
}

/** Empties the working folder (the agent does it when it starts: files put there last only one run). */
export async function resetWorkDir(agentDir: string): Promise<void> {
  const dir = workDir(agentDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

export interface PutFileOptions {
  agentDir: string;
  overwrite: boolean;
  signal: AbortSignal;
  download: DownloadBody | undefined;
  exchange: ServerExchange | undefined;
}

/**
 * Copies a library file into the working folder, mode 0600; its bytes are checked against the digest
 * the server's frame names before the file takes its name. An existing name is refused (ERR_FILE_EXISTS)
 * unless -overwrite.
 */
export async function putFile(name: string, options: PutFileOptions) {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name) || name.includes(".."))
    throw new CustodyError("ERR_LIBRARY_NAME_INVALID", `${JSON.stringify(name)} is not a library name`);
  if (options.download === undefined || options.exchange === undefined)
    throw new CustodyError("ERR_PROTOCOL", "putfile came without its download");
  const dir = workDir(options.agentDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  if (!options.overwrite && (await lstat(path).catch(() => undefined)) !== undefined)
    throw new CustodyError(
      "ERR_FILE_EXISTS",
      `${path} exists; putfile does not replace it (-overwrite does)`,
      {
        details: { path },
      },
    );
  const { sha256, size } = options.download;
  const body = await options.exchange.download(options.download, options.signal);
  await writeChecked(
    path,
    body,
    { sha256, size, mode: 0o600 },
    {
      replace: options.overwrite,
      signal: options.signal,
    },
  );
  return { name, path, size, sha256 };
}
