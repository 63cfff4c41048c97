import { once } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { silentLogger } from "@custody/core";
import { z } from "zod";
import { type Alert, severityRank } from "./alert.js";
import { deliverySchema, parseOptions, type SinkRuntime, timeoutMsSchema } from "./options.js";
import type { AlertSink } from "./sink.js";
import { formatSyslogMessage, frameSyslogMessage } from "./syslog-format.js";
import { type AttemptResult, DeliveryWorker } from "./worker.js";

export const syslogOptionsSchema = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65_535),
  /** `tls` is RFC 5425 (syslog over TLS, port 6514 by convention); `tcp` is plain RFC 6587. */
  transport: z.enum(["tcp", "tls"]),
  /** TLS: the name the receiver's certificate must carry (the host by default). */
  servername: z.string().min(1).max(253).optional(),
  facility: z.number().int().min(0).max(23).default(13),
  hostname: z.string().min(1).max(255).optional(),
  connectTimeoutMs: timeoutMsSchema.default(10_000),
  ...deliverySchema,
});

export type SyslogSinkOptions = z.input<typeof syslogOptionsSchema> &
  SinkRuntime & {
    /** TLS: PEM CA certificate(s) for the receiver (the system's otherwise). */
    ca?: string | string[];
    /** TLS: a client certificate and key, for receivers that require mutual TLS. */
    cert?: string;
    key?: string;
  };

interface Frame {
  frame: Buffer;
  rank: number;
}

/**
 * Sends each alert as one RFC 5424 message, octet-counted (RFC 6587) over one long-lived TCP or TLS
 * connection, made on first use and remade with back-off after it breaks.
 */
export function createSyslogSink(options: SyslogSinkOptions): AlertSink {
  const { ca, cert, key, logger = silentLogger, random = Math.random, ...rest } = options;
  const settings = parseOptions(syslogOptionsSchema, rest, "syslog sink options");
  const header = {
    facility: settings.facility,
    hostname: settings.hostname ?? osHostname(),
    procId: String(process.pid),
  };
  let socket: Socket | undefined;

  const open = async (signal: AbortSignal): Promise<Socket> => {
    const tls = { ca, cert, key, servername: settings.servername ?? settings.host };
    const next =
      settings.transport === "tls"
        ? tlsConnect({ host: settings.host, port: settings.port, ...definedOnly(tls) })
        : netConnect({ host: settings.host, port: settings.port });
    next.setTimeout(settings.connectTimeoutMs, () => next.destroy(new Error("syslog connect timed out")));
    next.on("error", () => {}); // reported through `once` below or the next write
    next.once("close", () => {
      if (socket === next) socket = undefined;
    });
    await once(next, settings.transport === "tls" ? "secureConnect" : "connect", { signal }).catch(
      (error) => {
        next.destroy();
        throw error;
      },
    );
    next.setTimeout(0);
    return next;
  };

  const write = async ({ frame }: Frame, signal: AbortSignal): Promise<AttemptResult> => {
    try {
      socket ??= await open(signal);
      const current = socket;
      await new Promise<void>((resolve, reject) =>
        current.write(frame, (error) => (error ? reject(error) : resolve())),
      );
      return { kind: "delivered" };
    } catch (error) {
      socket?.destroy();
      socket = undefined;
      return { kind: "retry", error: error instanceof Error ? error.message : String(error) };
    }
  };

  const worker = new DeliveryWorker<Frame>({
    ...settings,
    name: `syslog ${settings.host}:${settings.port}`,
    logger,
    random,
    rank: (frame) => frame.rank,
    attempt: write,
  });
  return {
    name: "syslog",
    send: (alert: Alert) =>
      worker.enqueue({
        frame: frameSyslogMessage(formatSyslogMessage(alert, header)),
        rank: severityRank(alert.severity),
      }),
    flush: () => worker.flush(),
    async close(closeOptions) {
      await worker.close(closeOptions?.timeoutMs ?? 5_000);
      socket?.end();
      socket = undefined;
    },
    stats: () => worker.stats(),
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
