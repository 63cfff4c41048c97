import type { Collector } from "../types.js";
import { linuxAutoruns } from "./autoruns.js";
import { linuxNetworkConnections } from "./network.js";
import { linuxInstalledPrograms } from "./packages.js";
import { linuxPrefetch } from "./prefetch.js";
import { linuxProcesses } from "./processes.js";
import { linuxScheduledTasks } from "./scheduled.js";
import { linuxSecurityEventLog } from "./security-log.js";
import { linuxServices } from "./services.js";
import { linuxSmbSessions } from "./smb.js";
import { linuxSystemInformation } from "./sysinfo.js";
import { linuxTempDirectories } from "./temp.js";
import { linuxUsersAndGroups } from "./users.js";

/** The Linux data points, most volatile first. */
export function linuxCollectors(): Collector[] {
  return [
    linuxNetworkConnections,
    linuxSmbSessions,
    linuxProcesses,
    linuxSystemInformation,
    linuxTempDirectories,
    linuxServices,
    linuxScheduledTasks,
    linuxAutoruns,
    linuxInstalledPrograms,
    linuxPrefetch,
    linuxSecurityEventLog,
    linuxUsersAndGroups,
  ];
}
