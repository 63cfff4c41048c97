import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { certificateRoles } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench } from "./support/live-e2e.ts";

// Remote collection end to end: `custody serve`, an enrolled agent (`custody agent run`) that makes the
// package on the device and signs it with its own collector certificate, and the analyst's CLI. The
// attacks replay the protocol as the device itself (its real key, after its agent stopped).
const bench = new LiveBench();
const CASE = "IR-2026-77";
const ONLY = "SystemInformation,UsersAndGroups";
const { work } = bench;
let deviceId = "";

const custody = (args: string[]) => bench.custody(args);
const as = (who: string) => bench.as(who);

const alice = () => bench.custodian();

async function caseItems(): Promise<string[]> {
  // the sessions' transcripts are items too: only the packages count here
  return (await alice().list({ caseId: CASE }))
    .filter((item) => item.kind === "package")
    .map((item) => item.id);
}

beforeAll(async () => {
  await bench.serve(["rita"], CASE);
  await bench.startAgent();
  deviceId = bench.deviceId;
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
}, 180_000);

afterAll(async () => {
  await bench.close();
});

describe("collect in a live session", () => {
  let itemId = "";

  it("makes the package on the device, signed by the device's own collector certificate, into the case with the reason", async () => {
    const ran = custody([
      "live",
      "run",
      deviceId,
      "--case",
      CASE,
      ...as("rita"),
      "--",
      "collect",
      "-only",
      ONLY,
      "-reason",
      "EDR alert 4411: beaconing",
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    itemId = ran.stdout.trim().split("\n").at(-1) ?? "";
    expect(itemId).toMatch(/^[0-9a-f]{64}$/);
    const item = await alice().show({ id: itemId, caseId: CASE });
    expect(item.kind).toBe("package");
    expect(item.package?.verified).toBe(true);
    expect(item.package?.deviceId).toBe(deviceId);
    expect(item.package?.signer).toContain(`CN=${deviceId}`);
    expect(item.acquisition.how).toBe("collect");
    expect(item.labels).toMatchObject({
      device: deviceId,
      analyst: "rita",
      reason: "EDR alert 4411: beaconing",
      kind: "investigation-package",
    });
    expect(item.labels.session).toMatch(/^S-/);
    expect(item.labels.command).toMatch(/^C-/);
    // the device's signer: issued by the vault CA to this device, for device packages only
    const cert = new X509Certificate(readFileSync(join(work, "agent", "collector-certificate.pem")));
    expect(certificateRoles(cert)).toEqual(["device-collector"]);
    expect(cert.subject).toContain(`CN=${deviceId}`);
    const audit = JSON.stringify(await alice().showAudit());
    expect(audit).toContain("device.collector-certificate");
    expect(audit).toContain("EDR alert 4411: beaconing");
  }, 240_000);

  it("has a custody report that verifies offline", () => {
    const out = join(work, "collect-report.json");
    const made = custody(["report", itemId, "--case", CASE, "--out", out, ...as("alice")]);
    expect(made.code, made.stderr).toBe(0);
    const verified = custody(["report", "verify", out, "--ca", join(work, "ca.pem")]);
    expect(verified.code, verified.stderr).toBe(0);
  }, 120_000);

  it("is refused without a reason, before anything is sent", async () => {
    const before = await caseItems();
    for (const reason of [[], ["-reason", "   "]]) {
      const ran = custody([
        "live",
        "run",
        deviceId,
        "--case",
        CASE,
        ...as("rita"),
        "--",
        "collect",
        "-only",
        ONLY,
        ...reason,
      ]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain("ERR_REASON_REQUIRED");
    }
    const outside = custody(["devices", "collect", deviceId, "--case", CASE, "--only", ONLY, ...as("rita")]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain("ERR_REASON_REQUIRED");
    expect(await caseItems()).toEqual(before);
  }, 120_000);
});

describe("custody devices collect", () => {
  it("collects an online device outside a session, with the reason", async () => {
    const ran = custody([
      "devices",
      "collect",
      deviceId,
      "--case",
      CASE,
      "--reason",
      "weekly baseline of a server",
      "--only",
      "SystemInformation",
      ...as("rita"),
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const itemId = ran.stdout.trim();
    const item = await alice().show({ id: itemId, caseId: CASE });
    expect(item.package?.verified).toBe(true);
    expect(item.labels.reason).toBe("weekly baseline of a server");
  }, 240_000);
});
