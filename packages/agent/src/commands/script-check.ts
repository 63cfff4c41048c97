import { createHash } from "node:crypto";
import { CustodyError } from "@custody/core";
import { parseCrl, verifyDetached } from "@custody/manifest";
import type { AgentPolicy } from "../policy-types.js";
import type { ScriptBody } from "../schemas.js";

/** A script the agent has checked and will run: its bytes, and who signed it (undefined: unsigned). */
export interface CheckedScript {
  name: string;
  version: number;
  sha256: string;
  content: Buffer;
  signer: { subject: string; fingerprintSha256: string } | undefined;
}

/**
 * The agent's own check of a `run`, whatever the server says: the script named must be the one sent,
 * its bytes must hash to the digest sent, and it must carry a detached CMS signature that verifies
 * against the vault CA this agent pinned at enrollment, by a certificate holding the script-signer
 * role (collector, vault-signer and foreign code-signing certificates are refused), and is not revoked on
 * the vault's CRL, which must come with it, be signed by that CA and not be past its nextUpdate (a server
 * can withhold a newer list only until the one it has goes stale). An unsigned script
 * runs only when the server says the vault allows it AND this device's local policy allows it: a
 * server alone cannot make the agent run one. A signature that fails is never taken as unsigned.
 */
export function checkScript(
  script: ScriptBody | undefined,
  requested: string,
  policy: AgentPolicy,
  caPem: string | undefined,
): CheckedScript {
  if (script === undefined) throw new CustodyError("ERR_PROTOCOL", "run came without its script");
  if (script.name !== requested) {
    throw new CustodyError("ERR_SCRIPT_SIGNATURE", `the script sent is ${script.name}, not ${requested}`);
  }
  const content = Buffer.from(script.contentBase64, "base64");
  const sha256 = createHash("sha256").update(content).digest("hex");
  if (sha256 !== script.sha256) {
    throw new CustodyError(
      "ERR_SCRIPT_SIGNATURE",
      `the script's bytes hash to ${sha256}, not ${script.sha256}`,
    );
  }
  const base = { name: script.name, version: script.version, sha256, content };
  if (script.signatureBase64 === undefined) {
    if (!script.allowUnsigned) {
      throw new CustodyError(
        "ERR_SCRIPT_UNSIGNED",
        `${script.name} is not signed and the vault runs signed scripts only`,
      );
    }
    if (policy.unsignedScripts !== true) {
      throw new CustodyError(
        "ERR_SCRIPT_UNSIGNED",
        `${script.name} is not signed and this device's local policy runs signed scripts only`,
      );
    }
    return { ...base, signer: undefined };
  }
  if (caPem === undefined)
    throw new CustodyError("ERR_SCRIPT_SIGNATURE", "this agent holds no vault CA to verify with");
  try {
    if (script.crlPem === undefined)
      throw new CustodyError("ERR_MALFORMED_CRL", "no CRL came with the script");
    const nextUpdate = parseCrl(script.crlPem).nextUpdate;
    if (nextUpdate === undefined || nextUpdate.getTime() < Date.now()) {
      throw new CustodyError(
        "ERR_MALFORMED_CRL",
        `the vault's CRL is stale (next update ${nextUpdate?.toISOString()})`,
      );
    }
    const info = verifyDetached(content, Buffer.from(script.signatureBase64, "base64"), {
      trustAnchors: [caPem],
      crls: [script.crlPem],
      requiredRole: "script-signer",
    });
    return {
      ...base,
      signer: { subject: info.signer.subject, fingerprintSha256: info.signer.fingerprintSha256 },
    };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new CustodyError("ERR_SCRIPT_SIGNATURE", `${script.name}: the signature is refused: ${message}`, {
      cause,
    });
  }
}
