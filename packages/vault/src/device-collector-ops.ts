import { X509Certificate } from "node:crypto";
import { CustodyError } from "@custody/core";
import { certificateRoles, issueDeviceCollectorCertificate } from "@custody/manifest";
import { deviceStanding } from "./agent-ops.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { fingerprintOf } from "./pki.js";

export interface DeviceCollectorCertificate {
  certificatePem: string;
  caPem: string;
  serialNumber: string;
  notAfter: string;
}

/**
 * Issues an enrolled, active device its own package-signing certificate for the key its request proves
 * (the device's mutual-TLS login is the authority, never a name in the request): CN is that device's
 * id, the role is device-collector, so what it signs can only ever be that device's own packages. The
 * issuance is in the audit log (`device.collector-certificate`) with the serial and the key's digest.
 */
export async function issueCollectorCertificate(
  ctx: VaultContext,
  device: AuthenticatedPrincipal,
  csrPem: string,
): Promise<DeviceCollectorCertificate> {
  ctx.guard.assertAuthenticated(device);
  const standing = deviceStanding(ctx, device);
  const target = `device:${device.id}`;
  if (standing !== "active") {
    await ctx.guard.refuseAnonymous(
      device.id,
      "device.collector-certificate",
      target,
      `the device is ${standing}`,
      {
        actorSerial: device.serialNumber,
      },
    );
    throw new CustodyError("ERR_ACCESS_DENIED", `${device.id} is not an active enrolled device`);
  }
  const issued = issueDeviceCollectorCertificate(ctx.pki.ca, csrPem, {
    deviceId: device.id,
    clock: ctx.clock,
  });
  const x509 = new X509Certificate(issued.certificatePem);
  const serialNumber = x509.serialNumber.toUpperCase();
  const notAfter = new Date(x509.validTo).toISOString();
  await ctx.guard.vaultEvent(
    device.id,
    "device.collector-certificate",
    target,
    `certificate ${serialNumber}`,
    {
      deviceId: device.id,
      serialNumber,
      fingerprintSha256: fingerprintOf(x509),
      publicKeySha256: issued.publicKeySha256,
      notAfter,
      actorSerial: device.serialNumber,
    },
  );
  return { certificatePem: issued.certificatePem, caPem: ctx.pki.caCertificatePem, serialNumber, notAfter };
}

/**
 * Why a verified package's signer is not `deviceId`'s own collector certificate, or undefined when it
 * is: the device-collector role and CN=<deviceId>, which the vault CA issues to that device only.
 */
export function deviceSignerProblem(signerPem: string | undefined, deviceId: string): string | undefined {
  if (signerPem === undefined) return "the package carries no signer certificate";
  const cert = new X509Certificate(signerPem);
  if (!certificateRoles(cert).includes("device-collector"))
    return `signed by ${cert.subject.replace(/\n/g, ", ")}, not a device collector certificate`;
  const names = cert.subject.split("\n");
  if (!names.includes(`CN=${deviceId}`))
    return `signed by ${cert.subject.replace(/\n/g, ", ")}, not by ${deviceId}'s own collector certificate`;
  return undefined;
}
