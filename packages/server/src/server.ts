import { X509Certificate } from "node:crypto";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import { systemClock, toCustodyError } from "@custody/core";
import pino, { type Logger } from "pino";
import { AllowList } from "./allow-list.js";
import { type App, buildApp } from "./app.js";
import type { DeviceHub } from "./live/hub.js";
import { DEFAULT_LIMITS, type ServerLimits, type ServerOptions } from "./options.js";
import { RefusalRecorder } from "./refusals.js";
import { removeServerFile, writeServerFile } from "./server-file.js";
import { CrlKeeper, initialCrl, refuseUnauthorized, tlsOptions } from "./tls.js";

const DAY_MS = 86_400_000;

/** A running server: its URLs, and the calls an operator (or a test) makes on it. */
export interface CustodyServer {
  readonly urls: string[];
  readonly port: number;
  readonly limits: ServerLimits;
  /** The agents connected to this server (live-response sessions work through it). */
  readonly hub: DeviceHub;
  /** Checks the CRL now (picks up a changed one, signs it again when it nears expiry). */
  refreshCrl(): Promise<{ nextUpdate: Date | undefined }>;
  /** Graceful shutdown: stop accepting, drain, close the vault (a signed checkpoint), remove server.json. */
  close(): Promise<void>;
}

export function defaultServerNames(): string[] {
  return [...new Set([hostname(), "localhost", "127.0.0.1"])];
}

/** Serves a vault over HTTPS with mutual TLS until `close`. */
export async function startServer(options: ServerOptions): Promise<CustodyServer> {
  const { vault } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const logger = options.logger ?? pino({ level: "silent" });
  const clock = options.clock ?? systemClock;
  const allow = new AllowList(options.allow ?? []);
  const certificate = await vault.serverCertificate(options.names ?? defaultServerNames());
  const refreshBeforeMs = options.crlRefreshBeforeMs ?? 7 * DAY_MS;
  const crl = await initialCrl(vault, clock, refreshBeforeMs);
  const caPem = vault.trustAnchors[0] ?? "";
  let ready = true;
  let keeper: CrlKeeper | undefined;
  const refusals = new RefusalRecorder(vault, logger);
  let built: App | undefined;
  built = await buildApp({
    vault,
    tls: tlsOptions(certificate, caPem, crl.crlPem, limits.handshakeTimeoutMs),
    limits,
    logger,
    refusals,
    isReady: () => ready,
    clock,
    ...(options.enrollLimits === undefined ? {} : { enrollLimits: options.enrollLimits }),
    ...(options.liveLimits === undefined ? {} : { liveLimits: options.liveLimits }),
    ...(options.actionLimits === undefined ? {} : { actionLimits: options.actionLimits }),
    ...(options.agentTimeouts === undefined ? {} : { agentTimeouts: options.agentTimeouts }),
    onRevocation: () => {
      built?.hub.recheck();
      void keeper?.refresh().catch((error: unknown) => logger.error({ err: error }, "CRL refresh failed"));
    },
  });
  keeper = new CrlKeeper(
    { vault, server: built.https, certificate, clock, refreshBeforeMs, logger },
    crl.crlPem,
  );
  built.https.on("tlsClientError", (error: Error & { code?: string }, socket) =>
    refusals.tlsRefused(error.code ?? error.message, socket.remoteAddress),
  );
  refuseUnauthorized(built.https, (reason, address) => refusals.tlsRefused(reason, address));
  gate(built.https, allow, limits, logger);
  const port = await listen(built.https, options.host ?? "127.0.0.1", options.port ?? 8443).catch(
    async (error: unknown) => {
      await built.app.close();
      throw error;
    },
  );
  const urls = serverUrls(options.host ?? "127.0.0.1", port);
  const timer = setInterval(() => {
    keeper?.refresh().catch((error: unknown) => logger.error({ err: error }, "CRL refresh failed"));
  }, options.crlCheckIntervalMs ?? 3_600_000);
  timer.unref();
  if (options.writeServerFile !== false) {
    const caFingerprintSha256 = new X509Certificate(caPem).fingerprint256.replaceAll(":", "").toLowerCase();
    await writeServerFile(vault.dir, {
      pid: process.pid,
      urls,
      caFingerprintSha256,
      startedAt: clock.now().toISOString(),
    });
  }
  logger.info(
    { urls, serverCertificate: certificate.fingerprintSha256, issued: certificate.issued },
    "custody server listening",
  );
  let closing: Promise<void> | undefined;
  return {
    urls,
    port,
    limits,
    hub: built.hub,
    refreshCrl: async () => ({ nextUpdate: (await (keeper as CrlKeeper).refresh()).nextUpdate }),
    close: () => {
      ready = false;
      closing ??= shutdown({ options, built, timer, limits, logger });
      return closing;
    },
  };
}

/**
 * Connections from outside the allow-list are closed on the raw `connection` event, before any TLS byte
 * is read or written; past `maxConnections` Node closes them too.
 */
function gate(https: HttpsServer, allow: AllowList, limits: ServerLimits, logger: Logger): void {
  https.prependListener("connection", (socket: Socket) => {
    if (allow.allows(socket.remoteAddress)) return;
    logger.warn({ clientAddress: socket.remoteAddress }, "connection from outside the allow-list closed");
    socket.destroy();
  });
  https.maxConnections = limits.maxConnections;
}

function listen(https: HttpsServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) =>
      reject(toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", `cannot listen on ${host}:${port}`));
    https.once("error", failed);
    https.listen({ host, port }, () => {
      https.off("error", failed);
      const address = https.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

function serverUrls(host: string, port: number): string[] {
  const shown = host.includes(":") ? `[${host}]` : host;
  return [`https://${shown}:${port}`];
}

interface Shutdown {
  options: ServerOptions;
  built: App;
  timer: NodeJS.Timeout;
  limits: ServerLimits;
  logger: Logger;
}

async function shutdown({ options, built, timer, limits, logger }: Shutdown): Promise<void> {
  clearInterval(timer);
  logger.info("shutting down: no new connections, draining requests in flight");
  // agent sockets are upgraded connections: the HTTP server would wait for them forever
  built.hub.close();
  // close() stops accepting and resolves once every connection has ended; a connection whose request
  // has just been answered becomes idle and is closed here rather than kept alive
  const stopped = new Promise<boolean>((resolve) => built.https.close(() => resolve(true)));
  const sweeper = setInterval(() => built.https.closeIdleConnections(), 50);
  const drained = await Promise.race([
    stopped,
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), limits.drainTimeoutMs).unref()),
  ]);
  clearInterval(sweeper);
  if (!drained) {
    logger.warn("requests still running after the drain timeout: closing their connections");
    built.https.closeAllConnections();
    await stopped;
  }
  await built.app.close();
  if (options.closeVaultOnClose !== false) await options.vault.close();
  if (options.writeServerFile !== false) await removeServerFile(options.vault.dir);
  logger.info("custody server stopped");
}
