import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { MAX_INLINE_SCRIPT_BYTES, type ScriptBody } from "@custody/agent/protocol";
import { CustodyError, isCustodyError } from "@custody/core";
import type { Vault } from "@custody/vault";
import type { Tracked } from "./tracked.js";

type Failure = { code: string; message: string };

/**
 * `run SCRIPT`: the library's current version of SCRIPT, with its signature, for the command frame. The
 * server refuses an unsigned script while the vault's unsigned-scripts setting is off (nothing is sent);
 * when it is on, the frame says so and the agent still applies its own local policy.
 */
export async function prepareRun(
  vault: Vault,
  tracked: Tracked,
): Promise<{ script: ScriptBody; signer: string | undefined } | Failure> {
  const name = String(tracked.parsed.flags.script ?? tracked.parsed.positional[0] ?? "");
  let script: Awaited<ReturnType<Vault["libraryScript"]>>;
  try {
    script = await vault.libraryScript(name);
  } catch (error) {
    if (isCustodyError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  if (script.content.length > MAX_INLINE_SCRIPT_BYTES) {
    return {
      code: "ERR_SIZE_LIMIT",
      message: `${name} is ${script.content.length} bytes; run sends scripts of at most ${MAX_INLINE_SCRIPT_BYTES}`,
    };
  }
  const allowUnsigned = vault.unsignedScriptsAllowed;
  const signed = script.signature !== undefined;
  if (!signed && !allowUnsigned) {
    return {
      code: "ERR_SCRIPT_UNSIGNED",
      message: `${name} is not signed and the vault's unsigned-scripts setting is off; nothing was sent`,
    };
  }
  return {
    signer: script.signer,
    script: {
      name,
      version: script.version,
      sha256: script.sha256,
      contentBase64: script.content.toString("base64"),
      ...(script.signature === undefined
        ? {}
        : { signatureBase64: script.signature.toString("base64"), crlPem: await vault.crl() }),
      allowUnsigned,
    },
  };
}

/**
 * Records the script a run sends (`live.script`: name, version, digest, the signer or `signed: false`),
 * once the dispatch is authorized and right before the frame leaves.
 */
export async function recordRunScript(vault: Vault, tracked: Tracked, script: ScriptBody): Promise<void> {
  const { entry } = tracked;
  const signed = script.signatureBase64 !== undefined;
  await vault.recordLiveOutcome(tracked.principal, {
    action: "live.script",
    target: `device:${entry.deviceId}`,
    outcome: "allow",
    reason: `${script.name} v${script.version} ${signed ? `signed by ${tracked.scriptSigner ?? "?"}` : "UNSIGNED"} sent to run`,
    details: {
      sessionId: entry.sessionId,
      caseId: entry.caseId,
      cmdId: entry.id,
      line: entry.line,
      script: script.name,
      version: script.version,
      sha256: script.sha256,
      signed,
      ...(tracked.scriptSigner === undefined ? {} : { signer: tracked.scriptSigner }),
    },
  });
}

/**
 * A completed run's stdout, as the agent sent it, stored as an item of the session's case (labelled with
 * the script, its digest, the exit code and the command); the log keeps the item id, not the bytes. The
 * same output again in the case is the same item.
 */
export async function storeRunOutput(
  vault: Vault,
  tracked: Tracked,
  data: Record<string, unknown> | undefined,
): Promise<{ data: Record<string, unknown> | undefined; itemId?: string; error?: Failure }> {
  if (data === undefined || typeof data.stdoutBase64 !== "string") {
    return { data, error: { code: "ERR_PROTOCOL", message: "the run's result carries no output" } };
  }
  const { stdoutBase64, ...kept } = data;
  const bytes = Buffer.from(stdoutBase64, "base64");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const { entry, session } = tracked;
  const script = tracked.script;
  // the same output again in the case is the same item (and no failed ingest in the log)
  if (vault.holdsItem(session.caseId, sha256))
    return { data: { ...kept, outputSha256: sha256 }, itemId: sha256 };
  try {
    const item = await vault.ingestLiveFile(tracked.principal, Readable.from([bytes]), {
      caseId: session.caseId,
      name: `run-${script?.name ?? "script"}-${entry.id}.stdout`,
      expectedSha256: sha256,
      expectedSize: bytes.length,
      deviceId: session.deviceId,
      source: `${session.deviceId}: run ${script?.name ?? ""}`,
      labels: {
        source: "live-response",
        kind: "run-output",
        session: session.id,
        device: session.deviceId,
        analyst: session.principal.id,
        command: entry.id,
        script: script?.name ?? "",
        scriptVersion: String(script?.version ?? ""),
        scriptSha256: script?.sha256 ?? "",
        signed: String(script?.signatureBase64 !== undefined),
        exitCode: String(data.exitCode),
      },
      authorizeAs: "live.advanced",
    });
    return { data: { ...kept, outputSha256: sha256 }, itemId: item.id };
  } catch (error) {
    if (isCustodyError(error, "ERR_ALREADY_EXISTS"))
      return { data: { ...kept, outputSha256: sha256 }, itemId: sha256 };
    const coded = isCustodyError(error) ? error : new CustodyError("ERR_INTERNAL", String(error));
    return {
      data: kept,
      error: { code: coded.code, message: `the output was not stored: ${coded.message}` },
    };
  }
}
