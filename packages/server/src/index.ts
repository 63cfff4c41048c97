export { AllowList } from "./allow-list.js";
export type { EnrollLimits } from "./live/enroll.js";
export type { DeviceHub, DeviceStatus, ServerFrameType } from "./live/hub.js";
export type { ServerLimits, ServerOptions } from "./options.js";
export { DEFAULT_LIMITS } from "./options.js";
export type { CustodyServer } from "./server.js";
export { defaultServerNames, startServer } from "./server.js";
export type { ServerFile } from "./server-file.js";
export { SERVER_FILE } from "./server-file.js";
