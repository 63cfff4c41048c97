import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { canonicalJsonBytes, type JsonValue } from "@custody/core";
import { computeMerkleRoot, type Signer } from "@custody/manifest";
import { createPackageWriter, openPackageReader } from "../src/index.js";
import { collector, device } from "./fixtures.js";
import { textBlob } from "./helpers.js";
import { buildZip, type RawEntry } from "./hostile-zip.js";

/**
 * What an attacker does to a signed package with ordinary tools: unzip it, edit files, recompute every
 * digest nobody signs (both BagIt manifests, Payload-Oxum), zip it again. Only the holder of the
 * collector's key can also re-sign the custody manifest (`resign`).
 */
export interface Bag {
  name: string;
  files: Map<string, Buffer>;
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const byPath = (a: [string, Buffer], b: [string, Buffer]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
const listing = (files: [string, Buffer][]) =>
  Buffer.from(
    [...files]
      .sort(byPath)
      .map(([path, data]) => `${sha256(data)}  ${path}\n`)
      .join(""),
  );

export async function unpack(file: string): Promise<Bag> {
  const reader = await openPackageReader(file);
  const files = new Map<string, Buffer>();
  for (const entry of reader.entries) files.set(entry.path, await reader.readSmall(entry));
  await reader.close();
  return { name: reader.name, files };
}

/** Edits one bag-info.txt field (or adds it, or with `undefined` removes it). */
export function setBagInfo(bag: Bag, label: string, value: string | undefined): void {
  const lines = (bag.files.get("bag-info.txt") as Buffer).toString().split("\n").filter(Boolean);
  const at = lines.findIndex((line) => line.startsWith(`${label}:`));
  const line = value === undefined ? [] : [`${label}: ${value}`];
  if (at < 0) lines.push(...line);
  else lines.splice(at, 1, ...line);
  bag.files.set("bag-info.txt", Buffer.from(`${lines.join("\n")}\n`));
}

/** Recomputes everything unsigned: manifest-sha256.txt, Payload-Oxum, and the tag manifest over every tag file. */
export function recomputeUnsigned(bag: Bag): void {
  const payload = [...bag.files].filter(([path]) => path.startsWith("data/"));
  bag.files.set("manifest-sha256.txt", listing(payload));
  const bytes = payload.reduce((sum, [, data]) => sum + data.length, 0);
  setBagInfo(bag, "Payload-Oxum", `${bytes}.${payload.length}`);
  const tags = [...bag.files].filter(
    ([path]) => !path.startsWith("data/") && path !== "tagmanifest-sha256.txt",
  );
  bag.files.set("tagmanifest-sha256.txt", listing(tags));
}

type ManifestJson = { items: { path: string; sha256: string }[]; merkleRoot: string } & Record<
  string,
  unknown
>;

/** The holder of the collector's key: edits the custody manifest, re-signs it, fixes bag-info's digest. */
export async function resign(
  bag: Bag,
  signer: Signer,
  edit: (manifest: ManifestJson) => void,
): Promise<void> {
  const manifest = JSON.parse((bag.files.get("custody-manifest.json") as Buffer).toString()) as ManifestJson;
  edit(manifest);
  manifest.items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  manifest.merkleRoot = computeMerkleRoot(manifest.items);
  const bytes = Buffer.from(canonicalJsonBytes(manifest as unknown as JsonValue));
  bag.files.set("custody-manifest.json", bytes);
  bag.files.set("custody-manifest.json.p7s", await signer.sign(bytes));
  setBagInfo(bag, "Custody-Manifest-Sha256", sha256(bytes));
}

/** Zips the bag (deflated, correct CRCs); `tweak` may add folders or extra fields to the raw entries. */
export async function pack(
  bag: Bag,
  dir: string,
  label: string,
  tweak: (entries: RawEntry[]) => void = () => {},
): Promise<string> {
  const entries: RawEntry[] = [...bag.files].map(([path, content]) => ({
    name: `${bag.name}/${path}`,
    content,
    method: 8,
  }));
  tweak(entries);
  const file = join(dir, `${label}.zip`);
  await writeFile(file, buildZip(entries));
  return file;
}

/** The signed package every attack starts from: case CASE-7, three payload files, a collection summary. */
export async function writeGoodPackage(file: string, signer: Signer): Promise<void> {
  const writer = createPackageWriter(file, { name: "PKG-7", caseId: "CASE-7", device, collector, signer });
  await writer.addStream("Processes/ps.txt", Readable.from([textBlob(50_000)]), { source: "ps -ef" });
  await writer.addStream("Services/list.txt", Readable.from(["svc\n"]));
  await writer.addStream("Services/units.txt", Readable.from(["sshd.service\n"]));
  writer.setCollectionSummary([
    {
      dataPoint: "Services",
      source: "systemctl",
      status: "ok",
      startedAt: "2026-01-02T03:04:05.000Z",
      durationMs: 12,
      files: 2,
      bytes: 17,
    },
  ]);
  await writer.finalize();
}
