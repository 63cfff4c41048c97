export type { VaultClient, VaultClientOptions } from "./client.js";
export { createVaultClient } from "./client.js";
export type { TlsIdentity } from "./identity.js";
export { parseTlsIdentity } from "./identity.js";
export type {
  ActionFilter,
  ActionState,
  ActionStep,
  ActionView,
  LiveClient,
  LiveCommand,
  LiveCommandEvent,
  LiveCommandStatus,
  LiveSessionView,
  QueueActionRequest,
  QueueBatchRequest,
} from "./live.js";
export { createLiveClient } from "./live.js";
