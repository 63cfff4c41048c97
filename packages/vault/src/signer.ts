import { X509Certificate } from "node:crypto";
import type { Clock, Logger } from "@custody/core";
import { CustodyError, silentLogger } from "@custody/core";
import { createKeySigner, type Signer } from "@custody/manifest";
import type { Ledger } from "./ledger.js";
import type { SignerFiles } from "./pki.js";
import { fingerprintOf } from "./pki.js";
import { stampVaultSignature } from "./timestamp-signer.js";

/**
 * The vault signer in force: the newest signer certificate the log installed (`keys.signer-installed`).
 * Chosen at each signature, so a rotation takes effect at once and the files on disk alone never decide.
 */
export class VaultSigner implements Signer {
  readonly #signers: Map<string, SignerFiles>;
  readonly #ledger: Ledger;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Signer>();
  readonly #logger: Logger;

  constructor(
    signers: Map<string, SignerFiles>,
    ledger: Ledger,
    clock: Clock,
    logger: Logger = silentLogger,
  ) {
    this.#signers = signers;
    this.#ledger = ledger;
    this.#clock = clock;
    this.#logger = logger;
  }

  get certificateChain(): readonly string[] {
    return this.current().certificateChain;
  }

  /** Checkpoints and reports: with a TSA in the log, the signature carries its token (or a warning says why not). */
  async sign(data: Uint8Array): Promise<Buffer> {
    const signature = await this.current().sign(data);
    return stampVaultSignature(signature, this.#ledger.timestampAuthorities, this.#logger);
  }

  add(serialNumber: string, files: SignerFiles): void {
    this.#signers.set(serialNumber, files);
  }

  current(): Signer {
    const fingerprint = this.#ledger.currentSigner;
    if (fingerprint === undefined)
      throw new CustodyError("ERR_VAULT_NOT_INITIALIZED", "no vault signer is installed");
    const cached = this.#cache.get(fingerprint);
    if (cached !== undefined) return cached;
    const files = [...this.#signers.values()].find(
      (f) => fingerprintOf(new X509Certificate(f.certificatePem)) === fingerprint,
    );
    if (files === undefined) {
      throw new CustodyError(
        "ERR_NOT_FOUND",
        `the vault signer ${fingerprint} the log installed has no key on disk`,
      );
    }
    const signer = createKeySigner({
      keyPem: files.keyPem,
      certificatePem: files.certificatePem,
      clock: this.#clock,
    });
    this.#cache.set(fingerprint, signer);
    return signer;
  }
}
