import { CustodyError } from "@custody/core";
import { DerReader, DerType, parseDer, toDer } from "../der.js";

const reader: DerReader = new DerReader("ERR_TIMESTAMP_INVALID", "timestamp response");

// RFC 3161 §2.4.2 PKIStatus: granted (0) and grantedWithMods (1) carry a token
const GRANTED = new Set([0, 1]);
const STATUS_NAMES = [
  "granted",
  "grantedWithMods",
  "rejection",
  "waiting",
  "revocationWarning",
  "revocationNotification",
];

/** The token of a TimeStampResp; a refusal is ERR_TIMESTAMP_REFUSED with the TSA's status and text. */
export function parseTimestampResponse(der: Uint8Array): Buffer {
  const root = parseDer(der, "the timestamp response", "ERR_TIMESTAMP_INVALID");
  const [statusInfo, token, ...extra] = reader.universal(root, DerType.SEQUENCE, "TimeStampResp");
  if (extra.length > 0) reader.fail("TimeStampResp has unexpected fields");
  const [status, ...details] = reader.universal(statusInfo, DerType.SEQUENCE, "PKIStatusInfo");
  const statusBytes = reader.integerBytes(status, "status");
  const code = statusBytes.length === 1 ? (statusBytes[0] ?? -1) : -1;
  if (!GRANTED.has(code)) {
    throw new CustodyError(
      "ERR_TIMESTAMP_REFUSED",
      `the TSA refused: ${STATUS_NAMES[code] ?? `status ${code}`}${freeText(details)}`,
      {
        details: { status: code },
      },
    );
  }
  if (token === undefined) reader.fail("the TSA granted the request but sent no token");
  return toDer(token);
}

function freeText(details: ReturnType<typeof reader.children>): string {
  const text = details.find((node) => node.type === DerType.SEQUENCE);
  if (text === undefined || !Array.isArray(text.value)) return "";
  const lines = text.value.map((line) =>
    typeof line.value === "string" ? Buffer.from(line.value, "binary").toString("utf8") : "",
  );
  return ` (${lines.join("; ").slice(0, 200)})`;
}
