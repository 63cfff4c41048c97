import { randomUUID, type X509Certificate } from "node:crypto";
import type { RequestContext, Vault } from "@custody/vault";
import type { Logger } from "pino";

const WINDOW_MS = 60_000;
const PER_ADDRESS = 20;
const IN_TOTAL = 200;

/**
 * Records refused TLS handshakes (no certificate, a foreign CA, expired, revoked) in the audit log, at
 * most so many per address and in total each minute: a scanner must not be able to fill the log. Every
 * refusal is logged through pino; the counts of those not recorded are logged when the window ends.
 */
export class RefusalRecorder {
  readonly #vault: Vault;
  readonly #logger: Logger;
  #window = 0;
  #counts = new Map<string, number>();
  #total = 0;
  #dropped = 0;

  constructor(vault: Vault, logger: Logger) {
    this.#vault = vault;
    this.#logger = logger;
  }

  /** A handshake that failed, or a certificate that did not verify (foreign, absent). */
  tlsRefused(reason: string, address: string | undefined): void {
    const clientAddress = address ?? "unknown";
    this.#logger.warn({ clientAddress, reason }, "TLS client refused");
    // a peer that resets mid-handshake (a port scan, a client giving up) states nothing about identity
    if (reason === "ECONNRESET") return;
    this.record(
      { requestId: `tls-${randomUUID()}`, clientAddress },
      `TLS handshake refused: ${reason}`,
    ).catch((failure: unknown) => this.#logger.error({ err: failure }, "cannot record a refused connection"));
  }

  /** Records one refusal unless this address (or everyone) has had its share this minute. */
  async record(request: RequestContext, reason: string, certificate?: X509Certificate): Promise<void> {
    if (!this.#admit(request.clientAddress)) return;
    await this.#vault.recordRefusedConnection(request, reason, certificate);
  }

  #admit(address: string): boolean {
    const window = Math.floor(Date.now() / WINDOW_MS);
    if (window !== this.#window) {
      if (this.#dropped > 0)
        this.#logger.warn({ dropped: this.#dropped }, "refused handshakes not recorded in the audit log");
      this.#window = window;
      this.#counts = new Map();
      this.#total = 0;
      this.#dropped = 0;
    }
    const count = this.#counts.get(address) ?? 0;
    if (count >= PER_ADDRESS || this.#total >= IN_TOTAL) {
      this.#dropped += 1;
      return false;
    }
    this.#counts.set(address, count + 1);
    this.#total += 1;
    return true;
  }
}
