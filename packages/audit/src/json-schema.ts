import { z } from "zod";
import { checkpointSchema } from "./checkpoint.js";
import { consistencyBundleSchema, inclusionBundleSchema } from "./proofs.js";
import { auditRecordSchema } from "./record.js";

const DESCRIPTIONS = {
  "custody-audit-record": [
    auditRecordSchema,
    "One line of audit.log, RFC 8785 canonical JSON. hash = sha256(canonical(record without hash and seal)); " +
      "prev = the previous record's hash (64 zeros for seq 0); details is a JSON object of at most 64 KiB " +
      "canonical; seal (optional) = HMAC-SHA256(the vault's seal key, hex-decode(hash)); " +
      "Merkle leaf = sha256(0x00 || hex-decode(hash)).",
  ],
  "custody-audit-checkpoint-v1": [
    checkpointSchema,
    "custody.audit.checkpoint/v1, RFC 8785 canonical JSON with a detached CMS signature (.p7s) over its bytes; " +
      "rootHash = RFC 9162 root over the first treeSize record leaves; prevCheckpoint = sha256 of the previous " +
      "checkpoint's bytes.",
  ],
  "custody-audit-inclusion-v1": [
    inclusionBundleSchema,
    "custody.audit.inclusion/v1: a record, its RFC 9162 audit path (hex) and the signed checkpoint (signature base64).",
  ],
  "custody-audit-consistency-v1": [
    consistencyBundleSchema,
    "custody.audit.consistency/v1: two signed checkpoints and the RFC 9162 consistency proof between them.",
  ],
} as const;

/** JSON Schemas (draft 2020-12) of the audit formats, keyed by file name stem, for docs/schemas/. */
export function auditJsonSchemas(): Record<string, Record<string, unknown>> {
  return toJsonSchemas(DESCRIPTIONS);
}

/** Each zod schema as a published JSON Schema with its id, title and description. */
export function toJsonSchemas(
  descriptions: Readonly<Record<string, readonly [z.ZodType, string]>>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, [schema, description]] of Object.entries(descriptions)) {
    out[name] = {
      $id: `https://custody.invalid/schemas/${name}.json`,
      title: name,
      description,
      // audit record details are checked by code (canonical size); in JSON Schema they are an object.
      ...z.toJSONSchema(schema, {
        target: "draft-2020-12",
        unrepresentable: "any",
        override: (ctx) => {
          if (ctx.zodSchema._zod.def.type === "custom") ctx.jsonSchema.type = "object";
        },
      }),
    };
  }
  return out;
}
