/**
 * `@custody/agent/protocol`: everything the agent, the server and the console share about the wire and
 * the commands (frame schemas, encode/decode, sequence checks, the command registry and grammar).
 */

export { type DecodeOptions, decodeFrame, type EncodeOptions, encodeFrame } from "./frames.js";
export {
  MAX_ARGS,
  MAX_LINE_BYTES,
  type ParsedCommandLine,
  parseCommandLine,
  renderCommandLine,
} from "./grammar.js";
export { protocolError } from "./protocol-error.js";
export {
  bindArguments,
  COMMANDS,
  type CommandPlatform,
  type CommandSpec,
  type CommandTier,
  commandNames,
} from "./registry.js";
export * from "./schemas.js";
export { FIRST_SEQ, SequenceChecker, SequenceCounter } from "./sequence.js";
export { renderTable } from "./table.js";
