import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import { Readable } from "node:stream";
import type { DownloadBody, QuarantineBody, RestoreBody } from "@custody/agent/protocol";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, QuarantineItem, Vault } from "@custody/vault";
import { z } from "zod";
import type { LiveLimits } from "./limits.js";
import type { Tracked } from "./tracked.js";
import type { Transfer, Transfers } from "./transfers.js";

type Failure = { code: string; message: string };

/** Files one remediation may quarantine (a service: its unit file and its program, a few links). */
const MAX_QUARANTINE_FILES = 16;

/** `remediate file`: what the session's recent fileinfo of the target reported (its digest and size). */
function fileinfoOfTarget(tracked: Tracked, windowMs: number) {
  const { parsed, session } = tracked;
  if (String(parsed.flags.type ?? parsed.positional[0]) !== "file") return undefined;
  const target = String(parsed.flags.target ?? parsed.positional[1] ?? "");
  const path = session.cwd !== null && !target.startsWith("/") ? posix.join(session.cwd, target) : target;
  const found = session.fileinfo.get(path);
  if (found === undefined || found.at < Date.now() - windowMs) return undefined;
  const { sha256, size } = found.data;
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size))
    return undefined;
  return { path: posix.normalize(path), sha256, size: size as number };
}

const announceSchema = z.strictObject({
  path: z.string().min(1).max(4096),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  mode: z.number().int().min(0).max(0o7777),
});

interface Slot {
  id: string;
  tracked: Tracked;
  transfers: { transfer: Transfer; mode: number }[];
}

interface Download {
  deviceId: string;
  cmdId: string;
  sha256: string;
  size: number;
  open(): Promise<Readable>;
}

/**
 * The server's side of remediate, undo and putfile beyond the command frame: quarantine slots (the
 * device announces each file with its digest; the answer is a getfile transfer bound to it, so the bytes
 * stream into the vault the same way) and single-use downloads bound to a device, a command and a digest.
 */
export class RemediationExchange {
  readonly #slots = new Map<string, Slot>();
  readonly #downloads = new Map<string, Download>();
  readonly #transfers: Transfers;
  readonly #vault: Vault;
  readonly #limits: LiveLimits;

  constructor(transfers: Transfers, vault: Vault, limits: LiveLimits) {
    this.#transfers = transfers;
    this.#vault = vault;
    this.#limits = limits;
  }

  openSlot(tracked: Tracked): QuarantineBody {
    const slot: Slot = { id: `Q-${randomUUID()}`, tracked, transfers: [] };
    this.#slots.set(slot.id, slot);
    const expected = fileinfoOfTarget(tracked, this.#limits.prerequisiteWindowMs);
    return {
      path: `/v1/agent/quarantine/${slot.id}`,
      maxFiles: MAX_QUARANTINE_FILES,
      maxBytes: this.#limits.maxGetfileBytes,
      ...(expected === undefined ? {} : { expected: [expected] }),
    };
  }

  /** A device announces a file it will delete: the transfer it must fill before it deletes anything. */
  announce(device: AuthenticatedPrincipal, slotId: string, body: unknown) {
    const slot = this.#slots.get(slotId);
    if (slot === undefined || device.kind !== "device" || device.id !== slot.tracked.session.deviceId)
      throw new CustodyError("ERR_NOT_FOUND", `no quarantine ${slotId} for this device`);
    const parsed = announceSchema.safeParse(body);
    if (!parsed.success)
      throw new CustodyError("ERR_INVALID_ARGUMENT", "a quarantine announce is {path, sha256, size, mode}");
    const file = parsed.data;
    if (slot.transfers.length >= MAX_QUARANTINE_FILES)
      throw new CustodyError(
        "ERR_SIZE_LIMIT",
        `a remediation quarantines at most ${MAX_QUARANTINE_FILES} files`,
      );
    if (file.size > this.#limits.maxGetfileBytes)
      throw new CustodyError("ERR_SIZE_LIMIT", `${file.path} is over ${this.#limits.maxGetfileBytes} bytes`);
    const { tracked } = slot;
    const transfer = this.#transfers.create({
      cmdId: tracked.entry.id,
      session: tracked.session,
      principal: tracked.principal,
      path: file.path,
      fileinfoCmdId: tracked.entry.id,
      data: { mode: file.mode.toString(8) },
      sha256: file.sha256,
      size: file.size,
      labels: { kind: "quarantine", remediation: tracked.entry.id },
      keepsExisting: true,
    });
    slot.transfers.push({ transfer, mode: file.mode });
    return transfer.frame();
  }

