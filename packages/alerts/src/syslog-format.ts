import type { Alert, AlertSeverity } from "./alert.js";

/** RFC 5424 §6.3.2: an SD-ID with an '@' is private; 32473 is the enterprise number RFC 5612 reserves for examples and documentation. */
export const SYSLOG_SD_ID = "custody@32473";
export const SYSLOG_APP_NAME = "custody";
/** RFC 5425 §4.3.1: receivers should take 8192 octets; a message is never longer. */
export const MAX_SYSLOG_MESSAGE_BYTES = 8192;

/** RFC 5424 severities: critical 2, error 3, warning 4, notice 5. */
const SEVERITY_CODE: Record<AlertSeverity, number> = { critical: 2, high: 3, medium: 4, low: 5 };
const BOM = "\u{FEFF}";

export interface SyslogHeader {
  /** 0-23; 13 ("log audit") by default. */
  facility: number;
  hostname: string;
  procId: string;
}

/**
 * One RFC 5424 message for an alert: the header, one SD-ELEMENT with the record's seq, action,
 * outcome, actor and target, and the summary as a UTF-8 MSG (after a BOM, as §6.4 asks).
 */
export function formatSyslogMessage(alert: Alert, header: SyslogHeader): string {
  const pri = header.facility * 8 + SEVERITY_CODE[alert.severity];
  const params: [string, string][] = [
    ["alertId", alert.id],
    ["rule", alert.rule],
    ["severity", alert.severity],
    ["seq", String(alert.record.seq)],
    ["action", clip(alert.record.action, 128)],
    ["outcome", alert.record.outcome],
    ["actor", clip(alert.record.actor, 256)],
    ["target", clip(alert.record.target, 256)],
    ["recordHash", alert.record.hash],
  ];
  if (alert.burst !== undefined) {
    params.push(["count", String(alert.burst.count)], ["windowMs", String(alert.burst.windowMs)]);
  }
  const sd = `[${SYSLOG_SD_ID} ${params.map(([name, value]) => `${name}="${sdEscape(value)}"`).join(" ")}]`;
  const fields = [
    `<${pri}>1`,
    alert.time,
    headerField(header.hostname, 255),
    SYSLOG_APP_NAME,
    headerField(header.procId, 128),
    headerField(alert.rule, 32),
    sd,
  ];
  return `${fields.join(" ")} ${BOM}${clip(oneLine(alert.summary), 512)}`;
}

/** RFC 6587 §3.4.1 octet counting: `<length in octets> <message>`. */
export function frameSyslogMessage(message: string): Buffer {
  const bytes = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${bytes.byteLength} `, "ascii"), bytes]);
}

/** RFC 5424 §6.3.3: inside a PARAM-VALUE, '"', '\' and ']' are escaped with a backslash. */
export function sdEscape(value: string): string {
  return oneLine(value).replace(/["\\\]]/g, (c) => `\\${c}`);
}

// Control characters are legal in a value but break line-based tools downstream: replace them.
function oneLine(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\u{FFFD}");
}

/** Header fields are PRINTUSASCII (33-126) without spaces; '-' stands for an empty one. */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return printable === "" ? "-" : printable;
}

/** At most `max` code points (never half a surrogate pair), marked with '…' when cut. */
function clip(value: string, max: number): string {
  const points = Array.from(value);
  return points.length <= max ? value : `${points.slice(0, max - 1).join("")}…`;
}
