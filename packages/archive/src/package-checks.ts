import { createHash } from "node:crypto";
import { type ErrorCode, isCustodyError } from "@custody/core";
import type { CustodyManifest } from "@custody/manifest";
import {
  checkBagFiles,
  checkBagInfoBinding,
  checkBagitBytes,
  checkTagManifestPaths,
  isKnownTagFile,
} from "./bag-binding.js";
import {
  type BagInfoField,
  bagInfoValue,
  checkBagitTxt,
  parseBagInfo,
  parseManifest,
  TAG_FILES,
} from "./bagit.js";
import type { PackageReader } from "./package-reader.js";
import type { ActualDigests, PackageProblem } from "./verify.js";

/**
 * Archive-level faults found while reading an entry (a declared size the data exceeds, hidden bytes,
 * corrupt deflate data, a limit) mean the archive itself is hostile or broken: the whole package is
 * refused. A CRC or digest mismatch is a finding about one file, reported with its path.
 */
export function isRefusal(code: ErrorCode): boolean {
  return code.startsWith("ERR_ARCHIVE_");
}

export interface TagContents {
  files: Map<string, Buffer>;
  payloadManifest?: Map<string, string>;
  tagManifest?: Map<string, string>;
  bagInfo?: BagInfoField[];
}

/** Reads the tag files whole (they are bounded) and parses them; each one missing or malformed is a problem. */
export async function readTagFiles(reader: PackageReader, problems: PackageProblem[]): Promise<TagContents> {
  const tags: TagContents = { files: new Map() };
  for (const name of Object.values(TAG_FILES)) {
    const entry = reader.get(name);
    if (entry === undefined) {
      problems.push({
        code: "ERR_MISSING_ENTRY",
        path: name,
        message: `${name} is missing from the package`,
      });
      continue;
    }
    const bytes = await capture(problems, name, () => reader.readSmall(entry));
    if (bytes !== undefined) tags.files.set(name, bytes);
  }
  const text = (name: string) => tags.files.get(name)?.toString("utf8");
  const bagit = text(TAG_FILES.bagit);
  if (bagit !== undefined) await capture(problems, TAG_FILES.bagit, async () => checkBagitTxt(bagit));
  const manifest = text(TAG_FILES.manifest);
  if (manifest !== undefined)
    tags.payloadManifest = await capture(problems, TAG_FILES.manifest, async () =>
      parseManifest(manifest, TAG_FILES.manifest),
    );
  const tagManifest = text(TAG_FILES.tagManifest);
  if (tagManifest !== undefined) {
    tags.tagManifest = await capture(problems, TAG_FILES.tagManifest, async () =>
      parseManifest(tagManifest, TAG_FILES.tagManifest),
    );
  }
  const bagInfo = text(TAG_FILES.bagInfo);
  if (bagInfo !== undefined)
    tags.bagInfo = await capture(problems, TAG_FILES.bagInfo, async () => parseBagInfo(bagInfo));
  return tags;
}

async function capture<T>(
  problems: PackageProblem[],
  path: string,
  run: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (!isCustodyError(error) || isRefusal(error.code)) throw error;
    problems.push({ code: error.code, path, message: error.message });
    return undefined;
  }
}

interface ListingInput {
  reader: PackageReader;
  tags: TagContents;
  actual: ActualDigests;
  manifest: CustodyManifest | undefined;
  problems: PackageProblem[];
}

