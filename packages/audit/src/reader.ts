import { iterateRecords } from "./chain.js";
import type { SignedCheckpoint } from "./checkpoint.js";
import { CheckpointWriter } from "./checkpoint-writer.js";
import { FileAuditSource } from "./file-source.js";
import type { AuditRecord } from "./record.js";
import type { AuditSource } from "./sink.js";

function sourceOf(target: { dir: string } | AuditSource): AuditSource {
  return "dir" in target ? new FileAuditSource(target.dir) : target;
}

/**
 * Streams the records of a log without opening it for writing (no lock). Each record is checked
 * against its hash and the one before it; the first problem is thrown with its code.
 */
export async function* readAuditRecords(
  target: { dir: string } | AuditSource,
  options: { since?: number; abortSignal?: AbortSignal } = {},
): AsyncIterable<AuditRecord> {
  const source = sourceOf(target);
  if (source instanceof FileAuditSource) await source.assertExists();
  const { abortSignal } = options;
  const since = options.since ?? 0;
  for await (const record of iterateRecords(
    source.readBytes(abortSignal ? { abortSignal } : {}),
    source.description,
  )) {
    if (record.seq >= since) yield record;
  }
}

/** The newest stored checkpoint, or undefined; its signature is not checked here (see verifyCheckpointSignature). */
export async function readLatestCheckpoint(
  target: { dir: string } | AuditSource,
): Promise<SignedCheckpoint | undefined> {
  return CheckpointWriter.loadLatest(sourceOf(target));
}
