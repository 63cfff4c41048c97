import type { CommandSpec } from "../command.js";
import { runVerifySignature, verifySignatureOptions } from "./verify-signature.js";

// Thin dispatcher: the archive half (investigation packages, .zip) extends this; everything else is a
// file with a detached CMS signature.
export const verifyCommand: CommandSpec = {
  path: ["verify"],
  summary: "verify a file's detached signature offline (exit 0 valid, 1 invalid with the reason)",
  usage: [
    "FILE [--signature FILE.p7s] --ca ca.pem [--crl crl.pem] [--at TIME] [--json]",
    "",
    "Checks the CMS signature (FILE.p7s by default) over FILE's exact bytes: the digest, the signature,",
    "the chain to a --ca certificate (repeatable), validity at the signing time and now (or --at),",
    "key usage, and revocation in each --crl. Nothing is fetched from the network.",
  ].join("\n"),
  options: { ...verifySignatureOptions },
  positionals: { min: 1, max: 1 },
  run: (ctx) => runVerifySignature(ctx),
};