/** Cross-checks what is in the archive against the three listings, and bag-info against the signed manifest. */
export function checkListings(input: ListingInput): void {
  const { reader, tags, actual, problems } = input;
  const add = (code: ErrorCode, path: string, message: string) => problems.push({ code, path, message });
  const present = new Set(reader.entries.map((entry) => entry.path));
  const payload = [...present].filter((path) => path.startsWith("data/"));
  const tagPaths = [...present].filter((path) => isKnownTagFile(path) && path !== TAG_FILES.tagManifest);
  checkBagFiles(present, add);
  const compareDigest = (path: string, expected: string, listing: string) => {
    const got = actual.get(path);
    if (got !== undefined && got.sha256 !== expected)
      add("ERR_DIGEST_MISMATCH", path, `${path}: sha256 differs from ${listing}`);
  };
  const checkList = (listed: Map<string, string>, mustList: string[], listing: string) => {
    for (const path of mustList)
      if (!listed.has(path)) add("ERR_UNLISTED_ENTRY", path, `${path} is not listed in ${listing}`);
    for (const [path, sha256] of listed) {
      if (!present.has(path))
        add("ERR_MISSING_ENTRY", path, `${path} is listed in ${listing} but not in the package`);
      else compareDigest(path, sha256, listing);
    }
  };
  if (tags.payloadManifest !== undefined) {
    for (const path of tags.payloadManifest.keys()) {
      if (!path.startsWith("data/"))
        add("ERR_BAGIT_INVALID", path, `${TAG_FILES.manifest} lists ${path}, which is not payload`);
    }
    checkList(tags.payloadManifest, payload, TAG_FILES.manifest);
  }
  if (tags.tagManifest !== undefined) {
    checkTagManifestPaths(tags.tagManifest.keys(), add);
    checkList(tags.tagManifest, tagPaths, TAG_FILES.tagManifest);
  }
  checkBagitBytes(tags.files.get(TAG_FILES.bagit), add);
  if (input.manifest !== undefined) checkCustodyManifest(input.manifest, payload, present, actual, add);
  checkBagInfo(tags, payload, reader, add);
  const manifestBytes = tags.files.get(TAG_FILES.custodyManifest);
  if (tags.bagInfo !== undefined && input.manifest !== undefined && manifestBytes !== undefined)
    checkBagInfoBinding(tags.bagInfo, input.manifest, manifestBytes, add);
}

type Add = (code: ErrorCode, path: string, message: string) => void;

function checkCustodyManifest(
  manifest: CustodyManifest,
  payload: string[],
  present: Set<string>,
  actual: ActualDigests,
  add: Add,
): void {
  const listing = TAG_FILES.custodyManifest;
  const items = new Map(manifest.items.map((item) => [item.path, item]));
  for (const path of [...payload, TAG_FILES.summary]) {
    if (!items.has(path) && present.has(path))
      add("ERR_UNLISTED_ENTRY", path, `${path} is not listed in ${listing}`);
  }
  for (const item of manifest.items) {
    const got = actual.get(item.path);
    if (!present.has(item.path))
      add("ERR_MISSING_ENTRY", item.path, `${item.path} is listed in ${listing} but not in the package`);
    else if (got !== undefined && got.size !== item.size)
      add(
        "ERR_INTEGRITY_MISMATCH",
        item.path,
        `${item.path} is ${got.size} bytes; ${listing} says ${item.size}`,
      );
    else if (got !== undefined && got.sha256 !== item.sha256)
      add("ERR_DIGEST_MISMATCH", item.path, `${item.path}: sha256 differs from ${listing}`);
  }
}

function checkBagInfo(tags: TagContents, payload: string[], reader: PackageReader, add: Add): void {
  if (tags.bagInfo === undefined) return;
  const path = TAG_FILES.bagInfo;
  const oxum = bagInfoValue(tags.bagInfo, "Payload-Oxum");
  const bytes = payload.reduce((sum, file) => sum + (reader.get(file)?.size ?? 0), 0);
  if (oxum === undefined) add("ERR_BAGIT_INVALID", path, "bag-info.txt has no Payload-Oxum");
  else if (oxum !== `${bytes}.${payload.length}`)
    add("ERR_OXUM_MISMATCH", path, `Payload-Oxum is ${oxum}; the payload is ${bytes}.${payload.length}`);
  const declared = bagInfoValue(tags.bagInfo, "Custody-Manifest-Sha256");
  const manifest = tags.files.get(TAG_FILES.custodyManifest);
  if (declared === undefined) {
    add("ERR_BAGIT_INVALID", path, "bag-info.txt has no Custody-Manifest-Sha256");
  } else if (
    manifest !== undefined &&
    createHash("sha256").update(manifest).digest("hex") !== declared.toLowerCase()
  ) {
    add(
      "ERR_DIGEST_MISMATCH",
      path,
      "Custody-Manifest-Sha256 in bag-info.txt does not match custody-manifest.json",
    );
  }
}
