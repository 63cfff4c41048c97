import { CustodyError } from "@custody/core";
import { linuxCollectors } from "./linux/index.js";
import type { Collector } from "./types.js";
import { windowsCollectors } from "./windows/collectors.js";

/** The collectors for the platform this process runs on. */
export function platformCollectors(platform: NodeJS.Platform = process.platform): Collector[] {
  switch (platform) {
    case "linux":
      return linuxCollectors();
    case "win32":
      return windowsCollectors();
    default:
      throw new CustodyError("ERR_INVALID_ARGUMENT", `collection is not supported on ${platform}`, {
        details: { platform },
      });
  }
}
