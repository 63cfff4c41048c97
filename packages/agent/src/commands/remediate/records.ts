import { constants } from "node:fs";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import { z } from "zod";
import { type RemediationStep, remediationStepSchema } from "../../schemas.js";

/**
 * The device's own record of each remediation it carried out (`<agent dir>/remediations/ID.json`, 0600):
 * undo restores only what this device itself removed, whatever the server sends.
 */
const recordSchema = z.strictObject({
  id: z.string(),
  type: z.string(),
  target: z.string(),
  steps: z.array(remediationStepSchema),
  undone: z.boolean(),
});

export type RemediationRecord = z.infer<typeof recordSchema>;

function recordPath(agentDir: string, id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id) || id.includes(".."))
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${id} is not a remediation id`);
  return join(agentDir, "remediations", `${id}.json`);
}

export async function saveRecord(agentDir: string, record: RemediationRecord): Promise<void> {
  await mkdir(join(agentDir, "remediations"), { recursive: true, mode: 0o700 });
  const path = recordPath(agentDir, record.id);
  const temp = `${path}.tmp`;
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await handle.writeFile(JSON.stringify(record));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export async function loadRecord(agentDir: string, id: string): Promise<RemediationRecord> {
  let text: string;
  try {
    text = await readFile(recordPath(agentDir, id), "utf8");
  } catch (cause) {
    if ((cause as { code?: string }).code === "ENOENT")
      throw new CustodyError("ERR_REMEDIATION_REFUSED", `this device has no record of remediation ${id}`, {
        details: { id },
      });
    throw toCustodyError(cause, "ERR_IO", `cannot read the record of remediation ${id}`);
  }
  return recordSchema.parse(JSON.parse(text));
}

export type { RemediationStep };
