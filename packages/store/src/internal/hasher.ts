import { once } from "node:events";
import { CustodyError } from "@custody/core";
import { createDigestStream, type DigestStream } from "@custody/hash";
import type { Sha256Result } from "../digest.js";

/** Incremental sha256 over @custody/hash's digest stream, for loops that hash and write chunk by chunk. */
export class Sha256Hasher {
  readonly #stream: DigestStream = createDigestStream({ algorithms: ["sha256"] });

  constructor() {
    // Only the digest is wanted, not the pass-through bytes.
    this.#stream.resume();
  }

  update(chunk: Uint8Array): void {
    this.#stream.write(chunk);
  }

  async digest(): Promise<Sha256Result> {
    const finished = once(this.#stream, "finish");
    this.#stream.end();
    await finished;
    const { size, digests } = this.#stream.result();
    if (digests.sha256 === undefined)
      throw new CustodyError("ERR_INTERNAL", "the digest stream gave no sha256");
    return { size, sha256: digests.sha256 };
  }
}
