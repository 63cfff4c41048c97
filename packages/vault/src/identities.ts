import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, CustodyError, isoTimestampSchema, sha256HexSchema, toCustodyError } from "@custody/core";
import { z } from "zod";
import type { AuthenticatedPrincipal } from "./identity.js";
import { principalFromCertificate } from "./identity.js";
import { revokeSerial, writeAtomic } from "./pki.js";
import type { Vault } from "./vault.js";

const ISSUED_FILE = "pki/issued.json";

const issuedSchema = z.array(
  z.strictObject({
    name: z.string(),
    serialNumber: z.string(),
    fingerprintSha256: sha256HexSchema,
    issuedAt: isoTimestampSchema,
  }),
);
export type IssuedIdentity = z.infer<typeof issuedSchema>[number];

/** Every identity the vault CA issued, so that one can be revoked by name when a laptop is lost. */
export async function readIssuedIdentities(dir: string): Promise<IssuedIdentity[]> {
  let text: string;
  try {
    text = await readFile(join(dir, ISSUED_FILE), "utf8");
  } catch (cause) {
    const error = toCustodyError(cause, "ERR_IO", `cannot read ${ISSUED_FILE}`);
    if (error.code === "ERR_NOT_FOUND") return [];
    throw error;
  }
  return issuedSchema.parse(JSON.parse(text));
}

/** Adds a freshly issued identity bundle to the register (written atomically). */
export async function registerIdentity(
  dir: string,
  identityPem: string,
  clock: Clock,
): Promise<IssuedIdentity> {
  const principal = principalFromCertificate(new X509Certificate(identityPem));
  const entry = {
    name: principal.id,
    serialNumber: principal.serialNumber,
    fingerprintSha256: principal.fingerprintSha256,
    issuedAt: clock.now().toISOString(),
  };
  const issued = [...(await readIssuedIdentities(dir)), entry];
  await writeAtomic(dir, ISSUED_FILE, `${JSON.stringify(issued, null, 2)}\n`, 0o644);
  return entry;
}

/** Revokes every certificate issued to `name`: the CRL is re-signed and authentication refuses them. */
export async function revokeIdentity(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  name: string,
): Promise<IssuedIdentity[]> {
  const request = {
    principal,
    action: "identity.issue",
    resource: { kind: "vault" },
    target: `principal:${name}`,
    details: { change: "revoke-identity" },
  } as const;
  return vault.run(request, async () => {
    const revoked = new Set(vault.pki.revoked.map((r) => r.serialNumber.toUpperCase()));
    const live = (await readIssuedIdentities(vault.dir)).filter(
      (i) => i.name === name && !revoked.has(i.serialNumber),
    );
    if (live.length === 0)
      throw new CustodyError("ERR_NOT_FOUND", `no unrevoked identity was issued to ${name}`);
    for (const identity of live) {
      await revokeSerial(
        vault.dir,
        vault.pki,
        {
          serialNumber: identity.serialNumber,
          revokedAt: vault.clock.now().toISOString(),
          name,
          reason: `revoked by ${principal.id}`,
        },
        vault.clock,
      );
    }
    return live;
  });
}
