import { runTool } from "../command.js";
import { toCsv } from "../csv.js";
import type { Collector } from "../types.js";
import { copyOne, nothingPresent } from "./files.js";

export const linuxSmbSessions: Collector = {
  name: "SmbSessions",
  platform: "linux",
  volatilityRank: 0,
  source: "smbstatus (inbound, Samba) if installed; /proc/fs/cifs (outbound CIFS mounts)",
  async collect(ctx) {
    const outcomes: { source: string; result: string }[] = [];
    // Samba keeps its session table in its own TDB files: smbstatus is the reader.
    const inbound = await runTool(ctx, "SmbInboundSessions.txt", "smbstatus", ["--json"]);
    outcomes.push({ source: "smbstatus --json", result: inbound });
    for (const file of ["DebugData", "Stats"]) {
      const copied = await copyOne(ctx, `SmbOutboundSessions-${file}.txt`, `/proc/fs/cifs/${file}`);
      outcomes.push({ source: `/proc/fs/cifs/${file}`, result: copied.status });
    }
    if (outcomes.every((o) => o.result === "absent"))
      nothingPresent(ctx, "Samba (smbstatus) and the cifs client");
    await ctx.emit("SmbSessions.csv", toCsv(["source", "result"], outcomes), { source: "this collector" });
  },
};
