import { createHash } from "node:crypto";
import { throwIfAborted, toCustodyError } from "@custody/core";
import type { AgentPolicy } from "../../policy-types.js";
import { checkedPath, openRegular } from "../paths.js";
import { type HeaderFacts, parseElf } from "./elf.js";
import { magicType, shebang } from "./magic.js";
import { parsePe } from "./pe.js";
import { countBytes, entropyOf, handleSource } from "./source.js";
import { scanWithYara } from "./yara.js";

export interface AnalyzeOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
}

/**
 * The static facts of one file, read on the device with no network: sha256, sha1 and md5 and the
 * byte entropy in one read, the type from its first bytes, ELF or PE header facts, and YARA matches
 * where the tool and rules are there. The device states facts; the verdict is the vault's.
 */
export async function analyzeFile(input: string, options: AnalyzeOptions): Promise<Record<string, unknown>> {
  const path = await checkedPath(input, options.cwd, options.policy);
  const { handle, stats } = await openRegular(path, options.policy);
  try {
    const hashes = ["sha256", "sha1", "md5"].map((name) => createHash(name));
    const counts = new Float64Array(256);
    let size = 0;
    try {
      for await (const chunk of handle.createReadStream({
        autoClose: false,
        highWaterMark: 1024 * 1024,
        signal: options.signal,
      }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        for (const hash of hashes) hash.update(chunk);
        countBytes(counts, chunk);
      }
    } catch (cause) {
      throw toCustodyError(cause, "ERR_IO", `reading ${path} failed`);
    }
    throwIfAborted(options.signal);
    const [sha256, sha1, md5] = hashes.map((hash) => hash.digest("hex")) as [string, string, string];
    const source = handleSource(handle, size);
    const head = await source.read(0, 4096);
    const type = magicType(head);
    let headers: HeaderFacts | undefined;
    if (type === "elf") headers = await parseElf(source);
    else if (type === "pe") headers = await parsePe(source);
    const interpreter = shebang(head);
    const yara = await scanWithYara(path, options.policy.yaraRules, options.signal);
    const after = await handle.stat();
    return {
      path,
      size,
      sha256,
      sha1,
      md5,
      type,
      ...(interpreter === undefined ? {} : { interpreter }),
      entropy: entropyOf(counts, size),
      ...(headers === undefined ? {} : { headers }),
      yara,
      changedWhileReading: after.size !== size || after.mtimeMs !== stats.mtimeMs,
    };
  } finally {
    await handle.close();
  }
}
