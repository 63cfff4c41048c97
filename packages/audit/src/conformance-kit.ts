import { type CustodyError, isCustodyError } from "@custody/core";
import type { Signer, TrustOptions } from "@custody/manifest";
import { expect } from "vitest";
import type { AuditLog, AuditLogOptions } from "./audit-log.js";
import type { AuditEvent } from "./record.js";
import type { AuditSink, AuditSource } from "./sink.js";

/** What a sink's test hands the suite: one fresh, empty log per test. */
export interface AuditSinkHarness {
  /** Opens a writer on this test's log (every call opens the same log). */
  openSink(): Promise<AuditSink>;
  /** A read-only view of the same log, as a verifier would open it. */
  source(): AuditSource;
  cleanup?(): Promise<void>;
}

export interface AuditSuiteContext {
  harness: AuditSinkHarness;
  trust: TrustOptions;
  signer: Signer;
  /** Opens a log over a new sink from the harness (or over `sink`); closed after the test. */
  open(options?: Partial<AuditLogOptions>, sink?: AuditSink): Promise<AuditLog>;
}

let counter = 0;
/** A valid event; `n` makes each one distinct. */
export function sampleEvent(n = counter++): AuditEvent {
  return {
    actor: `user-${n % 7}`,
    action: "item.read",
    target: `case-1/item-${n}`,
    outcome: n % 5 === 0 ? "deny" : "allow",
    reason: n % 5 === 0 ? "no grant covers case-1" : "grant g-1 (investigator on case-1)",
    details: { n, sha256: "ab".repeat(32), note: "ünïcødé ✓" },
  };
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<CustodyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCustodyError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as CustodyError).code).toBe(code);
  return error as CustodyError;
}
