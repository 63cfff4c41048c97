import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Clock, CustodyError, type Logger, toCustodyError } from "@custody/core";
import { z } from "zod";
import { DEFAULT_RULES } from "./default-rules.js";
import { createLogSink } from "./log-sink.js";
import { parseOptions } from "./options.js";
import { type AlertRule, alertRuleSchema, ruleIdSchema } from "./rule-schema.js";
import { assertWebhookSecret } from "./signature.js";
import type { AlertSink } from "./sink.js";
import { createSyslogSink, type SyslogSinkOptions, syslogOptionsSchema } from "./syslog.js";
import { createWebhookSink, type WebhookSinkOptions, webhookOptionsSchema } from "./webhook.js";

export const ALERT_CONFIG_FORMAT = "custody.alerts/v1";
/** A config file is small; a bigger one is refused before it is parsed. */
export const MAX_CONFIG_BYTES = 256 * 1024;
const MAX_PEM_BYTES = 256 * 1024;

const fileSchema = z.string().min(1).max(4096);

/** `alerts.json`. Files it names are relative to the config file's folder. */
export const alertConfigSchema = z.strictObject({
  format: z.literal(ALERT_CONFIG_FORMAT),
  /** Start from DEFAULT_RULES (a rule below with a default's id replaces it). */
  defaults: z.boolean().default(true),
  disable: z.array(ruleIdSchema).max(100).default([]),
  rules: z.array(alertRuleSchema).max(200).default([]),
  sinks: z
    .strictObject({
      log: z.boolean().default(true),
      webhook: webhookOptionsSchema
        .extend({ secretFile: fileSchema, caFile: fileSchema.optional() })
        .optional(),
      syslog: syslogOptionsSchema
        .extend({
          caFile: fileSchema.optional(),
          certFile: fileSchema.optional(),
          keyFile: fileSchema.optional(),
        })
        .optional(),
    })
    .default({ log: true }),
});

/** A loaded config: the rules to run and each sink's options, with its files read. */
export interface AlertConfig {
  rules: AlertRule[];
  sinks: {
    log: boolean;
    webhook?: Omit<WebhookSinkOptions, "logger" | "random" | "clock">;
    syslog?: Omit<SyslogSinkOptions, "logger" | "random">;
  };
}

/**
 * Reads and checks an `alerts.json`; refuses, with a stable code, anything it would not run exactly:
 * ERR_NOT_FOUND, ERR_SIZE_LIMIT, ERR_UNSUPPORTED_VERSION, ERR_INVALID_ARGUMENT (not JSON, a bad field,
 * a duplicate or unknown rule id, a short secret), ERR_PERMISSION (a secret others can read),
 * ERR_MALFORMED_CERTIFICATE (a CA file that is not PEM certificates).
 */
