import { pipeline, Readable, Transform, type TransformCallback } from "node:stream";
import type { Action, Resource } from "@custody/access";
import { type AuditRecord, type ItemRecord, itemRecordSha256 } from "@custody/audit";
import { CustodyError, type JsonValue } from "@custody/core";
import { ThreadedDigestStream } from "@custody/hash";
import { retentionOf } from "./acquire-ops.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { FACT, itemTarget } from "./facts.js";
import { assertCaseId } from "./ingest.js";
import { type EvidenceItem, encodeItemRecord, itemKey, RECORD_METADATA_KEY } from "./items.js";
import { itemLock } from "./locks.js";

/** What a live-response decision asks: the grants it needs, and a refusal found before them. */
export interface LiveDecisionRequest {
  /** The audit action of the record (`live.command`, `live.session-open`). */
  auditAction: string;
  checks: readonly { action: Action; resource: Resource }[];
  target: string;
  details?: Record<string, JsonValue>;
  refusal?: CustodyError;
  /**
   * The decision claims a queued action for one server process (`action.started`): refused with
   * ERR_CONFLICT, nothing recorded, when the log says it ended or another runner holds it.
   */
  claim?: { actionId: string; runner: string };
}

/** One audited decision for a live-response step; throws after recording a denial. */
export function decideLive(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  request: LiveDecisionRequest,
): Promise<AuditRecord> {
  const { claim, ...decision } = request;
  if (claim === undefined) return ctx.guard.decideAll({ principal, ...decision });
  return ctx.guard.decideAll({
    principal,
    ...decision,
    details: { ...decision.details, runner: claim.runner },
    precondition: () => assertClaimable(ctx, claim),
  });
}

function assertClaimable(ctx: VaultContext, claim: { actionId: string; runner: string }): void {
  const action = ctx.ledger.actions.get(claim.actionId);
  const details = { actionId: claim.actionId, claim: "refused" };
  if (action === undefined)
    throw new CustodyError("ERR_CONFLICT", `action ${claim.actionId} is not open in the log (it ended)`, {
      details,
    });
  if (action.runner !== undefined && action.runner !== claim.runner)
    throw new CustodyError("ERR_CONFLICT", `action ${claim.actionId} runs on another server`, { details });
}

/** A live-response outcome (a result, a cancel, a session closed), recorded after the decision. */
export function recordLiveOutcome(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  event: {
    action: string;
    target: string;
    outcome: "allow" | "error";
    reason: string;
    details?: Record<string, JsonValue>;
  },
): Promise<AuditRecord> {
  return ctx.guard.outcome(principal, event.action, event.target, event.outcome, event.reason, event.details);
}

/** A file a device sends during a live session, stored as an item of the session's case. */
export interface LiveFileOptions {
  caseId: string;
  name: string;
  /** The device's claim (from `fileinfo`): the store refuses bytes that hash otherwise. */
  expectedSha256: string;
  expectedSize: number;
  /** The device's claimed sha1/md5, checked against the bytes while they stream. */
  expectedSha1?: string;
  expectedMd5?: string;
  deviceId: string;
  /** Where the bytes came from, e.g. `D-…:/var/log/auth.log`. */
  source: string;
  labels: Record<string, string>;
  /**
   * The grant the store needs: an ingest into the case (a file taken), or for a session's own transcript
   * the live-response action that opened the session on that case (a `run`'s output: `live.advanced`).
   */
  authorizeAs?: "evidence.ingest" | "live.basic" | "live.advanced";
  abortSignal?: AbortSignal;
}

/**
 * Streams a device's file straight into the store, create-only under the digest the device announced:
 * the store computes its own sha256 while writing and refuses a differing body; sha1, md5 and the size
 * are checked on the way. Nothing is stored and nothing stated unless all agree. Authorized as an ingest
 * into the case by the analyst who asked for the file.
 */
