import { createHash } from "node:crypto";
import type { ErrorCode } from "@custody/core";
import type { CustodyManifest } from "@custody/manifest";
import { BAGIT_TXT, type BagInfoField, payloadOxum, TAG_FILES } from "./bagit.js";

// What binds the bag's unsigned tag files to the signed custody manifest. The signature covers
// custody-manifest.json, which lists the payload and CollectionSummary.csv; every other file of the bag
// is either derived from it (bag-info.txt, bagit.txt) or cross-checked line by line against it and the
// bytes (manifest-sha256.txt, tagmanifest-sha256.txt). Anything else in the bag is refused.

const KNOWN_TAG_FILES: ReadonlySet<string> = new Set(Object.values(TAG_FILES));
const BAG_SOFTWARE_AGENT = "custody (@custody/archive)";
/** What the writer has always stated; no caller can change it, so it states nothing an attacker could. */
const SOURCE_ORGANIZATION = "custody";

/** True for the tag files a package holds (the tag manifest included). */
export function isKnownTagFile(path: string): boolean {
  return KNOWN_TAG_FILES.has(path);
}

/** bag-info.txt's fields, each one stated by (or derived from) the signed manifest. */
export function boundBagInfo(manifest: CustodyManifest, manifestSha256: string): BagInfoField[] {
  const payload = manifest.items.filter((item) => item.path.startsWith("data/"));
  const bytes = payload.reduce((sum, item) => sum + item.size, 0);
  const fields: [string, string][] = [
    ["Source-Organization", SOURCE_ORGANIZATION],
    ["Bagging-Date", manifest.createdAt.slice(0, 10)],
    ["External-Identifier", manifest.name],
    ["Payload-Oxum", payloadOxum(bytes, payload.length)],
    ["Bag-Software-Agent", BAG_SOFTWARE_AGENT],
  ];
  if (manifest.case !== undefined) fields.push(["Custody-Case", manifest.case.id]);
  fields.push(["Custody-Device", manifest.device.id]);
  fields.push(["Custody-Manifest-Sha256", manifestSha256]);
  fields.push(["Custody-Signature", TAG_FILES.signature]);
  return fields;
}

const CHECKED_AGAINST_BYTES: ReadonlySet<string> = new Set(["Payload-Oxum", "Custody-Manifest-Sha256"]);

type Add = (code: ErrorCode, path: string, message: string) => void;

/**
 * Refuses every file that is neither payload nor a known tag file: a fetch.txt (a validator would
 * download files nobody signed), other manifests (their digests are nobody's), a `Data/` folder that
 * lands in `data/` on a case-insensitive disk, any extra file listed only in the unsigned tag manifest.
 */
export function checkBagFiles(present: Iterable<string>, add: Add): void {
  for (const path of present) {
    if (path.startsWith("data/") || KNOWN_TAG_FILES.has(path)) continue;
    if (path === "fetch.txt") {
      add("ERR_BAGIT_INVALID", path, "fetch.txt is refused: a package holds its whole payload");
    } else if (/^(tag)?manifest-[^/]+\.txt$/.test(path)) {
      add("ERR_BAGIT_INVALID", path, `${path} is refused: the only manifests are the sha256 ones`);
    } else {
      add(
        "ERR_UNLISTED_ENTRY",
        path,
        `${path} is not a file of a package (the payload is under data/; the tag files are known)`,
      );
    }
  }
}

/** The tag manifest may list only the package's other tag files (each is then checked by digest). */
export function checkTagManifestPaths(listed: Iterable<string>, add: Add): void {
  for (const path of listed) {
    if (!KNOWN_TAG_FILES.has(path) || path === TAG_FILES.tagManifest)
      add("ERR_BAGIT_INVALID", TAG_FILES.tagManifest, `${TAG_FILES.tagManifest} lists ${path}`);
  }
}

/** bagit.txt holds no fact of its own: it must be exactly what the writer writes. */
export function checkBagitBytes(bytes: Buffer | undefined, add: Add): void {
  if (bytes !== undefined && !bytes.equals(Buffer.from(BAGIT_TXT)))
    add("ERR_BAGIT_INVALID", TAG_FILES.bagit, `${TAG_FILES.bagit} is not the one a package holds`);
}

/**
 * Every field of bag-info.txt must appear once, spelled as the writer spells it, with the value the
 * signed manifest states. Payload-Oxum and Custody-Manifest-Sha256 are checked against the bytes
 * (see checkBagInfo); the listings bind those bytes to the signed manifest.
 */
export function checkBagInfoBinding(
  fields: readonly BagInfoField[],
  manifest: CustodyManifest,
  manifestBytes: Buffer,
  add: Add,
): void {
  const path = TAG_FILES.bagInfo;
  const sha256 = createHash("sha256").update(manifestBytes).digest("hex");
  const expected = new Map(boundBagInfo(manifest, sha256));
  const seen = new Set<string>();
  for (const [label, value] of fields) {
    const folded = label.toLowerCase();
    if (seen.has(folded)) add("ERR_BAGIT_INVALID", path, `bag-info.txt states ${label} twice`);
    seen.add(folded);
    const bound = expected.get(label);
    if (bound === undefined)
      add("ERR_PACKAGE_INVALID", path, `bag-info.txt field ${label} is not stated by the signed manifest`);
    else if (!CHECKED_AGAINST_BYTES.has(label) && value !== bound)
      add(
        "ERR_PACKAGE_INVALID",
        path,
        `bag-info.txt says ${label}: ${value}; the signed manifest says ${bound}`,
      );
  }
  for (const label of expected.keys()) {
    if (!CHECKED_AGAINST_BYTES.has(label) && !fields.some(([name]) => name === label))
      add("ERR_PACKAGE_INVALID", path, `bag-info.txt lacks ${label}, which the signed manifest states`);
  }
}
