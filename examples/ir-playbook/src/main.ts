#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { PlaybookStepError, runPlaybook, type Verdict } from "./playbook.js";

const USAGE = `usage: ir-playbook --server URL --identity FILE --device ID --case ID --reason TEXT --file PATH
                   [--ca FILE] [--only A,B] [--isolate-on malicious,suspicious] [--json]`;

const VERDICTS: Verdict[] = ["malicious", "suspicious", "clean", "unknown"];

function fail(message: string, code: number): never {
  process.stderr.write(`ir-playbook: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: "string" },
      identity: { type: "string" },
      ca: { type: "string" },
      device: { type: "string" },
      case: { type: "string" },
      reason: { type: "string" },
      file: { type: "string" },
      only: { type: "string" },
      "isolate-on": { type: "string" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const { server, identity, device, reason, file } = values;
  const caseId = values.case;
  if (!server || !identity || !device || !caseId || !reason || !file) fail(USAGE, 2);
  const isolateOn = values["isolate-on"]?.split(",");
  if (isolateOn?.some((v) => !VERDICTS.includes(v as Verdict)))
    fail(`--isolate-on takes verdicts among ${VERDICTS.join(", ")}`, 2);
  const result = await runPlaybook({
    server,
    identityPem: readFileSync(identity, "utf8"),
    ...(values.ca === undefined ? {} : { caPem: readFileSync(values.ca, "utf8") }),
    deviceId: device,
    caseId,
    reason,
    suspiciousPath: file,
    ...(values.only === undefined ? {} : { only: values.only.split(",") }),
    ...(isolateOn === undefined ? {} : { isolateOn: isolateOn as Verdict[] }),
    onCommand: (command) => {
      if (!values.json) process.stderr.write(`${command.id}  ${command.status.padEnd(9)}  ${command.line}\n`);
    },
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = [
    `session ${result.sessionId} on ${device}, case ${caseId}`,
    `verdict: ${result.verdict}`,
    ...result.reasons.map((reason) => `  - ${reason}`),
    `isolation: ${result.isolation.why}`,
    "evidence:",
    ...result.evidence.map((e) => `  ${e.what}: item ${e.itemId} (report: ${e.report})`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof PlaybookStepError) fail(error.message, 1);
  const code = (error as { code?: unknown }).code;
  fail(`${typeof code === "string" ? `${code}: ` : ""}${(error as Error).message}`, 1);
});