export async function ingestLiveFile(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  body: Readable | AsyncIterable<Uint8Array>,
  options: LiveFileOptions,
): Promise<EvidenceItem> {
  assertCaseId(options.caseId);
  const id = options.expectedSha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "a live file needs the sha256 its device announced");
  }
  const record = liveRecord(ctx, principal, id, options);
  const target = itemTarget(options.caseId, id);
  const request = {
    principal,
    action: options.authorizeAs ?? "evidence.ingest",
    // the case alone: a grant on the device must not let its files into any case
    resource: { kind: "case", caseId: options.caseId },
    target,
    details: { source: options.source, size: options.expectedSize, sha256: id, kind: "live-file" },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([itemLock(options.caseId, id)], async () => {
      const existing = ctx.ledger.item(options.caseId, id);
      if (existing !== undefined && !existing.purged) {
        throw new CustodyError("ERR_ALREADY_EXISTS", `item ${id} is already in case ${options.caseId}`, {
          details: { id, caseId: options.caseId },
        });
      }
      const retainUntil = retentionOf(ctx, {});
      const digests = claimDigests(options);
      const check = new ClaimCheck(options, digests);
      const source = body instanceof Readable ? body : Readable.from(body);
      // one pipeline: an error anywhere ends the stream the store reads, and nothing is left unhandled
      const checked =
        digests === undefined
          ? pipeline(source, check, () => undefined)
          : pipeline(source, digests, check, () => undefined);
      const stored = await ctx.store.create(itemKey(options.caseId, id), checked, {
        expectedSha256: id,
        // a large file's sha256 runs on a worker thread, beside the thread that moves the bytes
        sizeHint: options.expectedSize,
        ...(retainUntil === undefined ? {} : { retainUntil }),
        legalHold: false,
        metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
        ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
      });
      await ctx.guard.fact(
        principal.id,
        FACT.ingested,
        target,
        `${record.name} taken from ${options.source}`,
        {
          record,
          recordSha256: itemRecordSha256(record),
          legalHold: false,
          ...(retainUntil === undefined ? {} : { retainUntil: retainUntil.toISOString() }),
        },
      );
      return {
        ...record,
        legalHold: false,
        storedAt: stored.createdAt.toISOString(),
        ...(retainUntil === undefined ? {} : { retainUntil: retainUntil.toISOString() }),
      };
    }),
  );
}

function liveRecord(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  id: string,
  options: LiveFileOptions,
): ItemRecord {
  return {
    format: "custody.item/v1",
    id,
    kind: "file",
    caseId: options.caseId,
    name: options.name.slice(0, 1024),
    labels: options.labels,
    size: options.expectedSize,
    digests: {
      sha256: id,
      ...(options.expectedSha1 === undefined ? {} : { sha1: options.expectedSha1.toLowerCase() }),
      ...(options.expectedMd5 === undefined ? {} : { md5: options.expectedMd5.toLowerCase() }),
    },
    acquisition: {
      by: principal.id,
      byFingerprintSha256: principal.fingerprintSha256,
      at: ctx.clock.now().toISOString(),
      how: "acquire",
      where: options.deviceId,
      tool: TOOL,
      source: options.source,
    },
  };
}

/**
 * Counts the bytes and checks the size as they pass; at the end checks sha1/md5, computed on worker
 * threads by `digests` (upstream of this stream, so finished before this one flushes), so the thread that
 * moves the bytes and hashes sha256 for the store is not slowed by them. The stream errors at its end
 * on any difference, before the store commits.
 */
class ClaimCheck extends Transform {
  #bytes = 0;
  readonly #options: LiveFileOptions;
  readonly #digests: ThreadedDigestStream | undefined;

  constructor(options: LiveFileOptions, digests: ThreadedDigestStream | undefined) {
    super({ highWaterMark: 64 * 1024 });
    this.#options = options;
    this.#digests = digests;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#options.expectedSize) {
      done(mismatch(`the device sent more than the ${this.#options.expectedSize} bytes it announced`));
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const expected = this.#options.expectedSize;
    if (this.#bytes !== expected) {
      done(mismatch(`the device sent ${this.#bytes} bytes, not the ${expected} it announced`));
      return;
    }
    const actual = this.#digests?.result().digests ?? {};
    for (const [name, claim] of [
      ["sha1", this.#options.expectedSha1],
      ["md5", this.#options.expectedMd5],
    ] as const) {
      if (claim !== undefined && actual[name] !== claim.toLowerCase()) {
        done(mismatch(`the bytes' ${name} is ${actual[name]}, not the ${claim} the device announced`));
        return;
      }
    }
    done();
  }
}

/** sha1/md5 on worker threads when the device announced them. */
function claimDigests(options: LiveFileOptions): ThreadedDigestStream | undefined {
  const algorithms = [
    ...(options.expectedSha1 === undefined ? [] : (["sha1"] as const)),
    ...(options.expectedMd5 === undefined ? [] : (["md5"] as const)),
  ];
  return algorithms.length === 0 ? undefined : new ThreadedDigestStream({ algorithms });
}

function mismatch(message: string): CustodyError {
  return new CustodyError("ERR_INTEGRITY_MISMATCH", message);
}
