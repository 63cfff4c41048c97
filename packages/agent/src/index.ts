export { type Envelope, envelopeSchema, PROTOCOL_VERSION } from "./protocol.js";
