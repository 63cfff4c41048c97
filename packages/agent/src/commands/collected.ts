import type { Readable } from "node:stream";
import type { CollectionSink, Collector } from "@custody/collect";
import { CustodyError, throwIfAborted } from "@custody/core";

/** Which collector and which of its CSV files each command shows, and the columns that are numbers. */
const SOURCES: Record<string, { collector: string; file: string }> = {
  processes: { collector: "Processes", file: "Processes.csv" },
  connections: { collector: "NetworkConnections", file: "ActiveNetConnections.csv" },
  services: { collector: "Services", file: "Services.csv" },
  scheduledtasks: { collector: "ScheduledTasks", file: "ScheduledTasks.csv" },
  persistence: { collector: "Autoruns", file: "Autoruns.csv" },
};
const NUMERIC = new Set(["pid", "ppid", "threads", "localPort", "remotePort", "inode"]);
const MAX_CSV_BYTES = 64 * 1024 * 1024;

export function isCollectedCommand(name: string): boolean {
  return Object.hasOwn(SOURCES, name);
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_CSV_BYTES) throw new CustodyError("ERR_SIZE_LIMIT", "collector output over 64 MiB");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function toRows(csv: string, parseCsv: (text: string) => string[][]): Record<string, unknown>[] {
  const [header, ...lines] = parseCsv(csv);
  if (header === undefined) return [];
  return lines
    .filter((line) => line.length === header.length)
    .map((line) =>
      Object.fromEntries(
        header.map((name, i) => [
          name,
          NUMERIC.has(name) && /^\d+$/.test(line[i] ?? "") ? Number(line[i]) : line[i],
        ]),
      ),
    );
}

/**
 * Runs one `@custody/collect` collector of this platform with a sink that keeps its table in memory,
 * so the live commands report exactly what an investigation package would hold.
 */
export async function collectedRows(name: string, signal: AbortSignal): Promise<Record<string, unknown>[]> {
  const source = SOURCES[name];
  if (source === undefined) throw new CustodyError("ERR_UNKNOWN_COMMAND", `no collector behind ${name}`);
  if (process.platform !== "linux")
    throw new CustodyError("ERR_NOT_PRESENT", `${name} is not available on ${process.platform} yet`);
  // Loaded on first use: an idle agent does not carry the collectors (docs/benchmarks.md § agent).
  const { collectDevice, linuxCollectors, parseCsv } = await import("@custody/collect");
  const collector = linuxCollectors().find((c: Collector) => c.name === source.collector);
  if (collector === undefined)
    throw new CustodyError("ERR_NOT_PRESENT", `no ${source.collector} collector here`);
  let csv: string | undefined;
  const sink: CollectionSink = {
    async addStream(path, body) {
      if (path === `${source.collector}/${source.file}`) csv = await readText(body);
      else for await (const _ of body);
    },
  };
  const result = await collectDevice({
    sink,
    collectors: [collector],
    only: [collector.name],
    abortSignal: signal,
  });
  throwIfAborted(signal);
  const row = result.rows.find((r) => r.dataPoint === collector.name);
  if (csv === undefined)
    throw new CustodyError(
      "ERR_COMMAND_FAILED",
      `${collector.name} produced no table (${row?.status ?? "no status"} ${row?.errorCode ?? ""})`.trim(),
    );
  return toRows(csv, parseCsv);
}
