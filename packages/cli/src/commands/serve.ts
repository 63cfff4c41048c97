import {
  type AlertEngine,
  createAlertEngine,
  createConfiguredSinks,
  createLogSink,
  loadAlertConfig,
} from "@custody/alerts";
import { CustodyError, type Logger } from "@custody/core";
import { defaultServerNames, startServer } from "@custody/server";
import { readVaultConfig, Vault } from "@custody/vault";
import { pino } from "pino";
import { configuredStore } from "../azure-store.js";
import type { CommandContext, CommandSpec } from "../command.js";
import { EXIT } from "../exit-codes.js";
import { vaultDir } from "../vault-context.js";

/** `HOST:PORT`, `[v6]:PORT` or `:PORT`. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) {
    throw new CustodyError("ERR_USAGE", `--listen takes HOST:PORT (e.g. 127.0.0.1:8443), not '${text}'`);
  }
  return { host: match[1] ?? (match[2] === "" ? "0.0.0.0" : (match[2] ?? "127.0.0.1")), port };
}

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(signal);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

/**
 * The alert engine that watches every record the served vault appends: the rules and sinks of
 * `--alerts FILE` (custody.alerts/v1), or the default rules into the server's log.
 */
async function alertEngine(file: string | undefined, logger: Logger): Promise<AlertEngine> {
  if (file === undefined) return createAlertEngine({ sinks: [createLogSink(logger)], logger });
  const config = await loadAlertConfig(file);
  return createAlertEngine({ rules: config.rules, sinks: createConfiguredSinks(config, { logger }), logger });
}

/** The vault the server holds, with the alert engine observing each record once it is durable. */
async function openServedVault(ctx: CommandContext, dir: string, alerts: AlertEngine): Promise<Vault> {
  const store = await configuredStore((await readVaultConfig(dir)).store, ctx.env, { logger: ctx.logger });
  return Vault.open({
    dir,
    logger: ctx.logger,
    onAuditRecord: (record) => alerts.observe(record),
    // A lone request's record is written in the event loop while the disk syncs in under a millisecond;
    // concurrent requests' records go together through the thread pool.
    blockingAuditWrites: "when-alone",
    ...(store === undefined ? {} : { store }),
  });
}

export const serveCommand: CommandSpec = {
  path: ["serve"],
  summary: "serve the vault over HTTPS with mutual TLS until SIGTERM or SIGINT",
  usage: `[--vault DIR] [--listen HOST:PORT] [--allow CIDR]... [--name NAME]... [--alerts FILE]
The server holds the vault (its audit lock) and serves every vault operation at /v1 to callers whose
client certificate is a vault identity (\`custody --server https://HOST:PORT --identity FILE ...\`).
--listen      where to listen (default 127.0.0.1:8443)
--allow       a CIDR range allowed to connect (repeatable); others are closed before TLS; default: all
--name        a DNS name or IP address for the server certificate (repeatable); default: the host name,
              localhost and 127.0.0.1. The certificate is issued by the vault CA on first serve (recorded)
--alerts      alert rules and sinks (webhook, syslog, log) for every audit record, custody.alerts/v1
              (see packages/alerts); default: the default rules, alerts as warn lines in the log
While it runs, <vault>/server.json says where; SIGTERM or SIGINT drains requests, closes the audit log
with a signed checkpoint and removes it. Logs are pino JSON lines on stdout (level: $CUSTODY_LOG_LEVEL,
default info). See docs/server.md.`,
  options: {
    vault: { type: "string" },
    listen: { type: "string" },
    allow: { type: "string", multiple: true },
    name: { type: "string", multiple: true },
    alerts: { type: "string" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx: CommandContext): Promise<number> {
    const dir = vaultDir(ctx);
    const { host, port } = parseListen(ctx.string("listen") ?? "127.0.0.1:8443");
    const logger = pino(
      { level: ctx.env.CUSTODY_LOG_LEVEL ?? "info", base: { name: "custody-server" } },
      ctx.stdout,
    );
    const alerts = await alertEngine(ctx.string("alerts"), logger);
    const vault = await openServedVault(ctx, dir, alerts).catch(async (error: unknown) => {
      await alerts.close({ timeoutMs: 1_000 });
      throw error;
    });
    const names = ctx.strings("name");
    const server = await startServer({
      vault,
      host,
      port,
      names: names.length === 0 ? defaultServerNames() : names,
      allow: ctx.strings("allow"),
      logger,
    }).catch(async (error: unknown) => {
      await vault.close();
      await alerts.close({ timeoutMs: 1_000 });
      throw error;
    });
    ctx.err(
      `custody server listening on ${server.urls.join(", ")} (vault ${vault.vaultId}); stop with SIGTERM or Ctrl+C`,
    );
    const signal = await stopSignal();
    ctx.err(`${signal}: draining requests, closing the vault`);
    await server.close();
    // after the vault closed: the alerts of its last records are delivered (or counted as dropped)
    await alerts.close({ timeoutMs: 5_000 });
    return EXIT.ok;
  },
};
