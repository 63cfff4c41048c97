import type { ContainerClient } from "@azure/storage-blob";
import type { AuditSource } from "@custody/audit";
import { CustodyError, type ErrorCode } from "@custody/core";

/** Where an audit log lives in a container: append-blob segments and create-only checkpoint blobs. */
export interface AzureAuditLocation {
  containerClient: ContainerClient;
  /** Blob name prefix of this log, e.g. "audit/" (default ""). */
  prefix?: string;
}

const MAX_CHECKPOINT_BLOB = 1024 * 1024;
const SEGMENT = /^(\d{8})\.jsonl$/;
const CHECKPOINT = /^(\d{12})\.json$/;

export const segmentName = (index: number): string => `${String(index).padStart(8, "0")}.jsonl`;
export const checkpointBlobName = (treeSize: number, extension: "json" | "p7s"): string =>
  `${String(treeSize).padStart(12, "0")}.${extension}`;

interface RestLike {
  statusCode?: number;
  code?: string;
  name?: string;
  details?: { errorCode?: string };
}

/** The service's error code (in the body for most calls, in `code` for HEAD). */
export function serviceCode(error: unknown): string | undefined {
  const e = error as RestLike | null;
  return e?.details?.errorCode ?? e?.code;
}

/**
 * Maps an Azure failure to one coded error. Losing an append race (another writer moved the append
 * position, sealed the segment or created the next one first) is ERR_AUDIT_RACE.
 */
export function auditAzureError(error: unknown, message: string): CustodyError {
  if (error instanceof CustodyError) return error;
  const status = (error as RestLike | null)?.statusCode;
  const code = serviceCode(error);
  const make = (c: ErrorCode) =>
    new CustodyError(c, `${message}: ${status ?? ""} ${code ?? String(error)}`.trim(), {
      cause: error,
      details: { status, azureCode: code },
    });
  if ((error as RestLike | null)?.name === "AbortError") return make("ERR_ABORTED");
  if (code === "AppendPositionConditionNotMet" || code === "BlobIsSealed") return make("ERR_AUDIT_RACE");
  if (status === 404) return make("ERR_NOT_FOUND");
  if (code === "BlobAlreadyExists" || status === 409 || status === 412) return make("ERR_ALREADY_EXISTS");
  if (status === 401 || status === 403) return make("ERR_ACCESS_DENIED");
  return make("ERR_BACKEND_UNAVAILABLE");
}

export interface SegmentInfo {
  index: number;
  length: number;
  blocks: number;
  sealed: boolean;
}

/** A log in a container opened read-only: for verification and proofs; needs only read access. */
export class AzureAuditSource implements AuditSource {
  readonly description: string;
  protected readonly container: ContainerClient;
  protected readonly prefix: string;

  constructor(location: AzureAuditLocation) {
    this.container = location.containerClient;
    this.prefix = location.prefix ?? "";
    this.description = `azure:${this.container.containerName}/${this.prefix}`;
  }

  protected segmentClient(index: number) {
    return this.container.getAppendBlobClient(`${this.prefix}log/${segmentName(index)}`);
  }

  protected checkpointClient(treeSize: number, extension: "json" | "p7s") {
    return this.container.getBlockBlobClient(
      `${this.prefix}checkpoints/${checkpointBlobName(treeSize, extension)}`,
    );
  }

  /** The segments in order, with their committed length and block count. */
  async listSegments(): Promise<SegmentInfo[]> {
    const segments: SegmentInfo[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: `${this.prefix}log/` })) {
        const match = SEGMENT.exec(blob.name.slice(this.prefix.length + 4));
        if (match?.[1] === undefined) continue;
        const properties = await this.segmentClient(Number(match[1])).getProperties();
        segments.push({
          index: Number(match[1]),
          length: properties.contentLength ?? 0,
          blocks: properties.blobCommittedBlockCount ?? 0,
          sealed: properties.isSealed === true,
        });
      }
    } catch (error) {
      throw auditAzureError(error, `cannot list the audit log ${this.description}`);
    }
    return segments.sort((a, b) => a.index - b.index);
  }

  async *readBytes(
    options: { start?: number; end?: number; abortSignal?: AbortSignal } = {},
  ): AsyncIterable<Uint8Array> {
    let left = options.end ?? Number.POSITIVE_INFINITY;
    let skip = options.start ?? 0;
    left -= skip;
    for (const segment of await this.listSegments()) {
      const offset = Math.min(skip, segment.length);
      skip -= offset;
      const count = Math.min(segment.length - offset, left);
      if (count <= 0) {
        if (left <= 0) break;
        continue;
      }
      left -= count;
      try {
        const response = await this.segmentClient(segment.index).download(offset, count, {
          ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
        });
        for await (const chunk of response.readableStreamBody ?? []) yield chunk as Buffer;
      } catch (error) {
        throw auditAzureError(error, `cannot read segment ${segment.index} of ${this.description}`);
      }
    }
  }

  async listCheckpoints(): Promise<number[]> {
    const sizes: number[] = [];
    const base = `${this.prefix}checkpoints/`;
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: base })) {
        const match = CHECKPOINT.exec(blob.name.slice(base.length));
        if (match?.[1] !== undefined) sizes.push(Number(match[1]));
      }
    } catch (error) {
      throw auditAzureError(error, `cannot list checkpoints of ${this.description}`);
    }
    return sizes.sort((a, b) => a - b);
  }

  /** A checkpoint blob is a few KB; a huge one is refused before it is downloaded. */
  private async readSmall(client: ReturnType<AzureAuditSource["checkpointClient"]>): Promise<Buffer> {
    const size = (await client.getProperties()).contentLength ?? 0;
    if (size > MAX_CHECKPOINT_BLOB) {
      throw new CustodyError("ERR_SIZE_LIMIT", `${client.name} is ${size} bytes, too large for a checkpoint`);
    }
    const response = await client.download(0, size);
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readCheckpoint(treeSize: number): Promise<{ bytes: Buffer; signature: Buffer }> {
    try {
      const bytes = await this.readSmall(this.checkpointClient(treeSize, "json"));
      const signature = await this.readSmall(this.checkpointClient(treeSize, "p7s"));
      return { bytes, signature };
    } catch (error) {
      throw auditAzureError(error, `cannot read checkpoint ${treeSize} of ${this.description}`);
    }
  }
}
