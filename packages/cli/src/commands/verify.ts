import type { CommandSpec } from "../command.js";
import { absolute } from "./key-files.js";
import { isZipFile, runVerifyPackage } from "./package-verify.js";
import { runVerifySignature, verifySignatureOptions } from "./verify-signature.js";

// Thin dispatcher: an investigation package (.zip or ZIP magic) is verified whole; anything else is a
// file with a detached CMS signature.
export const verifyCommand: CommandSpec = {
  path: ["verify"],
  summary: "verify an investigation package or a file's detached signature offline (exit 0 valid, 1 invalid)",
  usage: [
    "P.zip --ca ca.pem [--crl crl.pem] [--at TIME] [--tsa-ca FILE] [--json]",
    "FILE [--signature FILE.p7s] --ca ca.pem [--crl crl.pem] [--at TIME] [--tsa-ca FILE] [--json]",
    "",
    "A package (.zip or ZIP magic; without --signature) is checked without extracting it: the custody",
    "manifest's signature and chain, every data/ file against manifest-sha256.txt and the custody",
    "manifest (listed exactly once, size and sha256), the tag manifest, Payload-Oxum; a hostile archive",
    "is refused. Every problem is printed with its code and path (--json gives the whole report).",
    "Any other FILE: the CMS signature (FILE.p7s by default) over FILE's exact bytes: the digest, the",
    "signature, the chain to a --ca certificate (repeatable), validity at the signing time and now (or",
    "--at), key usage, and revocation in each --crl. Nothing is fetched from the network.",
    "--tsa-ca (repeatable) requires an RFC 3161 token in the signature from a TSA under that CA and prints",
    "its trusted time; the certificates must then be valid at the signing time and at the trusted time,",
    "not now, so a signature outlives its certificate. Without --tsa-ca a token is reported, not checked.",
  ].join("\n"),
  options: { ...verifySignatureOptions },
  positionals: { min: 1, max: 1 },
  // --signature always means a detached signature, even over a .zip file.
  run: async (ctx) =>
    ctx.string("signature") === undefined && (await isZipFile(absolute(ctx, String(ctx.positionals[0]))))
      ? runVerifyPackage(ctx)
      : runVerifySignature(ctx),
};
