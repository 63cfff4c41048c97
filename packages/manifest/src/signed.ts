import { serializeManifest } from "./builder.js";
import { type ParseManifestOptions, parseManifest } from "./parse.js";
import type { CustodyManifest } from "./schema.js";
import type { Signer } from "./signer.js";
import { type SignatureInfo, type TrustOptions, verifyDetached } from "./verify.js";

export interface SignedManifest {
  /** custody-manifest.json: the canonical bytes that were signed. */
  bytes: Buffer;
  /** custody-manifest.json.p7s: detached CMS SignedData (DER) over `bytes`. */
  signature: Buffer;
}

/** Serializes canonically and signs those exact bytes. */
export async function signManifest(manifest: CustodyManifest, signer: Signer): Promise<SignedManifest> {
  const bytes = serializeManifest(manifest);
  return { bytes, signature: await signer.sign(bytes) };
}

/** Checks the signature over the exact bytes first, then reads them with every hostile-input check. */
export function verifyManifest(
  bytes: Uint8Array,
  signature: Uint8Array,
  trust: TrustOptions,
  options: ParseManifestOptions = {},
): { manifest: CustodyManifest; signature: SignatureInfo } {
  const info = verifyDetached(bytes, signature, trust);
  return { manifest: parseManifest(bytes, options), signature: info };
}
