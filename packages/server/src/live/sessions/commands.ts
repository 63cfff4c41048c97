import {
  COMMANDS,
  type CommandSpec,
  type ParsedCommandLine,
  parseCommandLine,
  renderCommandLine,
} from "@custody/agent/protocol";
import { CustodyError, canonicalJson, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { DeviceHub } from "../hub.js";
import { type AuthorizationPhase, type AuthorizerDeps, authorizeCommand } from "./authorize.js";
import { getfileTransfer } from "./getfile-transfer.js";
import type { LiveLimits } from "./limits.js";
import { PackageUploads } from "./package-upload.js";
import { prerequisiteRan, remediationPrerequisite, rememberCompleted } from "./prerequisites.js";
import { RemediationExchange } from "./remediation.js";
import { prepareRun, recordRunScript } from "./run-script.js";
import { type CommandEntry, type CommandEvent, FINAL_STATUSES, type LiveSession } from "./session.js";
import { type Result, type SettleDeps, settleResult } from "./settle-result.js";
import {
  errorOf,
  newTracked,
  pathArgument,
  recentFileinfo,
  rememberFileinfo,
  stopError,
  summary,
  type Tracked,
  unref,
} from "./tracked.js";
import { Transfers } from "./transfers.js";

export interface CommandRunnerDeps extends AuthorizerDeps {
  vault: Vault;
  hub: DeviceHub;
  limits: LiveLimits;
  touch(session: LiveSession): void;
}

/**
 * Runs a session's commands: parse, authorize (submit), queue, authorize again (dispatch), send through
 * the hub, follow the agent's ack/rows/result, time out, cancel, and keep the command log. Every route
 * to the device passes `authorizeCommand` right before it.
 */
export class CommandRunner {
  readonly #deps: CommandRunnerDeps;
  readonly #commands = new Map<string, Tracked>();
  readonly #queues = new Map<string, Tracked[]>();
  readonly #running = new Map<string, number>();
  readonly transfers: Transfers;
  readonly packages: PackageUploads;
  readonly remediation: RemediationExchange;
  readonly #settleDeps: SettleDeps;

  constructor(deps: CommandRunnerDeps) {
    this.#deps = deps;
    this.transfers = new Transfers(deps.vault, deps.limits);
    this.packages = new PackageUploads(deps.vault, deps.limits);
    this.remediation = new RemediationExchange(this.transfers, deps.vault, deps.limits);
    this.#settleDeps = {
      vault: deps.vault,
      remediation: this.remediation,
      addRows: (tracked, rows) => this.#onRows(tracked, rows),
    };
    deps.hub.onFrame((deviceId, type, body) => this.#onFrame(deviceId, type, body));
    deps.hub.onDisconnect((deviceId) => this.#onDisconnect(deviceId));
  }

  /** Parses and authorizes `line`, then queues it; the answer is its log entry (running or already settled). */
  async submit(principal: AuthenticatedPrincipal, session: LiveSession, line: string): Promise<CommandEntry> {
    const parsed = parseCommandLine(line);
    const spec = COMMANDS[parsed.name] as CommandSpec;
    if (spec.where === "console") {
      throw new CustodyError(
        "ERR_USAGE",
        `${parsed.name} is answered by the console, not sent to the device`,
      );
    }
    // remediate's prerequisite depends on its TYPE (an unknown type is refused before anything)
    const needs = parsed.name === "remediate" ? remediationPrerequisite(parsed) : undefined;
    const tracked = newTracked(principal, session, line, parsed, spec);
    await this.#authorize(tracked, "submit");
    this.#register(tracked);
    const windowMs = this.#deps.limits.prerequisiteWindowMs;
    if (needs !== undefined && parsed.flags.auto !== true && !prerequisiteRan(session, needs, windowMs)) {
      await this.#finish(tracked, "failed", {
        code: "ERR_PREREQUISITE",
        message: `remediate needs \`${renderCommandLine(needs)}\` in this session first, or add -auto`,
      });
      return tracked.entry;
    }
    const missing =
      spec.prerequisite !== undefined &&
      parsed.flags.auto !== true &&
      !recentFileinfo(tracked, this.#deps.limits.prerequisiteWindowMs);
    if (missing) {
      await this.#finish(tracked, "failed", {
        code: "ERR_PREREQUISITE",
        message: `${parsed.name} needs \`${spec.prerequisite} ${pathArgument(parsed)}\` in this session first, or add -auto`,
      });
      return tracked.entry;
    }
    this.#enqueue(tracked);
    return tracked.entry;
  }

  get(cmdId: string): Tracked | undefined {
    return this.#commands.get(cmdId);
  }

  log(session: LiveSession): CommandEntry[] {
    return session.commands.map((id) => this.#commands.get(id)?.entry).filter((e) => e !== undefined);
  }

  /** Rows so far and the result when settled, then whatever comes; returns the unsubscribe. */
  follow(cmdId: string, listener: (event: CommandEvent) => void): () => void {
    const tracked = this.#commands.get(cmdId);
    if (tracked === undefined) throw new CustodyError("ERR_NOT_FOUND", `no command ${cmdId}`);
    if (tracked.rows.length > 0) listener({ type: "rows", rows: tracked.rows });
    if (FINAL_STATUSES.has(tracked.entry.status)) {
      listener({ type: "result", command: tracked.entry });
      return () => undefined;
    }
    tracked.listeners.add(listener);
    return () => tracked.listeners.delete(listener);
  }

  /** Stops a command: a queued one never leaves; a running one is cancelled on the device, which confirms. */
  async cancel(principal: AuthenticatedPrincipal, cmdId: string, reason: string): Promise<CommandEntry> {
    const tracked = this.#commands.get(cmdId);
    if (tracked === undefined) throw new CustodyError("ERR_NOT_FOUND", `no command ${cmdId}`);
    if (FINAL_STATUSES.has(tracked.entry.status) || tracked.stopping !== undefined) return tracked.entry;
    await this.#record(
      tracked,
      "live.cancel",
      "allow",
      `${principal.id} cancelled ${tracked.entry.name}: ${reason}`,
      {
        cancelledBy: principal.id,
      },
    );
    this.#stop(tracked, "cancelled", reason);
    return tracked.entry;
  }

  /** Cancels everything of a session still queued or running, and waits until each is settled. */
  async stopSession(session: LiveSession, reason: string): Promise<void> {
    const open = this.log(session).filter((entry) => !FINAL_STATUSES.has(entry.status));
    await Promise.all(
      open.map(async (entry) => {
        const tracked = this.#commands.get(entry.id) as Tracked;
        if (tracked.stopping === undefined) this.#stop(tracked, "cancelled", reason);
        await tracked.done;
      }),
    );
  }

  /**
   * A closed session's outputs are in its transcript and their digests in the log: the rows kept for
   * consoles are let go (`forget` drops the commands themselves once the session is forgotten).
   */
  release(session: LiveSession, forget = false): void {
    for (const id of session.commands) {
      const tracked = this.#commands.get(id);
      if (tracked === undefined) continue;
      tracked.rows = [];
      if (forget) this.#commands.delete(id);
    }
  }

  busy(session: LiveSession): boolean {
    return this.log(session).some((entry) => !FINAL_STATUSES.has(entry.status));
  }

  #register(tracked: Tracked): void {
    this.#commands.set(tracked.entry.id, tracked);
    tracked.session.commands.push(tracked.entry.id);
    this.#deps.touch(tracked.session);
  }

  async #authorize(tracked: Tracked, phase: AuthorizationPhase): Promise<void> {
    const { entry, spec } = tracked;
    const record = await authorizeCommand(
      this.#deps,
      tracked.principal,
      {
        cmdId: entry.id,
        name: entry.name,
        line: entry.line,
        action: spec.action,
        ...(entry.prerequisiteOf === undefined ? {} : { prerequisiteOf: entry.prerequisiteOf }),
      },
      tracked.session,
      phase,
    );
    entry.decisions.push(record.seq);
  }

  #enqueue(tracked: Tracked): void {
    const queue = this.#queues.get(tracked.session.id) ?? [];
    queue.push(tracked);
    this.#queues.set(tracked.session.id, queue);
    this.#pump(tracked.session.id);
  }

  #pump(sessionId: string): void {
    const queue = this.#queues.get(sessionId) ?? [];
    while (queue.length > 0 && (this.#running.get(sessionId) ?? 0) < this.#deps.limits.runningPerSession) {
      const next = queue.shift() as Tracked;
      if (FINAL_STATUSES.has(next.entry.status)) continue;
      this.#running.set(sessionId, (this.#running.get(sessionId) ?? 0) + 1);
      void this.#start(next).catch((error: unknown) => this.#finish(next, "failed", errorOf(error)));
    }
    if (queue.length === 0) this.#queues.delete(sessionId);
  }

  /** Leaves the queue: prerequisites first (each its own authorized command), then dispatch. */
  async #start(tracked: Tracked): Promise<void> {
    tracked.entry.status = "running";
    tracked.startedMs = Date.now();
    tracked.entry.startedAt = new Date(tracked.startedMs).toISOString();
    if (tracked.entry.name === "getfile") {
      const ready = await this.#prepareGetfile(tracked);
      if (!ready) return;
    }
    if (tracked.entry.name === "run") {
      const prepared = await prepareRun(this.#deps.vault, tracked);
      if (!("script" in prepared)) return this.#finish(tracked, "failed", prepared);
      tracked.script = prepared.script;
      if (prepared.signer !== undefined) tracked.scriptSigner = prepared.signer;
    }
    if (tracked.entry.name === "collect") tracked.packageUpload = this.packages.create(tracked);
    if (!(await this.#prepareRemediation(tracked))) return;
    if (tracked.stopping !== undefined) return;
    await this.#dispatch(tracked, "dispatch");
  }

  /** remediate (its prerequisite with -auto, a quarantine slot), undo (its downloads), putfile (its file). */
  async #prepareRemediation(tracked: Tracked): Promise<boolean> {
    const { name } = tracked.entry;
    let prepared: { code: string; message: string } | Partial<typeof tracked.exchange> = {};
    if (name === "remediate") {
      const needs = remediationPrerequisite(tracked.parsed);
      if (tracked.parsed.flags.auto === true && !(await this.#runPrerequisite(tracked, needs))) return false;
      prepared = { quarantine: this.remediation.openSlot(tracked) };
    } else if (name === "undo") prepared = this.remediation.prepareUndo(tracked);
    else if (name === "putfile") prepared = await this.remediation.preparePutfile(tracked);
    if ("code" in prepared) {
      await this.#finish(tracked, "failed", prepared as { code: string; message: string });
      return false;
    }
    tracked.exchange = prepared;
    return true;
  }

  /** Authorizes at `phase`, then sends: a denial is recorded and nothing leaves. */
  async #dispatch(tracked: Tracked, phase: AuthorizationPhase): Promise<void> {
    try {
      await this.#authorize(tracked, phase);
    } catch (error) {
      await this.#finish(tracked, "failed", errorOf(error));
      return;
    }
    if (tracked.script !== undefined) await recordRunScript(this.#deps.vault, tracked, tracked.script);
    const { entry, session, parsed } = tracked;
    const timeoutMs = this.#deps.limits.commandTimeoutsMs[entry.name] ?? tracked.spec.timeoutMs;
    const body = {
      cmdId: entry.id,
      sessionId: session.id,
      deviceId: session.deviceId,
      name: entry.name,
      positional: parsed.positional,
      flags: parsed.flags,
      cwd: session.cwd,
      timeoutMs,
      notAfter: new Date(Date.now() + timeoutMs).toISOString(),
      issuedBy: tracked.principal.id,
      ...(tracked.transfer === undefined ? {} : { transfer: tracked.transfer.frame() }),
      ...(tracked.script === undefined ? {} : { script: tracked.script }),
      ...(tracked.packageUpload === undefined ? {} : { package: tracked.packageUpload.frame() }),
      ...tracked.exchange,
    };
    this.#deps.hub.send(session.deviceId, "command", body);
    tracked.timers.push(unref(setTimeout(() => this.#stop(tracked, "timed-out", "timeout"), timeoutMs)));
  }

  /** getfile: its fileinfo (run now with -auto), the size limit, then a transfer bound to the digest. */
  async #prepareGetfile(tracked: Tracked): Promise<boolean> {
    if (tracked.parsed.flags.auto === true) {
      const ok = await this.#runPrerequisite(tracked);
      if (!ok) return false;
    }
    const prepared = getfileTransfer(tracked, this.#deps.limits, this.transfers);
    if ("failure" in prepared) {
      await this.#finish(tracked, "failed", prepared.failure);
      return false;
    }
    tracked.transfer = prepared.transfer;
    return true;
  }

  /** `-auto`: fileinfo of the same path as its own command, authorized at the prerequisite phase. */
  async #runPrerequisite(
    parent: Tracked,
    parsed: ParsedCommandLine = {
      name: "fileinfo",
      positional: [pathArgument(parent.parsed)],
      flags: {},
      background: false,
    },
  ): Promise<boolean> {
    const line = renderCommandLine(parsed);
    const spec = COMMANDS[parsed.name] as CommandSpec;
    const child = newTracked(parent.principal, parent.session, line, parsed, spec, parent.entry.id);
    this.#register(child);
    child.entry.status = "running";
    child.startedMs = Date.now();
    child.entry.startedAt = new Date(child.startedMs).toISOString();
    this.#running.set(parent.session.id, (this.#running.get(parent.session.id) ?? 0) + 1);
    await this.#dispatch(child, "prerequisite").catch((error: unknown) =>
      this.#finish(child, "failed", errorOf(error)),
    );
    const result = await child.done;
    if (result.status === "completed") return true;
    await this.#finish(parent, "failed", {
      code: result.error?.code === "ERR_ACCESS_DENIED" ? "ERR_ACCESS_DENIED" : "ERR_PREREQUISITE",
      message: `its prerequisite ${result.id} (${line}) ended ${result.status}${result.error === undefined ? "" : `: ${result.error.message}`}`,
    });
    return false;
  }

  #stop(tracked: Tracked, status: "timed-out" | "cancelled", reason: string): void {
    if (FINAL_STATUSES.has(tracked.entry.status) || tracked.stopping !== undefined) return;
    if (tracked.entry.status === "queued") {
      void this.#finish(tracked, status, stopError(status, reason));
      return;
    }
    tracked.stopping = status;
    tracked.transfer?.abort(stopError(status, reason));
    tracked.packageUpload?.abort(stopError(status, reason));
    try {
      this.#deps.hub.send(tracked.session.deviceId, "cancel", { cmdId: tracked.entry.id, reason });
    } catch {
      // the device is gone: nothing runs there any more
    }
    // An agent that never confirms: the command is settled anyway, and says so.
    const grace = setTimeout(() => {
      void this.#finish(tracked, status, {
        code: status === "timed-out" ? "ERR_TIMEOUT" : "ERR_ABORTED",
        message: `${reason}; the device did not confirm within ${this.#deps.limits.cancelGraceMs} ms`,
      });
    }, this.#deps.limits.cancelGraceMs);
    tracked.timers.push(unref(grace));
  }

  #onFrame(deviceId: string, type: string, body: unknown): void {
    const cmdId = (body as { cmdId?: unknown } | null)?.cmdId;
    const tracked = typeof cmdId === "string" ? this.#commands.get(cmdId) : undefined;
    // A device answers only for the commands sent to it.
    if (tracked === undefined || tracked.session.deviceId !== deviceId) return;
    if (FINAL_STATUSES.has(tracked.entry.status)) return;
    this.#deps.touch(tracked.session);
    if (type === "ack") this.#onAck(tracked, body as { accepted: boolean; code?: string; message?: string });
    else if (type === "rows") this.#onRows(tracked, (body as { rows: Record<string, unknown>[] }).rows);
    else if (type === "result") void this.#onResult(tracked, body as Result);
  }

  #onAck(tracked: Tracked, ack: { accepted: boolean; code?: string; message?: string }): void {
    if (ack.accepted) return;
    void this.#finish(tracked, "failed", {
      code: ack.code ?? "ERR_AGENT_POLICY",
      message: `the device refused it: ${ack.message ?? ""}`,
    });
  }

  #onRows(tracked: Tracked, rows: Record<string, unknown>[]): void {
    for (const row of rows) tracked.hash.update(`${canonicalJson(row as JsonValue)}\n`);
    tracked.entry.rows += rows.length;
    const room = this.#deps.limits.maxKeptRows - tracked.rows.length;
    if (room > 0) tracked.rows.push(...rows.slice(0, room));
    for (const listener of tracked.listeners) listener({ type: "rows", rows });
  }

  async #onResult(tracked: Tracked, result: Result): Promise<void> {
    const status = tracked.stopping ?? result.status;
    const reported = result.data;
    if (result.status === "completed" && tracked.entry.name === "cd" && typeof reported?.cwd === "string") {
      tracked.session.cwd = reported.cwd;
    }
    // fileinfo's facts come as its data, or as its one row
    const info = reported ?? tracked.rows[0];
    if (result.status === "completed" && tracked.entry.name === "fileinfo" && info !== undefined) {
      rememberFileinfo(tracked, info);
    }
    if (result.status === "completed") rememberCompleted(tracked);
    const { data, error } = await settleResult(this.#settleDeps, tracked, result, status);
    const final = error !== undefined && status === "completed" ? "failed" : status;
    await this.#finish(tracked, final, error, data);
  }

  #onDisconnect(deviceId: string): void {
    for (const tracked of this.#commands.values()) {
      if (tracked.session.deviceId !== deviceId || FINAL_STATUSES.has(tracked.entry.status)) continue;
      if (tracked.entry.status === "queued") continue;
      tracked.transfer?.abort(new CustodyError("ERR_DEVICE_OFFLINE", "the device disconnected"));
      tracked.packageUpload?.abort(new CustodyError("ERR_DEVICE_OFFLINE", "the device disconnected"));
      void this.#finish(tracked, tracked.stopping ?? "failed", {
        code: "ERR_DEVICE_OFFLINE",
        message: `device ${deviceId} disconnected while the command ran`,
      });
    }
  }

  /** Settles a command once: its log entry, the `live.result` record, then its followers are told. */
  async #finish(
    tracked: Tracked,
    status: CommandEntry["status"],
    error?: { code: string; message: string },
    data?: Record<string, unknown>,
  ): Promise<void> {
    const { entry } = tracked;
    if (FINAL_STATUSES.has(entry.status)) return;
    const wasRunning = entry.status === "running";
    entry.status = status;
    for (const timer of tracked.timers) clearTimeout(timer);
    tracked.transfer?.abort(new CustodyError("ERR_ABORTED", `the command ended ${status}`));
    if (tracked.transfer !== undefined) this.transfers.forget(tracked.transfer);
    if (tracked.packageUpload !== undefined) this.packages.forget(tracked.packageUpload);
    this.remediation.release(tracked);
    entry.durationMs = tracked.startedMs === undefined ? 0 : Date.now() - tracked.startedMs;
    entry.outputSha256 = tracked.hash.digest("hex");
    if (error !== undefined) entry.error = { code: error.code, message: error.message.slice(0, 2000) };
    if (data !== undefined) entry.data = data;
    if (tracked.transfer !== undefined) entry.data = { ...entry.data, path: tracked.transfer.path };
    await this.#record(tracked, "live.result", status === "completed" ? "allow" : "error", summary(entry), {
      status,
      durationMs: entry.durationMs,
      rows: entry.rows,
      outputSha256: entry.outputSha256,
      ...(entry.itemId === undefined ? {} : { itemId: entry.itemId }),
      ...(entry.error === undefined ? {} : { error: entry.error.code }),
      ...(typeof entry.data?.verdict === "string" ? { verdict: entry.data.verdict } : {}),
    }).catch(() => undefined);
    this.#deps.touch(tracked.session);
    for (const listener of tracked.listeners) listener({ type: "result", command: entry });
    tracked.listeners.clear();
    tracked.settle(entry);
    if (wasRunning) {
      this.#running.set(tracked.session.id, (this.#running.get(tracked.session.id) ?? 1) - 1);
      this.#pump(tracked.session.id);
    }
  }

  #record(
    tracked: Tracked,
    action: string,
    outcome: "allow" | "error",
    reason: string,
    details: Record<string, JsonValue>,
  ) {
    const { entry } = tracked;
    return this.#deps.vault.recordLiveOutcome(tracked.principal, {
      action,
      target: `device:${entry.deviceId}`,
      outcome,
      reason,
      details: {
        sessionId: entry.sessionId,
        caseId: entry.caseId,
        cmdId: entry.id,
        line: entry.line,
        ...details,
      },
    });
  }
}
