import type { LiveLimits } from "./limits.js";
import { pathArgument, recentFileinfo, requestedPath, type Tracked } from "./tracked.js";
import type { Transfer, Transfers } from "./transfers.js";

/**
 * getfile's upload slot, bound to the size and sha256 its fileinfo gave (run within the prerequisite
 * window), or why there is none: no fileinfo, one without a size and digest, or a file over the getfile
 * limit. Refused before any byte moves.
 */
export function getfileTransfer(
  tracked: Tracked,
  limits: LiveLimits,
  transfers: Transfers,
): { transfer: Transfer } | { failure: { code: string; message: string } } {
  const path = pathArgument(tracked.parsed);
  const info = recentFileinfo(tracked, limits.prerequisiteWindowMs);
  if (info === undefined) {
    return {
      failure: { code: "ERR_PREREQUISITE", message: `the fileinfo of ${path} gave no size and digest` },
    };
  }
  const size = Number(info.data.size);
  const sha256 = String(info.data.sha256 ?? "");
  if (!Number.isSafeInteger(size) || !/^[0-9a-f]{64}$/.test(sha256)) {
    return {
      failure: { code: "ERR_PREREQUISITE", message: `the fileinfo of ${path} gave no size and sha256` },
    };
  }
  if (size > limits.maxGetfileBytes) {
    return {
      failure: {
        code: "ERR_SIZE_LIMIT",
        message: `${path} is ${size} bytes, over the getfile limit of ${limits.maxGetfileBytes}; nothing was sent`,
      },
    };
  }
  const transfer = transfers.create({
    cmdId: tracked.entry.id,
    session: tracked.session,
    principal: tracked.principal,
    path: requestedPath(tracked),
    fileinfoCmdId: info.cmdId,
    data: info.data,
    sha256,
    size,
  });
  return { transfer };
}
