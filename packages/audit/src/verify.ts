import { throwIfAborted } from "@custody/core";
import type { SignatureInfo, TrustOptions } from "@custody/manifest";
import { type AuditProblem, ChainScanner, scanRecords } from "./chain.js";
import { type Checkpoint, parseCheckpointBytes, type SignedCheckpoint } from "./checkpoint.js";
import { FileAuditSource } from "./file-source.js";
import type { AuditRecord } from "./record.js";
import { hasValidSeal, type SealKey, toSealKey } from "./seal.js";
import type { AuditSource } from "./sink.js";
import { type Stored, VerifyState } from "./verify-state.js";

export interface VerifyAuditOptions {
  trust: TrustOptions;
  /**
   * Checkpoints held outside the log (from a witness, an earlier verification, a proof bundle). The log
   * must match each; a disagreement is a fork. This is what catches a log cut back together with its
   * newest checkpoints.
   */
  knownCheckpoints?: readonly SignedCheckpoint[];
  /** The vault's seal key: the report then says how many unsigned records carry a valid seal. */
  sealKey?: Uint8Array;
  abortSignal?: AbortSignal;
  onProgress?: (progress: { records: number }) => void;
  /**
   * Worker threads that check chunks of the log (default: the machine's cores, at most 8); 0 checks
   * everything in the calling thread. A log of a few MB is checked in the calling thread anyway.
   */
  threads?: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Whole records read and checked before the first problem (all of them when ok). */
  records: number;
  /** Stored checkpoints whose signature and root were checked. */
  checkpoints: number;
  latestCheckpoint?: Checkpoint;
  /** Who signed the latest checkpoint. */
  signer?: SignatureInfo["signer"];
  /** RFC 9162 root over the records checked (hex). */
  rootHash: string;
  /**
   * Records after the latest verified checkpoint: protected by the hash chain only (someone who can
   * write the log can cut or rewrite them without the key). All of them when there is no checkpoint.
   */
  unsignedRecords: number;
  /**
   * With `sealKey`: how many of the unsigned records carry a valid seal (written by the vault, not by
   * hand). Absent when the log has a problem before its newest stored checkpoint.
   */
  sealedUnsignedRecords?: number;
  problem?: AuditProblem;
}

export const PROGRESS_EVERY = 65_536;

/**
 * The one-thread verifier: the reference the parallel `verifyAuditLog` (verify-parallel.ts) is tested
 * and measured against, record for record. Same options, same report.
 */
export async function verifyAuditLogSequential(
  target: { dir: string } | AuditSource,
  options: VerifyAuditOptions,
): Promise<AuditVerifyReport> {
  const source = "dir" in target ? await openDirSource(target.dir) : target;
  const state = new VerifyState(options, await loadStored(source));
  const sizes = state.sizes();
  const scanner = new ChainScanner();
  const key = options.sealKey === undefined ? undefined : toSealKey(options.sealKey);
  // Seals are checked only past the newest stored checkpoint, so a whole-log verification stays fast.
  const sealed = key === undefined ? undefined : { from: state.storedMax(), count: 0 };
  let next = 0;
  const visit = (record: AuditRecord): AuditProblem | undefined => {
    if (sealed !== undefined && record.seq >= sealed.from && hasValidSeal(key as SealKey, record)) {
      sealed.count += 1;
    }
    if (scanner.count % PROGRESS_EVERY === 0) {
      throwIfAborted(options.abortSignal);
      options.onProgress?.({ records: scanner.count });
    }
    while (next < sizes.length && sizes[next] === scanner.count) {
      const problem = state.checkpointAt(scanner.count, scanner);
      next += 1;
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
  const bytes = source.readBytes(
    options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal },
  );
  const problem = await scanRecords(bytes, scanner, visit);
  const final = state.resolve(problem) ?? state.finish(scanner.count, sizes.slice(next));
  return state.report(scanner, final, sealed);
}

/** Checkpoints are small (a few KB each): read them all first so records stream without pauses. */
export async function loadStored(source: AuditSource): Promise<Stored> {
  const stored: Stored = new Map();
  for (const size of await source.listCheckpoints()) {
    try {
      const { bytes, signature } = await source.readCheckpoint(size);
      const signed = parseCheckpointBytes(bytes, signature);
      if (signed.checkpoint.treeSize !== size)
        throw new Error(`it claims tree size ${signed.checkpoint.treeSize}`);
      stored.set(size, signed);
    } catch (error) {
      stored.set(size, { unusable: error instanceof Error ? error.message : String(error) });
    }
  }
  return stored;
}

export async function openDirSource(dir: string): Promise<AuditSource> {
  const source = new FileAuditSource(dir);
  await source.assertExists();
  return source;
}
