import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Alert } from "@custody/alerts";
import type { AuditRecord } from "@custody/audit";

let seq = 0;

/** A record shaped as the vault writes it (for the engine and sink tests; the rules test uses a real vault). */
export function sampleRecord(fields: Partial<AuditRecord> = {}): AuditRecord {
  seq += 1;
  return {
    seq,
    time: new Date(Date.UTC(2026, 11, 6, 5, 0, seq)).toISOString(),
    actor: "alice",
    action: "evidence.read",
    target: "item:A/abc",
    outcome: "allow",
    reason: "grant g-1",
    details: {},
    prev: "0".repeat(64),
    hash: "ab".repeat(32),
    ...fields,
  };
}

export function sampleAlert(fields: Partial<Alert> = {}): Alert {
  const record = sampleRecord();
  return {
    format: "custody.alert/v1",
    id: randomUUID(),
    rule: "evidence-purged",
    severity: "high",
    summary: "an item was purged",
    time: "2026-12-06T05:00:00.123Z",
    record: { ...record },
    ...fields,
  };
}

/** A self-signed certificate for 127.0.0.1 made by the real openssl, used as its own CA. */
export function loopbackCertificate(dir: string): { cert: string; key: string } {
  const keyFile = join(dir, "tls-key.pem");
  const certFile = join(dir, "tls-cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "pipe" },
  );
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}
