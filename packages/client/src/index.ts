export type { VaultClient, VaultClientOptions } from "./client.js";
export { createVaultClient } from "./client.js";
export type { TlsIdentity } from "./identity.js";
export { parseTlsIdentity } from "./identity.js";
