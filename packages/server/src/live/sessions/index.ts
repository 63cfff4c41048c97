export type { AuthorizationPhase, CommandToAuthorize } from "./authorize.js";
export { authorizeCommand } from "./authorize.js";
export { DEFAULT_LIVE_LIMITS, type LiveLimits } from "./limits.js";
export { EVENTS_CONTENT_TYPE, registerLiveSessions, sessionRoutes } from "./routes.js";
export { LiveSessions, type LiveSessionsOptions } from "./service.js";
export type { CommandEntry, CommandEvent, CommandStatus, SessionView } from "./session.js";
export { TRANSCRIPT_FORMAT } from "./transcript.js";
