import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyCustodyReport } from "@custody/audit";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkChain, matches, NO_FILTER } from "../src/app/lib/audit-filter.ts";
import { bytesOfHex, verifyInclusionPath } from "../src/app/lib/merkle.ts";
import { checkReportInPage, NOT_CHECKED_IN_PAGE } from "../src/app/lib/report-check.ts";

// The page's check (WebCrypto) against a real report signed by a real vault: what the vault's own
// verifier accepts the page accepts, and every rewrite the page is meant to catch it refuses.

const work = mkdtempSync(join(tmpdir(), "custody-console-report-"));
let vault: Vault;
let alice: AuthenticatedPrincipal;
let signed: Awaited<ReturnType<Vault["report"]>>;

beforeAll(async () => {
  const created = await Vault.init(join(work, "vault"), { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
  writeFileSync(join(work, "evidence.txt"), "a suspicious file\n");
  const item = await vault.ingest(alice, join(work, "evidence.txt"), { caseId: "CASE-1" });
  await vault.hold(alice, { id: item.id, caseId: "CASE-1" });
  await vault.checkpoint(alice);
  signed = await vault.report(alice, { id: item.id, caseId: "CASE-1" });
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

// a mutable copy whose fields the tests rewrite freely
// biome-ignore lint/suspicious/noExplicitAny: forgeries reach into any field
const copy = () => structuredClone(signed) as unknown as { report: any; signature: string };

describe("checkReportInPage", () => {
  it("accepts a report the vault's verifier accepts, against the same checkpoint", async () => {
    const vaultVerdict = verifyCustodyReport(signed, { trustAnchors: vault.trustAnchors });
    const outcome = await checkReportInPage(JSON.parse(JSON.stringify(signed)));
    expect(outcome).toMatchObject({ ok: true, events: vaultVerdict.events });
    if (outcome.ok) expect(outcome.checkpoint).toEqual(vaultVerdict.checkpoint);
    expect(NOT_CHECKED_IN_PAGE.join(" ")).toMatch(/CMS signature/);
  });

  it("refuses a rewritten event: it no longer matches its own hash", async () => {
    const forged = copy();
    forged.report.events[0].reason = "rewritten";
    expect(await checkReportInPage(forged)).toMatchObject({
      ok: false,
      code: "ERR_PROOF_INVALID",
      seq: forged.report.events[0].seq,
    });
  });

  it("refuses a proof whose audit path was changed, and one for another record", async () => {
    const forged = copy();
    const last = forged.report.proofs.at(-1);
    if (last.proof.length === 0) last.proof.push("00".repeat(32));
    else last.proof[0] = "00".repeat(32);
    expect(await checkReportInPage(forged)).toMatchObject({ ok: false, code: "ERR_PROOF_INVALID" });
    const swapped = copy();
    swapped.report.proofs.reverse();
    expect(await checkReportInPage(swapped)).toMatchObject({ ok: false, code: "ERR_PROOF_INVALID" });
  });

  it("refuses a state the fact records do not give, a dropped event and a reordered log", async () => {
    const state = copy();
    state.report.item.state.legalHold = false;
    expect(await checkReportInPage(state)).toMatchObject({ ok: false, code: "ERR_INTEGRITY_MISMATCH" });
    const dropped = copy();
    dropped.report.events.pop();
    expect(await checkReportInPage(dropped)).toMatchObject({ ok: false, code: "ERR_PROOF_INVALID" });
    const reordered = copy();
    reordered.report.events.reverse();
    reordered.report.proofs.reverse();
    expect(await checkReportInPage(reordered)).toMatchObject({ ok: false, code: "ERR_PROOF_INVALID" });
  });

  it("refuses a changed item record, an unknown format and something that is not a report", async () => {
    const record = copy();
    record.report.item.record.name = "renamed.txt";
    expect(await checkReportInPage(record)).toMatchObject({ ok: false, code: "ERR_INTEGRITY_MISMATCH" });
    const format = copy();
    format.report.format = "custody.report/v9";
    expect(await checkReportInPage(format)).toMatchObject({ ok: false, code: "ERR_UNSUPPORTED_VERSION" });
    expect(await checkReportInPage({ hello: 1 })).toMatchObject({ ok: false, code: "ERR_INVALID_ARGUMENT" });
    expect(await checkReportInPage(null)).toMatchObject({ ok: false, code: "ERR_INVALID_ARGUMENT" });
  });
});

describe("verifyInclusionPath", () => {
  it("refuses out-of-range indexes and hashes of the wrong length without throwing", async () => {
    const h = bytesOfHex("11".repeat(32));
    expect(await verifyInclusionPath({ leafIndex: 1, treeSize: 1, recordHash: h, proof: [], root: h })).toBe(
      false,
    );
    expect(
      await verifyInclusionPath({ leafIndex: 0, treeSize: 1, recordHash: h.slice(1), proof: [], root: h }),
    ).toBe(false);
    expect(() => bytesOfHex("abc")).toThrow(TypeError);
  });
});

describe("the audit page's checks", () => {
  it("chains the vault's real records in the page, and finds an edited or a missing one", async () => {
    const records = await vault.showAudit(alice);
    expect(await checkChain(records)).toEqual({ ok: true, records: records.length });
    const edited = structuredClone(records);
    const second = edited[1];
    if (second !== undefined) second.actor = "mallory";
    expect(await checkChain(edited)).toMatchObject({ ok: false, seq: second?.seq });
    const gap = records.filter((_, i) => i !== 1);
    expect(await checkChain(gap)).toMatchObject({ ok: false, why: expect.stringMatching(/does not follow/) });
  });

  it("filters by actor, action, target, outcome and time", async () => {
    const records = await vault.showAudit(alice);
    const ingest = records.find((r) => r.action === "evidence.ingested");
    expect(ingest).toBeDefined();
    if (ingest === undefined) return;
    expect(matches(ingest, { ...NO_FILTER, actor: "ALI", action: "ingested", target: "item:CASE-1/" })).toBe(
      true,
    );
    expect(matches(ingest, { ...NO_FILTER, outcome: "deny" })).toBe(false);
    const after = new Date(Date.parse(ingest.time) + 60_000).toISOString();
    expect(matches(ingest, { ...NO_FILTER, from: after })).toBe(false);
    expect(matches(ingest, { ...NO_FILTER, to: after })).toBe(true);
  });
});
