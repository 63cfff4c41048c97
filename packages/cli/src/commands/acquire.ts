import { acquire } from "@custody/acquire";
import { CustodyError } from "@custody/core";
import type { EvidenceItem } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatBytes } from "../progress.js";
import { intOption, parseLabels, VAULT_OPTIONS, withLocalVault } from "../vault-context.js";
import { printItem } from "./evidence.js";

export const acquireCommand: CommandSpec = {
  path: ["acquire"],
  summary: "image a disk, an image file or an Azure snapshot (SAS URL) into the vault in one read",
  usage: `SOURCE --case ID [--name N] [--hash sha256,sha1,md5] [--compress zstd] [--verify-source] [--retries N] [--retain-days N] [--legal-hold] [--label K=V]...
SOURCE is a block device (/dev/sdb, /dev/nvme0n1, /dev/loop0, /dev/dm-0), an image file, or the read SAS
URL of an Azure disk snapshot (what "grant access" returns). The bytes are read once: sha256, sha1 and
md5 (--hash: sha256 and any of sha1, md5) are computed as they stream into the vault, create-only. A sector that cannot be read is retried
(--retries, default 2), then zero-filled and listed in the item record with its offset. A symlink, FIFO
or character device is refused; name the device itself. --verify-source reads the source a second time
and records whether it matched (exit 1 when it did not; the image is kept). With --compress zstd the
vault stores a compressed image; the id and digests are those of the raw bytes, and get returns them.`,
  options: {
    ...VAULT_OPTIONS,
    case: { type: "string" },
    name: { type: "string" },
    compress: { type: "string" },
    hash: { type: "string" },
    "verify-source": { type: "boolean" },
    retries: { type: "string" },
    "retain-days": { type: "string" },
    "legal-hold": { type: "boolean" },
    label: { type: "string", multiple: true },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const caseId = ctx.string("case");
    if (caseId === undefined) throw new CustodyError("ERR_USAGE", "acquire needs --case ID");
    const compress = ctx.string("compress");
    if (compress !== undefined && compress !== "zstd")
      throw new CustodyError("ERR_USAGE", "--compress is zstd");
    const retainDays = intOption(ctx, "retain-days");
    const retries = intOption(ctx, "retries");
    const name = ctx.string("name");
    const alsoDigests = parseHashes(ctx.string("hash"));
    const progress = ctx.progress();
    const item = await withLocalVault(ctx, "acquire", (vault, principal) =>
      acquire(vault, principal, String(ctx.positionals[0]), {
        caseId,
        labels: parseLabels(ctx.strings("label")),
        legalHold: ctx.flag("legal-hold"),
        verifySource: ctx.flag("verify-source"),
        ...(name === undefined ? {} : { name }),
        ...(compress === undefined ? {} : { compress }),
        ...(retainDays === undefined ? {} : { retainDays }),
        ...(retries === undefined ? {} : { retries }),
        ...(alsoDigests === undefined ? {} : { alsoDigests }),
        onProgress: (bytes, total) =>
          progress.update(`acquired ${formatBytes(bytes)} of ${formatBytes(total)}`),
      }),
    );
    progress.done();
    printItem(ctx, item);
    if (!ctx.json) printImageSummary(ctx, item);
    if (item.image?.verification?.matched === false) {
      throw new CustodyError(
        "ERR_DIGEST_MISMATCH",
        `the second read of the source gave sha256 ${item.image.verification.sha256}, not ${item.id}: the source is unstable (the image is kept as item ${item.id})`,
      );
    }
    return 0;
  },
};

function parseHashes(value: string | undefined): ("sha1" | "md5")[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((name) => name.trim());
  if (!names.includes("sha256") || names.some((name) => !["sha256", "sha1", "md5"].includes(name))) {
    throw new CustodyError("ERR_USAGE", "--hash is sha256 and any of sha1, md5 (e.g. --hash sha256,md5)");
  }
  return names.filter((name): name is "sha1" | "md5" => name === "sha1" || name === "md5");
}

function printImageSummary(ctx: CommandContext, item: EvidenceItem): void {
  const image = item.image;
  if (image === undefined) return;
  ctx.out(`${"source".padEnd(15)} ${image.source.kind} ${image.source.path}`);
  for (const [key, value] of Object.entries(image.source.identification))
    ctx.out(`${"".padEnd(15)} ${key}: ${value}`);
  ctx.out(`${"read".padEnd(15)} ${image.startedAt} .. ${image.endedAt}`);
  const errors =
    image.readErrors.length === 0
      ? "none"
      : `${formatBytes(image.readErrorBytes)} in ${image.readErrors.length} run(s), zero-filled`;
  ctx.out(`${"read errors".padEnd(15)} ${errors}`);
  if (image.storedAs !== undefined)
    ctx.out(`${"stored as".padEnd(15)} ${image.storedAs.encoding}, ${formatBytes(image.storedAs.size)}`);
  if (image.verification !== undefined)
    ctx.out(
      `${"verified".padEnd(15)} ${image.verification.matched ? "second read matched" : "SECOND READ DIFFERED"}`,
    );
}
