import * as manifest from "@custody/manifest";
import { describe, expect, it } from "vitest";

describe("@custody/manifest public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(manifest).sort()).toEqual(
      [
        "CERTIFICATE_ROLES",
        "CERTIFICATE_ROLE_OIDS",
        "CUSTODY_OID_ARC",
        "DEFAULT_ALLOWED_ALGORITHMS",
        "SIGNING_ROLES",
        "certificateRoles",
        "initRevocationList",
        "isCertificateRole",
        "readRevokedSerials",
        "revokeCertificates",
        "MANIFEST_VERSION",
        "MIN_RSA_BITS",
        "ManifestBuilder",
        "computeMerkleRoot",
        "createCertificateAuthority",
        "createCmsSigner",
        "createCrl",
        "createKeySigner",
        "custodyManifestJsonSchema",
        "custodyManifestSchema",
        "issueCertificate",
        "issueDeviceCertificate",
        "issueDeviceCollectorCertificate",
        "MIN_DEVICE_RSA_BITS",
        "keyPairFiles",
        "loadSignerFromFiles",
        "manifestCaseSchema",
        "manifestCollectorSchema",
        "manifestDeviceSchema",
        "manifestItemSchema",
        "parseCrl",
        "parseManifest",
        "readKeyPair",
        "serializeManifest",
        "signManifest",
        "signatureDigestAlgorithm",
        "verifyDetached",
        "verifyDetachedDigest",
        "verifyManifest",
        "writeKeyPair",
        "addTimestampToken",
        "createTimestampRequest",
        "imprintOf",
        "parseTimestampRequest",
        "parseTimestampResponse",
        "requestTimestamp",
        "requestTimestampFromAny",
        "signatureTimestampImprint",
        "signatureTimestampToken",
        "verifyTimestampToken",
        "timestampingSigner",
        "clockOffsetFrom",
        "measureClockOffset",
      ].sort(),
    );
  });

  it("signs a manifest and verifies it end to end as a user would", async () => {
    const ca = await manifest.createCertificateAuthority({ commonName: "Vault CA", keyBits: 2048 });
    const leaf = await manifest.issueCertificate(ca, {
      commonName: "collector",
      usage: "signer",
      keyBits: 2048,
    });
    const signer = manifest.createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
    const builder = new manifest.ManifestBuilder({
      name: "pkg",
      device: { id: "dev-1" },
      collector: { operator: "op", tool: "custody", toolVersion: "0.1.0", host: "h" },
    });
    builder.addItem({ path: "data/a.txt", size: 1, sha256: "a".repeat(64) });
    const signed = await manifest.signManifest(builder.build(), signer);
    const result = manifest.verifyManifest(signed.bytes, signed.signature, {
      trustAnchors: [ca.certificatePem],
    });
    expect(result.manifest.items).toHaveLength(1);
    expect(result.signature.signer.subject).toBe("CN=collector");
    expect(manifest.MANIFEST_VERSION).toBe("custody.manifest/v1");
  });
});
