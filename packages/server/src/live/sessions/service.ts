import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { scopeIdSchema } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { DeviceHub } from "../hub.js";
import { liveResponseOff } from "./authorize.js";
import { CommandRunner } from "./commands.js";
import { DEFAULT_LIVE_LIMITS, type LiveLimits } from "./limits.js";
import { type LiveSession, type SessionView, sessionView } from "./session.js";
import { buildTranscript } from "./transcript.js";

export interface LiveSessionsOptions {
  vault: Vault;
  hub: DeviceHub;
  /** The vault's live-response setting (off in a new vault until a custodian turns it on). */
  isLiveResponseOn(): Promise<boolean>;
  limits?: Partial<LiveLimits>;
}

/**
 * Live-response sessions on this server: opened within the limits (checked and reserved with no await
 * in between), closed by their owner, by idling, or at shutdown, each leaving its transcript in the case.
 */
export class LiveSessions {
  readonly limits: LiveLimits;
  readonly commands: CommandRunner;
  readonly #options: LiveSessionsOptions;
  readonly #open = new Map<string, LiveSession>();
  readonly #closed = new Map<string, LiveSession>();
  readonly #closing = new Map<string, Promise<SessionView>>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #recheck: NodeJS.Timeout;

  constructor(options: LiveSessionsOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_LIVE_LIMITS, ...options.limits };
    this.commands = new CommandRunner({
      vault: options.vault,
      hub: options.hub,
      limits: this.limits,
      isLiveResponseOn: options.isLiveResponseOn,
      isExpired: (session) => this.#isIdle(session),
      touch: (session) => {
        session.lastActivity = Date.now();
      },
    });
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(30_000, Math.max(50, this.limits.idleMs / 4)));
    this.#sweeper.unref();
    // a person revoked while holding a session is cut off within a second, running commands included
    this.#recheck = setInterval(() => this.#closeRevoked(), 1_000);
    this.#recheck.unref();
  }

  /**
   * Opens a session for `principal`. A queued action's session (`forAction`) is not counted against the
   * person's own limit: it runs while its analyst may be in another session.
   */
  async open(
    principal: AuthenticatedPrincipal,
    deviceId: string,
    caseId: string,
    options: { forAction?: string } = {},
  ): Promise<SessionView> {
    assertId(deviceId, "device");
    assertId(caseId, "case");
    const session: LiveSession = {
      id: `S-${randomUUID()}`,
      deviceId,
      caseId,
      principal,
      createdAt: new Date(),
      lastActivity: Date.now(),
      cwd: null,
      commands: [],
      fileinfo: new Map(),
      ...(options.forAction === undefined ? {} : { forAction: options.forAction }),
    };
    // Checked and reserved in one synchronous step: parallel opens cannot both pass a limit.
    const refusal =
      this.#limitRefusal(principal, deviceId, options.forAction !== undefined) ??
      this.#deviceRefusal(deviceId);
    if (refusal === undefined) this.#open.set(session.id, session);
    try {
      await this.#options.vault.decideLive(principal, {
        auditAction: "live.session-open",
        checks: [
          { action: "live.basic", resource: { kind: "device", deviceId } },
          { action: "live.basic", resource: { kind: "case", caseId } },
        ],
        target: `device:${deviceId}`,
        details: {
          sessionId: session.id,
          caseId,
          deviceId,
          ...(options.forAction === undefined ? {} : { actionId: options.forAction }),
        },
        ...(refusal === undefined ? await this.#settingRefusal() : { refusal }),
      });
    } catch (error) {
      this.#open.delete(session.id);
      throw error;
    }
    return sessionView(session, Date.now());
  }

  /** The caller's own session (open or closed); another's is not found, as if it did not exist. */
  get(principal: AuthenticatedPrincipal, sessionId: string): LiveSession {
    const session = this.#open.get(sessionId) ?? this.#closed.get(sessionId);
    if (session === undefined || session.principal.id !== principal.id) {
      throw new CustodyError("ERR_NOT_FOUND", `no session ${sessionId}`);
    }
    return session;
  }

  view(session: LiveSession): SessionView {
    return sessionView(session, Date.now());
  }

  /** Ends a session: its commands stopped, its transcript stored in the case, the close recorded. */
  close(session: LiveSession, reason: string): Promise<SessionView> {
    if (session.closedAt !== undefined && !this.#closing.has(session.id))
      return Promise.resolve(this.view(session));
    const known = this.#closing.get(session.id);
    if (known !== undefined) return known;
    const closing = this.#close(session, reason).finally(() => this.#closing.delete(session.id));
    this.#closing.set(session.id, closing);
    return closing;
  }

  async closeAll(reason: string): Promise<void> {
    clearInterval(this.#sweeper);
    clearInterval(this.#recheck);
    await Promise.allSettled([...this.#open.values()].map((session) => this.close(session, reason)));
  }

  async #close(session: LiveSession, reason: string): Promise<SessionView> {
    session.closeReason = reason;
    await this.commands.stopSession(session, `session ${reason}`);
    session.closedAt = new Date();
    this.#open.delete(session.id);
    this.#closed.set(session.id, session);
    this.#forgetOldClosed();
    try {
      this.#options.hub.send(session.deviceId, "close-session", { sessionId: session.id });
    } catch {
      // an offline device has nothing of the session running
    }
    const transcript = buildTranscript(session, this.commands.log(session), this.limits);
    this.commands.release(session);
    const stored = await this.#storeTranscript(session, transcript).catch((error: unknown) => ({ error }));
    if ("id" in stored) session.transcriptItemId = stored.id;
    const failure = "error" in stored ? String((stored.error as Error).message) : undefined;
    await this.#options.vault.recordLiveOutcome(session.principal, {
      action: "live.session-close",
      target: `device:${session.deviceId}`,
      outcome: failure === undefined ? "allow" : "error",
      reason:
        failure === undefined
          ? `session closed (${reason})`
          : `session closed (${reason}); transcript not stored: ${failure}`,
      details: {
        sessionId: session.id,
        caseId: session.caseId,
        reason,
        durationMs: session.closedAt.getTime() - session.createdAt.getTime(),
        commands: session.commands.length,
        transcriptSha256: transcript.sha256,
        ...(session.transcriptItemId === undefined ? {} : { transcriptItemId: session.transcriptItemId }),
      },
    });
    return this.view(session);
  }

  #storeTranscript(session: LiveSession, transcript: { bytes: Buffer; sha256: string }) {
    return this.#options.vault.ingestLiveFile(session.principal, Readable.from([transcript.bytes]), {
      caseId: session.caseId,
      name: `live-session-${session.id}.jsonl`,
      expectedSha256: transcript.sha256,
      expectedSize: transcript.bytes.length,
      deviceId: session.deviceId,
      source: `live-response session ${session.id} on ${session.deviceId}`,
      labels: {
        source: "live-response",
        kind: "transcript",
        session: session.id,
        device: session.deviceId,
        analyst: session.principal.id,
      },
      authorizeAs: "live.basic",
    });
  }

  /** Whether a session could open on the device now (connected, approved, within the device and server limits). */
  available(deviceId: string): boolean {
    return (
      this.#limitRefusal(undefined, deviceId, true) === undefined &&
      this.#deviceRefusal(deviceId) === undefined
    );
  }

  #limitRefusal(
    principal: AuthenticatedPrincipal | undefined,
    deviceId: string,
    forAction: boolean,
  ): CustodyError | undefined {
    const open = [...this.#open.values()];
    const onDevice = open.filter((s) => s.deviceId === deviceId);
    if (onDevice.length >= this.limits.sessionsPerDevice) {
      const holder = onDevice[0] as LiveSession;
      return limit(
        "per-device",
        `device ${deviceId} is in a session held by ${holder.principal.id} since ${holder.createdAt.toISOString()}`,
        {
          heldBy: holder.principal.id,
          since: holder.createdAt.toISOString(),
        },
      );
    }
    const mine = open.filter((s) => s.principal.id === principal?.id && s.forAction === undefined);
    if (principal !== undefined && !forAction && mine.length >= this.limits.sessionsPerUser) {
      const held = mine[0] as LiveSession;
      return limit("per-user", `${principal.id} already holds session ${held.id} (on ${held.deviceId})`, {
        sessionId: held.id,
      });
    }
    if (open.length >= this.limits.maxSessions) {
      return limit("per-server", `this server holds its ${this.limits.maxSessions} sessions`, {});
    }
    return undefined;
  }

  #deviceRefusal(deviceId: string): CustodyError | undefined {
    const status = this.#options.hub.list().find((device) => device.deviceId === deviceId);
    if (status?.state === "quarantined") {
      return new CustodyError(
        "ERR_DEVICE_QUARANTINED",
        `device ${deviceId} is quarantined until a custodian approves it`,
      );
    }
    if (!this.#options.hub.isOnline(deviceId)) {
      return new CustodyError("ERR_DEVICE_OFFLINE", `device ${deviceId} is not connected`);
    }
    return undefined;
  }

  async #settingRefusal(): Promise<{ refusal?: CustodyError }> {
    return (await this.#options.isLiveResponseOn()) ? {} : { refusal: liveResponseOff() };
  }

  #closeRevoked(): void {
    for (const session of this.#open.values()) {
      if (!this.#options.vault.isCurrent(session.principal)) {
        void this.close(session, "revoked").catch(() => undefined);
      }
    }
  }

  #isIdle(session: LiveSession): boolean {
    return Date.now() - session.lastActivity > this.limits.idleMs;
  }

  #sweep(): void {
    for (const session of this.#open.values()) {
      if (this.#isIdle(session) && !this.commands.busy(session))
        void this.close(session, "idle").catch(() => undefined);
    }
  }

  /** Closed sessions stay readable (log, transcript id) for a while; the oldest go first. */
  #forgetOldClosed(): void {
    while (this.#closed.size > 1_000) {
      const oldest = this.#closed.keys().next().value as string;
      const session = this.#closed.get(oldest);
      if (session !== undefined) this.commands.release(session, true);
      this.#closed.delete(oldest);
    }
  }
}

function limit(which: string, message: string, details: Record<string, string>): CustodyError {
  return new CustodyError("ERR_SESSION_LIMIT", message, { details: { limit: which, ...details } });
}

function assertId(value: string, what: string): void {
  if (!scopeIdSchema.safeParse(value).success) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `'${value}' is not a ${what} id`);
  }
}
