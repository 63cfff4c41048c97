import type { HashEntry } from "@custody/vault";

export type Verdict = "malicious" | "suspicious" | "clean" | "unknown";

const EXECUTABLE_TYPES = new Set(["elf", "pe", "macho", "macho-fat-or-java-class"]);
/** Whole-file entropy (bits per byte) above which an executable is likely packed or encrypted. */
const PACKED_ENTROPY = 7.2;

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function describe(entry: HashEntry): string {
  const label = [entry.name, entry.note].filter((v) => v !== undefined && v !== "").join(": ");
  return `sha256 on ${entry.list}${label === "" ? "" : ` (${label})`}, added by ${entry.addedBy} ${entry.addedAt}`;
}

/**
 * The vault's verdict on the facts a device reported for one file. The device states digests, type,
 * entropy, header facts and YARA matches; the vault alone looks the sha256 up in its hash lists and
 * decides. A compromised device can lie about its own file's digest, and so at worst claim the digest
 * of a file on known-good; it never sees the lists, and cannot add to them.
 */
export function verdictOf(
  facts: Record<string, unknown>,
  lookup: (sha256: string) => HashEntry[],
): { verdict: Verdict; reasons: string[]; lists: string[] } {
  const reasons: string[] = [];
  const entries = lookup(text(facts.sha256));
  const bad = entries.filter((e) => e.list === "known-bad");
  const good = entries.filter((e) => e.list === "known-good");
  const yara = (facts.yara ?? {}) as {
    ran?: boolean;
    matches?: unknown;
    rulesSha256?: unknown;
    version?: unknown;
    reason?: unknown;
  };
  const matches = Array.isArray(yara.matches) ? yara.matches.map(String) : [];
  for (const entry of bad) reasons.push(describe(entry));
  if (matches.length > 0)
    reasons.push(
      `YARA rule${matches.length > 1 ? "s" : ""} ${matches.join(", ")} matched (rules sha256 ${text(yara.rulesSha256)}, yara ${text(yara.version)})`,
    );
  const headers = (facts.headers ?? {}) as { anomalies?: unknown };
  const anomalies = Array.isArray(headers.anomalies) ? headers.anomalies.map(String) : [];
  const type = text(facts.type);
  const entropy = typeof facts.entropy === "number" ? facts.entropy : 0;
  const suspicious = [...anomalies];
  if (EXECUTABLE_TYPES.has(type) && entropy > PACKED_ENTROPY)
    suspicious.push(`an executable with entropy ${entropy} bits/byte (packed or encrypted)`);
  if (facts.changedWhileReading === true) suspicious.push("the file changed while the device read it");
  const lists = entries.map((e) => e.list);
  if (bad.length > 0 || matches.length > 0) {
    for (const entry of good) reasons.push(`also ${describe(entry)}; the known-bad evidence wins`);
    return { verdict: "malicious", reasons: [...reasons, ...suspicious], lists };
  }
  if (good.length > 0) {
    for (const entry of good) reasons.push(`${describe(entry)} (the digest the device reported)`);
    return { verdict: "clean", reasons: [...reasons, ...suspicious.map((s) => `noted: ${s}`)], lists };
  }
  if (suspicious.length > 0) return { verdict: "suspicious", reasons: suspicious, lists };
  const none = ["no hash-list entry for its sha256"];
  none.push(yara.ran === true ? "no YARA rule matched" : `no YARA scan: ${text(yara.reason)}`);
  none.push(EXECUTABLE_TYPES.has(type) ? "nothing anomalous in its headers" : `type ${type || "unknown"}`);
  return { verdict: "unknown", reasons: none, lists };
}

/** The row `analyze` shows: the device's facts, then the vault's verdict and reasons. */
export function analyzeRow(
  facts: Record<string, unknown>,
  lookup: (sha256: string) => HashEntry[],
): Record<string, unknown> {
  const { verdict, reasons, lists } = verdictOf(facts, lookup);
  // the keys the vault states are dropped from what the device sent, so a device cannot state them
  const { path, sha256, type, entropy, verdict: _v, reasons: _r, lists: _l, basis: _b, ...rest } = facts;
  return {
    path,
    verdict,
    sha256,
    type,
    entropy,
    reasons,
    ...rest,
    lists,
    basis: "facts and digests reported by the device; hash lists and verdict the vault's",
  };
}
