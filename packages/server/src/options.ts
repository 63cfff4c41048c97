import type { Clock } from "@custody/core";
import type { Vault } from "@custody/vault";
import type { Logger } from "pino";
import type { ActionQueueLimits } from "./live/actions/index.js";
import type { AgentTimeouts } from "./live/agent-hub.js";
import type { EnrollLimits } from "./live/enroll.js";
import type { LiveLimits } from "./live/sessions/index.js";

/** What the server refuses to wait for or hold; each refusal is answered with its problem code. */
export interface ServerLimits {
  /** Largest upload, in bytes (413 ERR_SIZE_LIMIT past it). */
  maxUploadBytes: number;
  /** Uploads in progress at once (503 ERR_SERVER_BUSY past it). */
  maxConcurrentUploads: number;
  /** An upload slower than this over one window is cut (slow-body clients hold a spool and a slot). */
  uploadMinBytesPerWindow: number;
  uploadRateWindowMs: number;
  /** Time from the first byte of a request to its body read, on every route but the upload. */
  requestBodyTimeoutMs: number;
  headersTimeoutMs: number;
  handshakeTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** An open socket with no traffic at all is closed after this long. */
  idleSocketTimeoutMs: number;
  /** Connections open at once; more are closed before TLS. */
  maxConnections: number;
  /** Requests per second per identity (certificate fingerprint), and the burst it may save up. */
  requestsPerSecond: number;
  requestBurst: number;
  /** How long a graceful shutdown waits for requests in flight. */
  drainTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxUploadBytes: 64 * 1024 ** 3,
  maxConcurrentUploads: 8,
  uploadMinBytesPerWindow: 64 * 1024,
  uploadRateWindowMs: 30_000,
  requestBodyTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  keepAliveTimeoutMs: 10_000,
  idleSocketTimeoutMs: 120_000,
  maxConnections: 2_000,
  requestsPerSecond: 500,
  requestBurst: 1_000,
  drainTimeoutMs: 30_000,
};

export interface ServerOptions {
  vault: Vault;
  /** 127.0.0.1:8443 by default; port 0 picks a free port. */
  host?: string;
  port?: number;
  /** Names the server certificate carries (default: the host name, localhost, 127.0.0.1). */
  names?: readonly string[];
  /** CIDR ranges allowed to connect; others are closed before TLS. Everyone when empty. */
  allow?: readonly string[];
  limits?: Partial<ServerLimits>;
  logger?: Logger;
  /** The vault's clock: CRL validity is judged by it. */
  clock?: Clock;
  /** How often the CRL is checked for a change or an approaching expiry. */
  crlCheckIntervalMs?: number;
  /** The CRL is signed again when it expires within this long. */
  crlRefreshBeforeMs?: number;
  /** Write `<vault>/server.json` while serving (default true). */
  writeServerFile?: boolean;
  /** Close the vault when the server closes (default true). */
  closeVaultOnClose?: boolean;
  /** Enrollment attempts allowed per address and in total (`POST /v1/enroll`). */
  enrollLimits?: Partial<EnrollLimits>;
  /** Live-response session limits (10 sessions, 1 per person, 1 per device, idle 30 min, getfile 750 MiB). */
  liveLimits?: Partial<LiveLimits>;
  /** The action queue: how long actions wait for their device (3 days by default, 30 at most). */
  actionLimits?: Partial<ActionQueueLimits>;
  /** Agent liveness: ping every `pingIntervalMs` (20 s), cut after `pongTimeoutMs` (10 s) without a pong. */
  agentTimeouts?: Partial<AgentTimeouts>;
}
