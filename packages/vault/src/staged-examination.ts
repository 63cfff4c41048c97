import { stat } from "node:fs/promises";
import { type FedVerification, startPackageVerification } from "@custody/archive";
import type { ItemRecord } from "@custody/audit";
import { toCustodyError } from "@custody/core";
import { hashFile } from "@custody/hash";
import type { StagedObserver } from "@custody/store";
import type { VaultContext } from "./context.js";
import type { IngestOptions } from "./ingest.js";
import { type ExtraHash, pickDigests, resolveIngestHashes } from "./ingest-hashes.js";
import {
  examinePackage,
  itemKind,
  packageRecord,
  packageVerifyOptions,
  type RefusedReport,
  refusedReport,
} from "./package-examination.js";

/** Digests beside sha256 and the size they were computed over. */
export interface ExtraDigests {
  size: number;
  extra: Partial<Record<ExtraHash, string>> | undefined;
}

/** What the staged copy says: file or package, the package's verification, the extra digests. */
export interface StagedExamination {
  kind: "file" | "package";
  pkg: ItemRecord["package"] | undefined;
  digests: ExtraDigests;
}

/**
 * Examines the staged copy (page-cached, never the source again): the package check beside the extra
 * digests a stream already computed on its way in (`known`) or that are computed here. With no extra
 * digest asked for (the default), the package check is the only read.
 */
export async function examineStagedCopy(
  ctx: VaultContext,
  path: string,
  known: ExtraDigests | undefined,
  options: IngestOptions & { name: string },
): Promise<StagedExamination> {
  const kind = await itemKind(path, options.kind, options.name);
  const [pkg, digests] = await Promise.all([
    kind === "package" ? examinePackage(ctx, path, options) : Promise.resolve(undefined),
    stagedDigests(path, known, resolveIngestHashes(options.hashes), options.abortSignal),
  ]);
  return { kind, pkg, digests };
}

/**
 * An examination of a staged copy that the store's own read of it feeds (`observer`): the package's
 * large entries are hashed from the bytes the store hashes, so the copy is read once. `finish`, once
 * that read is over, gives what `examineStagedCopy` would (it reads what was not fed); `close` drops it.
 */
export interface StagedExaminer {
  readonly observer: StagedObserver | undefined;
  finish(): Promise<StagedExamination>;
  close(): Promise<void>;
}

/** A staged copy the kernel may still be writing: what it is a copy of, and when it is whole. */
export interface CopyInProgress {
  /** The file being copied: where a package's entries lie is read from it, never what they hold. */
  readonly of: string;
  /** Settles once the copy has ended (rejected when it failed or its source changed meanwhile). */
  readonly whole: Promise<void>;
}

/**
 * Starts examining a staged copy before the store reads it: the package is opened and its structure
 * checked now, its entries hashed as the store's read passes them. Whatever fails here (not a package
 * though one was asked for, a hostile archive) is the examination's result, given by `finish`, as
 * `examineStagedCopy` gives it. For a copy still being made (`copying`), the kind and the layout are
 * read from its source so the feeding can begin with its first bytes, and `finish` confirms both on
 * the staged copy: a kind or a refusal it does not confirm is examined again from the staged copy
 * (`examineStagedCopy`), and only entries it places where they were fed keep their fed hashes.
 */
export async function startStagedExamination(
  ctx: VaultContext,
  path: string,
  options: IngestOptions & { name: string },
  copying?: CopyInProgress,
): Promise<StagedExaminer> {
  let fed: FedVerification | undefined;
  let refused: RefusedReport | undefined;
  let failure: { error: unknown } | undefined;
  let kind: "file" | "package" = "file";
  try {
    kind = await itemKind(copying?.of ?? path, options.kind, options.name);
    if (kind === "package") {
      // A refused archive is the verification's result, recorded as verifyPackage's refusal is.
      fed = await startPackageVerification(path, await packageVerifyOptions(ctx, options), copying?.of).catch(
        (error: unknown) => {
          refused = refusedReport(error);
          return undefined;
        },
      );
    }
  } catch (error) {
    failure = { error };
  }
  // The extra digests asked for (none by default) read the copy beside the store's read, once whole.
  const digests =
    failure === undefined
      ? (copying?.whole ?? Promise.resolve()).then(() =>
          stagedDigests(path, undefined, resolveIngestHashes(options.hashes), options.abortSignal),
        )
      : undefined;
  digests?.catch(() => {});
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fed?.close();
    await digests?.catch(() => {});
  };
  return {
    observer: fed === undefined ? undefined : (chunk, position) => fed?.observe(chunk, position),
    close,
    finish: async () => {
      if (copying !== undefined) {
        await copying.whole;
        const unconfirmed =
          failure !== undefined ||
          refused !== undefined ||
          (await itemKind(path, options.kind, options.name).catch(() => undefined)) !== kind;
        if (unconfirmed) {
          await close();
          return examineStagedCopy(ctx, path, undefined, options);
        }
      }
      if (failure !== undefined || digests === undefined) throw failure?.error;
      const report = fed === undefined ? refused : await fed.finish().catch(refusedReport);
      const pkg = report === undefined ? undefined : packageRecord(report, options.signedByDevice);
      return { kind, pkg, digests: await digests };
    },
  };
}

async function stagedDigests(
  path: string,
  known: ExtraDigests | undefined,
  extraHashes: readonly ExtraHash[],
  abortSignal: AbortSignal | undefined,
): Promise<ExtraDigests> {
  if (extraHashes.length === 0) {
    // Nothing to hash: the size of the staged copy is what the store wrote.
    return { size: known?.size ?? (await stagedSize(path)), extra: {} };
  }
  if (known?.extra !== undefined) return known;
  const result = await hashFile(path, {
    algorithms: extraHashes,
    ...(abortSignal === undefined ? {} : { abortSignal }),
  });
  return { size: result.size, extra: pickDigests(result.digests, extraHashes) };
}

async function stagedSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", "cannot read the staged copy");
  }
}