  /** What the vault stored for the command's quarantine slot: only items it really holds. */
  async quarantined(
    tracked: Tracked,
    partial = false,
  ): Promise<{ items: QuarantineItem[]; error?: Failure }> {
    const slot = [...this.#slots.values()].find((s) => s.tracked === tracked);
    const items: QuarantineItem[] = [];
    for (const { transfer, mode } of slot?.transfers ?? []) {
      const outcome = await transfer.outcome();
      if (outcome.itemId === undefined && partial) continue;
      if (outcome.itemId === undefined)
        return {
          items,
          error: outcome.error ?? { code: "ERR_PROTOCOL", message: "a quarantine was not stored" },
        };
      const { path, sha256, size } = transfer.request;
      items.push({ itemId: outcome.itemId, path, sha256, size, mode });
    }
    return { items };
  }

  offerDownload(tracked: Tracked, sha256: string, size: number, open: () => Promise<Readable>): DownloadBody {
    const id = `D-${randomUUID()}`;
    this.#downloads.set(id, {
      deviceId: tracked.session.deviceId,
      cmdId: tracked.entry.id,
      sha256,
      size,
      open,
    });
    return { id, path: `/v1/agent/downloads/${id}`, sha256, size };
  }

  /** A download's bytes, once, for the device it was offered to. */
  async download(device: AuthenticatedPrincipal, id: string): Promise<{ stream: Readable; size: number }> {
    const offered = this.#downloads.get(id);
    if (offered === undefined || device.kind !== "device" || device.id !== offered.deviceId)
      throw new CustodyError("ERR_NOT_FOUND", `no download ${id} for this device`);
    this.#downloads.delete(id);
    return { stream: await offered.open(), size: offered.size };
  }

  /** The command ended: its slot and downloads go (transfers go with the runner's own cleanup). */
  release(tracked: Tracked): void {
    for (const [id, slot] of this.#slots) {
      if (slot.tracked !== tracked) continue;
      for (const { transfer } of slot.transfers) this.#transfers.forget(transfer);
      this.#slots.delete(id);
    }
    for (const [id, offered] of this.#downloads)
      if (offered.cmdId === tracked.entry.id) this.#downloads.delete(id);
  }

  /** putfile: the library's current version of NAME, offered to the device by its digest. */
  async preparePutfile(tracked: Tracked): Promise<{ download: DownloadBody } | Failure> {
    const name = String(tracked.parsed.flags.name ?? tracked.parsed.positional[0] ?? "");
    try {
      const file = await this.#vault.libraryScript(name);
      const download = this.offerDownload(tracked, file.sha256, file.content.length, async () =>
        Readable.from([file.content]),
      );
      return { download };
    } catch (error) {
      if (isCustodyError(error)) return { code: error.code, message: error.message };
      throw error;
    }
  }

  /** undo: the remediation of this case (another case's is not found), its quarantine items as downloads. */
  prepareUndo(tracked: Tracked): { restore: RestoreBody } | Failure {
    const id = String(tracked.parsed.flags.id ?? tracked.parsed.positional[0] ?? "");
    const { session } = tracked;
    let state: ReturnType<Vault["remediationForUndo"]>;
    try {
      state = this.#vault.remediationForUndo(id, session.caseId);
    } catch (error) {
      if (isCustodyError(error)) return { code: error.code, message: error.message };
      throw error;
    }
    if (state.deviceId !== session.deviceId)
      return {
        code: "ERR_NOT_FOUND",
        message: `no remediation ${id} of device ${session.deviceId} in case ${session.caseId}`,
      };
    const steps = state.items.map((item) => ({
      step: {
        action: "quarantine" as const,
        outcome: "done" as const,
        path: item.path,
        sha256: item.sha256,
        size: item.size,
        ...(item.mode === undefined ? {} : { mode: item.mode }),
      },
      download: this.offerDownload(tracked, item.sha256, item.size, () =>
        this.#vault.quarantineBytes(state.id, item.itemId),
      ),
    }));
    return { restore: { remediationId: state.id, type: state.type, steps } };
  }

  /** A completed remediate: its quarantine items (the vault's) and its steps (the device's) as a fact. */
  async recordRemediate(tracked: Tracked, data: Record<string, unknown> | undefined) {
    const { items, error } = await this.quarantined(tracked);
    if (error !== undefined) return { data, error };
    const { entry, session } = tracked;
    const steps = Array.isArray(data?.steps) ? (data.steps as Record<string, unknown>[]).slice(0, 128) : [];
    await this.#vault.recordRemediation(tracked.principal, {
      remediationId: entry.id,
      caseId: session.caseId,
      deviceId: session.deviceId,
      sessionId: session.id,
      cmdId: entry.id,
      type: String(tracked.parsed.flags.type ?? tracked.parsed.positional[0] ?? ""),
      target: String(tracked.parsed.flags.target ?? tracked.parsed.positional[1] ?? "").slice(0, 4096),
      steps,
      items,
    });
    return { data: { ...data, items }, itemId: items[0]?.itemId };
  }

  /**
   * A remediate that ended before it finished (a step failed, cancelled, timed out) after some files went
   * into the vault: those items and the end are stated all the same, so the device's own record of the
   * steps it took can still be undone. Nothing is stated when nothing was stored.
   */
  async recordUnfinished(tracked: Tracked, status: string): Promise<string | undefined> {
    const { items } = await this.quarantined(tracked, true);
    if (items.length === 0) return undefined;
    const { entry, session } = tracked;
    await this.#vault.recordRemediation(tracked.principal, {
      remediationId: entry.id,
      caseId: session.caseId,
      deviceId: session.deviceId,
      sessionId: session.id,
      cmdId: entry.id,
      type: String(tracked.parsed.flags.type ?? tracked.parsed.positional[0] ?? ""),
      target: String(tracked.parsed.flags.target ?? tracked.parsed.positional[1] ?? "").slice(0, 4096),
      steps: [{ action: "ended", outcome: status, note: "the device's own record holds the steps it took" }],
      items,
    });
    return items[0]?.itemId;
  }

  async recordUndo(tracked: Tracked, data: Record<string, unknown> | undefined) {
    const { entry, session } = tracked;
    const steps = Array.isArray(data?.steps) ? (data.steps as Record<string, unknown>[]).slice(0, 128) : [];
    await this.#vault.recordRemediationUndone(tracked.principal, {
      remediationId: String(tracked.parsed.flags.id ?? tracked.parsed.positional[0] ?? ""),
      caseId: session.caseId,
      deviceId: session.deviceId,
      sessionId: session.id,
      cmdId: entry.id,
      steps,
    });
    return { data };
  }
}
