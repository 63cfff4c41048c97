import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { LiveLimits } from "./limits.js";
import type { LiveSession } from "./session.js";

export interface TransferRequest {
  cmdId: string;
  session: LiveSession;
  /** The analyst who asked for the file: the item is theirs, authorized as their ingest. */
  principal: AuthenticatedPrincipal;
  path: string;
  fileinfoCmdId: string;
  /** What fileinfo said of the file (size, digests, times, owner, mode). */
  data: Record<string, unknown>;
  sha256: string;
  size: number;
}

interface Outcome {
  itemId?: string;
  error?: { code: string; message: string };
}

/**
 * One getfile's upload slot: single use, bound to its command, device, digest and size, gone when the
 * command ends. The device PUTs the bytes; they stream into the vault create-only under the digest.
 */
export class Transfer {
  readonly id = `T-${randomUUID()}`;
  readonly request: TransferRequest;
  readonly #abort = new AbortController();
  #started = false;
  #result: Promise<Outcome> | undefined;

  constructor(request: TransferRequest) {
    this.request = request;
  }

  get path(): string {
    return this.request.path;
  }

  frame() {
    return {
      id: this.id,
      path: `/v1/agent/transfers/${this.id}`,
      expectedSha256: this.request.sha256,
      expectedSize: this.request.size,
      maxBytes: this.request.size,
    };
  }

  abort(reason: CustodyError): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  /** What the upload came to; a device that reports success without uploading gets an error. */
  outcome(): Promise<Outcome> {
    return (
      this.#result ??
      Promise.resolve({
        error: { code: "ERR_PROTOCOL", message: "the device reported the file sent, but never uploaded it" },
      })
    );
  }

  /** The PUT: the device's bytes into the vault, as an item of the session's case. */
  receive(vault: Vault, device: AuthenticatedPrincipal, body: Readable): Promise<Outcome> {
    const { session } = this.request;
    if (device.kind !== "device" || device.id !== session.deviceId) {
      throw new CustodyError("ERR_ACCESS_DENIED", `transfer ${this.id} is not for ${device.id}`);
    }
    if (this.#started) throw new CustodyError("ERR_REPLAY", `transfer ${this.id} was already used`);
    if (this.#abort.signal.aborted)
      throw new CustodyError("ERR_ABORTED", `transfer ${this.id} was cancelled`);
    this.#started = true;
    this.#result = this.#store(vault, body);
    return this.#result;
  }

  async #store(vault: Vault, body: Readable): Promise<Outcome> {
    const { request } = this;
    const { session } = request;
    try {
      const item = await vault.ingestLiveFile(request.principal, body, {
        caseId: session.caseId,
        name: basename(request.path),
        expectedSha256: request.sha256,
        expectedSize: request.size,
        ...digest(request.data, "sha1"),
        ...digest(request.data, "md5"),
        deviceId: session.deviceId,
        source: `${session.deviceId}:${request.path}`,
        labels: fileLabels(request),
        abortSignal: this.#abort.signal,
      });
      return { itemId: item.id };
    } catch (error) {
      body.resume();
      const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
      return { error: { code, message: (error as Error).message } };
    }
  }
}

/** Transfers by id, for the PUT route. */
export class Transfers {
  readonly #byId = new Map<string, Transfer>();
  readonly vault: Vault;
  readonly limits: LiveLimits;

  constructor(vault: Vault, limits: LiveLimits) {
    this.vault = vault;
    this.limits = limits;
  }

  create(request: TransferRequest): Transfer {
    const transfer = new Transfer(request);
    this.#byId.set(transfer.id, transfer);
    return transfer;
  }

  get(id: string): Transfer | undefined {
    return this.#byId.get(id);
  }

  forget(transfer: Transfer): void {
    this.#byId.delete(transfer.id);
  }
}

function digest(data: Record<string, unknown>, name: "sha1" | "md5") {
  const value = data[name];
  const key = name === "sha1" ? "expectedSha1" : "expectedMd5";
  return typeof value === "string" && /^[0-9a-f]+$/.test(value) ? { [key]: value } : {};
}

/** What the item records of its origin: device, path, file metadata, command, session, analyst. */
function fileLabels(request: TransferRequest): Record<string, string> {
  const labels: Record<string, string> = {
    source: "live-response",
    device: request.session.deviceId,
    path: request.path.slice(0, 1024),
    command: request.cmdId,
    fileinfo: request.fileinfoCmdId,
    session: request.session.id,
    analyst: request.principal.id,
  };
  for (const key of [
    "mode",
    "owner",
    "uid",
    "gid",
    "mtime",
    "ctime",
    "atime",
    "btime",
    "inode",
    "ino",
    "dev",
  ]) {
    const value = request.data[key];
    if (typeof value === "string" || typeof value === "number")
      labels[`file.${key}`] = String(value).slice(0, 200);
  }
  return labels;
}

function basename(path: string): string {
  const name = path
    .split(/[\\/]/)
    .filter((part) => part !== "")
    .at(-1);
  return name === undefined || name === "" ? "file" : name;
}
