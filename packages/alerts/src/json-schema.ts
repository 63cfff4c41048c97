import { z } from "zod";
import { alertSchema } from "./alert-schema.js";
import { alertConfigSchema } from "./config.js";

const DESCRIPTIONS = {
  "custody-alerts-v1": [
    alertConfigSchema,
    "custody.alerts/v1: alerts.json, the alert rules (starting from the defaults unless defaults is false; " +
      "a rule with a default's id replaces it; disable removes rules by id) and the sinks. Files are relative " +
      "to the config file's folder.",
  ],
  "custody-alert-v1": [
    alertSchema,
    "custody.alert/v1: one alert, the webhook's JSON body. record points into the signed audit log by seq and hash.",
  ],
} as const;

/** JSON Schemas (draft 2020-12) of the alert formats, keyed by file name stem, for docs/schemas/. */
export function alertJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, [schema, description]] of Object.entries(DESCRIPTIONS)) {
    out[name] = {
      $id: `https://custody.invalid/schemas/${name}.json`,
      title: name,
      description,
      // What a file may say: fields with defaults are optional.
      ...z.toJSONSchema(schema, { target: "draft-2020-12", io: "input" }),
    };
  }
  return out;
}
