import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ALERT_CONFIG_FORMAT,
  createAlertEngine,
  createConfiguredSinks,
  DEFAULT_RULES,
  loadAlertConfig,
  MAX_CONFIG_BYTES,
} from "@custody/alerts";
import { isCustodyError, silentLogger } from "@custody/core";
import { afterAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-alerts-config-"));
const secret = join(work, "webhook.secret");
writeFileSync(secret, `${"s".repeat(40)}\n`, { mode: 0o600 });
const notPem = join(work, "ca.txt");
writeFileSync(notPem, "not a certificate");

afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function configFile(content: unknown): string {
  counter += 1;
  const file = join(work, `alerts-${counter}.json`);
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : String(error);
}

const format = ALERT_CONFIG_FORMAT;
const rule = (extra: Record<string, unknown>) => ({
  id: "mine",
  kind: "match",
  severity: "low",
  description: "mine",
  when: [{ action: ["evidence.read"] }],
  ...extra,
});
const webhook = (extra: Record<string, unknown>) => ({
  format,
  sinks: { webhook: { url: "https://siem.example/hook", secretFile: "webhook.secret", ...extra } },
});

describe("loadAlertConfig refuses a hostile or broken file, with a stable code", () => {
  const cases: [string, unknown, string][] = [
    ["not JSON", "{ format: nope", "ERR_INVALID_ARGUMENT"],
    ["JSON that is not an object", "[]", "ERR_INVALID_ARGUMENT"],
    ["another format version", { format: "custody.alerts/v2" }, "ERR_UNSUPPORTED_VERSION"],
    ["no format", { rules: [] }, "ERR_INVALID_ARGUMENT"],
    ["an unknown field", { format, extra: true }, "ERR_INVALID_ARGUMENT"],
    ["an unknown rule kind", { format, rules: [rule({ kind: "regex" })] }, "ERR_INVALID_ARGUMENT"],
    ["two '*'", { format, rules: [rule({ when: [{ action: ["evidence**"] }] })] }, "ERR_INVALID_ARGUMENT"],
    [
      "a '*' in the middle",
      { format, rules: [rule({ when: [{ action: ["evidence.*.x"] }] })] },
      "ERR_INVALID_ARGUMENT",
    ],
    ["a bare '*'", { format, rules: [rule({ when: [{ actor: ["*"] }] })] }, "ERR_INVALID_ARGUMENT"],
    ["an empty matcher", { format, rules: [rule({ when: [{}] })] }, "ERR_INVALID_ARGUMENT"],
    ["no matcher", { format, rules: [rule({ when: [] })] }, "ERR_INVALID_ARGUMENT"],
    [
      "a prototype path",
      { format, rules: [rule({ when: [{ details: { "__proto__.x": 1 } }] })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a constructor path",
      { format, rules: [rule({ when: [{ details: { "a.constructor": 1 } }] })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "an object as a detail value",
      { format, rules: [rule({ when: [{ details: { a: {} } }] })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a bad reason code",
      { format, rules: [rule({ when: [{ reasonCode: ["integrity"] }] })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "an id that is not a syslog MSGID",
      { format, rules: [rule({ id: "Mine Rule" })] },
      "ERR_INVALID_ARGUMENT",
    ],
    ["an id of 33 characters", { format, rules: [rule({ id: "a".repeat(33) })] }, "ERR_INVALID_ARGUMENT"],
    ["an unknown severity", { format, rules: [rule({ severity: "urgent" })] }, "ERR_INVALID_ARGUMENT"],
    [
      "a burst of one",
      { format, rules: [rule({ kind: "burst", threshold: 1, windowMs: 60_000 })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a burst window of 0",
      { format, rules: [rule({ kind: "burst", threshold: 3, windowMs: 0 })] },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a burst that tracks a million actors",
      { format, rules: [rule({ kind: "burst", threshold: 3, windowMs: 60_000, maxActors: 1_000_000 })] },
      "ERR_INVALID_ARGUMENT",
    ],
    ["two rules with one id", { format, rules: [rule({}), rule({})] }, "ERR_INVALID_ARGUMENT"],
    ["disabling a rule that does not exist", { format, disable: ["denial-bursts"] }, "ERR_INVALID_ARGUMENT"],
    [
      "201 rules",
      { format, rules: Array.from({ length: 201 }, (_, i) => rule({ id: `r${i}` })) },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a plain http webhook to another host",
      webhook({ url: "http://siem.example/hook" }),
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a webhook URL with credentials",
      webhook({ url: "https://u:p@siem.example/hook" }),
      "ERR_INVALID_ARGUMENT",
    ],
    ["a webhook to a file URL", webhook({ url: "file:///etc/passwd" }), "ERR_INVALID_ARGUMENT"],
    ["a zero timeout", webhook({ timeoutMs: 0 }), "ERR_INVALID_ARGUMENT"],
    ["an unbounded queue", webhook({ maxQueue: 10_000_000 }), "ERR_INVALID_ARGUMENT"],
    ["a missing secret file", webhook({ secretFile: "absent.secret" }), "ERR_NOT_FOUND"],
    ["a CA file that is not PEM", webhook({ caFile: "ca.txt" }), "ERR_MALFORMED_CERTIFICATE"],
    [
      "a syslog client certificate without its key",
      { format, sinks: { syslog: { host: "127.0.0.1", port: 6514, transport: "tls", certFile: "ca.txt" } } },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a syslog port out of range",
      { format, sinks: { syslog: { host: "127.0.0.1", port: 70_000, transport: "tcp" } } },
      "ERR_INVALID_ARGUMENT",
    ],
    [
      "a syslog transport that is not tcp or tls",
      { format, sinks: { syslog: { host: "127.0.0.1", port: 514, transport: "udp" } } },
      "ERR_INVALID_ARGUMENT",
    ],
  ];

  it.each(cases)("%s", async (_name, content, code) => {
    expect(await codeOf(loadAlertConfig(configFile(content)))).toBe(code);
  });

  it("a missing file, a folder, an oversize file", async () => {
    expect(await codeOf(loadAlertConfig(join(work, "absent.json")))).toBe("ERR_NOT_FOUND");
    const folder = join(work, "folder.json");
    mkdirSync(folder);
    expect(await codeOf(loadAlertConfig(folder))).toBe("ERR_INVALID_ARGUMENT");
    const big = configFile(JSON.stringify({ format, pad: "x".repeat(MAX_CONFIG_BYTES) }));
    expect(await codeOf(loadAlertConfig(big))).toBe("ERR_SIZE_LIMIT");
  });

  it("a short secret, and a secret others can read", async () => {
    writeFileSync(join(work, "short.secret"), "too short", { mode: 0o600 });
    expect(await codeOf(loadAlertConfig(configFile(webhook({ secretFile: "short.secret" }))))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    const open = join(work, "open.secret");
    writeFileSync(open, "s".repeat(40));
    chmodSync(open, 0o644);
    const expected = process.platform === "win32" ? undefined : "ERR_PERMISSION";
    expect(await codeOf(loadAlertConfig(configFile(webhook({ secretFile: "open.secret" }))))).toBe(expected);
  });

  it("refuses bad rules given in code too", () => {
    expect(() =>
      createAlertEngine({ sinks: [], rules: [rule({ when: [{ action: ["a(b+)+"] }] })] }),
    ).not.toThrow();
    expect(() => createAlertEngine({ sinks: [], rules: [rule({ id: "" })] })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    expect(() => createAlertEngine({ sinks: [], rules: [rule({}), rule({})] })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
  });
});

describe("loadAlertConfig", () => {
  it("starts from the defaults, replaces one by id, disables one, adds one, and reads the sink files", async () => {
    const file = configFile({
      format,
      disable: ["evidence-purged"],
      rules: [
        { ...DEFAULT_RULES[0], threshold: 3 },
        rule({ when: [{ action: ["evidence.read"], actor: ["contractor-*"] }] }),
      ],
      sinks: { log: false, webhook: { url: "http://127.0.0.1:9/hook", secretFile: "webhook.secret" } },
    });
    const config = await loadAlertConfig(file);
    const ids = config.rules.map((r) => r.id);
    expect(ids).toEqual([...DEFAULT_RULES.map((r) => r.id).filter((id) => id !== "evidence-purged"), "mine"]);
    expect(config.rules[0]).toMatchObject({ id: "denial-burst", threshold: 3, maxActors: 10_000 });
    expect(config.sinks.webhook).toMatchObject({ secret: "s".repeat(40), maxAttempts: 8, timeoutMs: 10_000 });
    const sinks = createConfiguredSinks(config, { logger: silentLogger });
    expect(sinks.map((s) => s.name)).toEqual(["webhook"]);
    await Promise.all(sinks.map((s) => s.close()));
  });

  it("runs no default rule when asked, and the pino sink by default", async () => {
    const config = await loadAlertConfig(configFile({ format, defaults: false, rules: [rule({})] }));
    expect(config.rules.map((r) => r.id)).toEqual(["mine"]);
    expect(createConfiguredSinks(config, { logger: silentLogger }).map((s) => s.name)).toEqual(["log"]);
  });
});
