import { createRequire } from "node:module";
import type forge from "node-forge";

const require = createRequire(import.meta.url);

/**
 * forge's DER codec alone (asn1 with the byte buffers and OID names it reads): 5 of forge's ~40
 * modules. Loading all of forge costs every command that verifies a signature ~40 ms of start-up.
 */
export function forgeDerCodec(): typeof forge {
  require("node-forge/lib/asn1.js");
  return require("node-forge/lib/forge.js") as typeof forge;
}

/** All of forge (its certificate builder), loaded when a certificate is first issued. */
export function forgeWithPki(): typeof forge {
  return require("node-forge") as typeof forge;
}