export async function loadAlertConfig(file: string): Promise<AlertConfig> {
  const text = await readSmallFile(file, MAX_CONFIG_BYTES, "the alert config");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} is not JSON`, { cause });
  }
  const format = (value as { format?: unknown } | null)?.format;
  if (typeof format === "string" && format !== ALERT_CONFIG_FORMAT) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_VERSION",
      `${file} is ${format}; this version reads ${ALERT_CONFIG_FORMAT}`,
    );
  }
  const config = parseOptions(alertConfigSchema, value, `alert config ${file}`);
  const base = dirname(resolve(file));
  return { rules: resolveRules(config), sinks: await resolveSinks(config.sinks, base) };
}

function resolveRules(config: z.output<typeof alertConfigSchema>): AlertRule[] {
  const own = new Map<string, AlertRule>();
  for (const rule of config.rules) {
    if (own.has(rule.id))
      throw new CustodyError("ERR_INVALID_ARGUMENT", `two rules have the id '${rule.id}'`);
    own.set(rule.id, rule);
  }
  const base = config.defaults ? DEFAULT_RULES : [];
  const known = new Set([...base.map((r) => r.id), ...own.keys()]);
  for (const id of config.disable) {
    // A typo here would silently leave a rule running: refuse it.
    if (!known.has(id)) throw new CustodyError("ERR_INVALID_ARGUMENT", `'disable' names no rule '${id}'`);
  }
  const disabled = new Set(config.disable);
  const merged = [
    ...base.map((rule) => own.get(rule.id) ?? rule),
    ...[...own.values()].filter((r) => !base.some((b) => b.id === r.id)),
  ];
  return merged.filter((rule) => !disabled.has(rule.id));
}

async function resolveSinks(
  sinks: z.output<typeof alertConfigSchema>["sinks"],
  base: string,
): Promise<AlertConfig["sinks"]> {
  const resolved: AlertConfig["sinks"] = { log: sinks.log };
  if (sinks.webhook !== undefined) {
    const { secretFile, caFile, ...webhook } = sinks.webhook;
    const secret = await readSecret(resolve(base, secretFile));
    assertWebhookSecret(secret);
    resolved.webhook = {
      ...webhook,
      secret,
      ...(caFile === undefined ? {} : { ca: await readCertificates(resolve(base, caFile)) }),
    };
  }
  if (sinks.syslog !== undefined) {
    const { caFile, certFile, keyFile, ...syslog } = sinks.syslog;
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "syslog certFile and keyFile go together");
    }
    resolved.syslog = {
      ...syslog,
      ...(caFile === undefined ? {} : { ca: await readCertificates(resolve(base, caFile)) }),
      ...(certFile === undefined ? {} : { cert: await readCertificates(resolve(base, certFile)) }),
      ...(keyFile === undefined
        ? {}
        : { key: await readSecretFile(resolve(base, keyFile), "the syslog client key") }),
    };
  }
  return resolved;
}

/** The sinks a loaded config names, ready for `createAlertEngine`. */
export function createConfiguredSinks(
  config: AlertConfig,
  runtime: { logger: Logger; clock?: Clock },
): AlertSink[] {
  const sinks: AlertSink[] = [];
  if (config.sinks.log) sinks.push(createLogSink(runtime.logger));
  const { webhook, syslog } = config.sinks;
  if (webhook !== undefined) {
    sinks.push(
      createWebhookSink({
        ...webhook,
        logger: runtime.logger,
        ...(runtime.clock === undefined ? {} : { clock: runtime.clock }),
      }),
    );
  }
  if (syslog !== undefined) sinks.push(createSyslogSink({ ...syslog, logger: runtime.logger }));
  return sinks;
}

async function readSmallFile(file: string, maxBytes: number, what: string): Promise<string> {
  try {
    const info = await stat(file);
    if (!info.isFile())
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${what} ${file} is not a regular file`);
    if (info.size > maxBytes) {
      throw new CustodyError("ERR_SIZE_LIMIT", `${what} ${file} is ${info.size} bytes; at most ${maxBytes}`);
    }
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${what} ${file}`);
  }
}

/** A key file others can read is refused, as ssh refuses one: whoever reads it can forge alerts. */
async function readSecretFile(file: string, what: string): Promise<string> {
  const info = await stat(file).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${what} ${file}`);
  });
  if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
    throw new CustodyError("ERR_PERMISSION", `${what} ${file} is readable by others: chmod 600 it`);
  }
  return readSmallFile(file, MAX_PEM_BYTES, what);
}

/** The secret is the file's text without surrounding whitespace (so `openssl dgst -hmac "$(cat file)"` agrees). */
async function readSecret(file: string): Promise<string> {
  return (await readSecretFile(file, "the webhook secret")).trim();
}

async function readCertificates(file: string): Promise<string> {
  const pem = await readSmallFile(file, MAX_PEM_BYTES, "the certificate file");
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error("no PEM certificate in the file");
    for (const block of blocks) new X509Certificate(block);
  } catch (cause) {
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", `${file} does not hold PEM certificates`, { cause });
  }
  return pem;
}
