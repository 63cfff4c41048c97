import { CustodyError } from "@custody/core";

/** Thrown for anything on the wire that breaks the protocol; `details.reason` says what. */
export function protocolError(
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
): CustodyError {
  return new CustodyError("ERR_PROTOCOL", message, { details: { reason, ...details } });
}
