import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { Clock } from "@custody/core";
import {
  type ManifestBuilder,
  type ManifestCollector,
  type ManifestDevice,
  type Signer,
  serializeManifest,
} from "@custody/manifest";
import { boundBagInfo } from "./bag-binding.js";
import { BAGIT_TXT, formatBagInfo, formatManifest, payloadOxum, TAG_FILES } from "./bagit.js";
import type { ItemRecord } from "./package-types.js";
import { type CollectionSummaryRow, formatCollectionSummary } from "./summary.js";
import { streamChunks } from "./zip/chunks.js";
import { writeEntry } from "./zip/entry.js";
import type { ZipWriter } from "./zip/writer.js";

export interface TagFileInput {
  name: string;
  caseId?: string;
  device: ManifestDevice;
  collector: ManifestCollector;
  signer: Signer;
  /** Holds the payload items; the collection summary is added here. */
  manifest: ManifestBuilder;
  clock: Clock;
  level?: number;
  items: readonly ItemRecord[];
  summary: readonly CollectionSummaryRow[];
  abortSignal: AbortSignal;
}

export interface TagFileResult {
  payloadBytes: number;
  payloadOxum: string;
  manifestSha256: string;
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * The bag's tag files, after the payload: the collection summary, the signed custody manifest (which
 * lists the payload and the summary), the BagIt manifests and bag-info (derived from the signed
 * manifest, so a verifier can derive it again), then the tag manifest over all.
 */
export async function writeTagFiles(zip: ZipWriter, input: TagFileInput): Promise<TagFileResult> {
  const now = input.clock.now();
  const add = async (file: string, data: Buffer) => {
    const name = `${input.name}/${file}`;
    const options = { name, path: file, level: input.level ?? 6, modifiedAt: now, turn: Promise.resolve() };
    return writeEntry(zip, streamChunks(Readable.from([data])), {
      ...options,
      abortSignal: input.abortSignal,
    });
  };
  const summary = Buffer.from(formatCollectionSummary(input.summary));
  const summaryEntry = await add(TAG_FILES.summary, summary);
  const summaryItem = { path: TAG_FILES.summary, size: summary.length, sha256: summaryEntry.sha256 };
  input.manifest.addItem({ ...summaryItem, collectedAt: now, dataPoint: "CollectionSummary" });
  const built = input.manifest.build();
  const manifest = serializeManifest(built);
  const signature = await input.signer.sign(manifest);
  const manifestSha256 = sha256(manifest);
  const payloadBytes = input.items.reduce((total, item) => total + item.size, 0);
  const oxum = payloadOxum(payloadBytes, input.items.length);
  const tagFiles: [string, Buffer][] = [
    [TAG_FILES.summary, summary],
    [TAG_FILES.custodyManifest, manifest],
    [TAG_FILES.signature, signature],
    [TAG_FILES.manifest, Buffer.from(formatManifest(input.items))],
    [TAG_FILES.bagit, Buffer.from(BAGIT_TXT)],
    [TAG_FILES.bagInfo, Buffer.from(formatBagInfo(boundBagInfo(built, manifestSha256)))],
  ];
  for (const [file, data] of tagFiles.slice(1)) await add(file, data);
  const tagManifest = formatManifest(tagFiles.map(([path, data]) => ({ path, sha256: sha256(data) })));
  await add(TAG_FILES.tagManifest, Buffer.from(tagManifest));
  return { payloadBytes, payloadOxum: oxum, manifestSha256 };
}
