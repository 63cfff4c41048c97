import { access } from "node:fs/promises";
import type { Clock } from "@custody/core";

export interface ClockState {
  systemTime: string;
  timeZone: string;
  utcOffsetMinutes: number;
  /** "yes", "no" or "unknown": whether the clock was synchronized to a time source. */
  synchronized: "yes" | "no" | "unknown";
  /** What the sync state was read from. */
  syncSource: string;
}

/** The system clock, time zone and synchronization state: recorded at the start and end of a run. */
export async function readClockState(clock: Clock): Promise<ClockState> {
  const now = clock.now();
  const sync = await readSyncState();
  return {
    systemTime: now.toISOString(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    utcOffsetMinutes: -now.getTimezoneOffset(),
    ...sync,
  };
}

// systemd-timesyncd touches this flag file once it has synchronized (systemd >= 239); chrony and ntpd
// keep their state in memory only, so without the flag the state is honestly unknown.
const TIMESYNC_FLAG = "/run/systemd/timesync/synchronized";

async function readSyncState(): Promise<Pick<ClockState, "synchronized" | "syncSource">> {
  if (process.platform !== "linux")
    return { synchronized: "unknown", syncSource: "not read on this platform" };
  const flag = await access(TIMESYNC_FLAG).then(
    () => true,
    () => false,
  );
  if (flag) return { synchronized: "yes", syncSource: TIMESYNC_FLAG };
  const timesyncd = await access("/run/systemd/timesync").then(
    () => true,
    () => false,
  );
  return timesyncd
    ? { synchronized: "no", syncSource: `${TIMESYNC_FLAG} absent while systemd-timesyncd runs` }
    : { synchronized: "unknown", syncSource: "no systemd-timesyncd state" };
}
