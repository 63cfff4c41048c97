import { Readable } from "node:stream";
import {
  type Clock,
  CustodyError,
  type Logger,
  silentLogger,
  systemClock,
  toCustodyError,
} from "@custody/core";
import { type ClockState, readClockState } from "./clock-state.js";
import { createContext } from "./context.js";
import { platformCollectors } from "./platform.js";
import { type RunLog, runLog } from "./run-log.js";
import {
  type CollectionSink,
  type CollectionSummaryRow,
  type CollectLimits,
  type Collector,
  type CollectProgress,
  DEFAULT_LIMITS,
  type ParseReport,
} from "./types.js";

export interface CollectDeviceOptions {
  sink: CollectionSink;
  /** Data point names to collect; the others are recorded as "skipped". */
  only?: readonly string[];
  /** Defaults to this platform's collectors. */
  collectors?: readonly Collector[];
  clock?: Clock;
  logger?: Logger;
  onProgress?: (event: CollectProgress) => void;
  abortSignal?: AbortSignal;
  limits?: Partial<CollectLimits>;
  /**
   * Where the device's files are read from (default `/`): a mounted image, or a prepared tree in tests.
   * Kernel state (/proc/<pid>, /proc/net, /sys/class/net) is always read from the running kernel.
   */
  root?: string;
}

export interface CollectionResult {
  rows: CollectionSummaryRow[];
  clockAtStart: ClockState;
  clockAtEnd: ClockState;
}

export const COLLECTOR_LOG = "CollectorLog";

/**
 * Collects every data point into the sink, most volatile first (RFC 3227). A failing data point is
 * recorded and the rest go on; a hanging one is cut by its timeout. The run log is a data point too.
 */
export async function collectDevice(options: CollectDeviceOptions): Promise<CollectionResult> {
  const clock = options.clock ?? systemClock;
  const limits: CollectLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const collectors = orderByVolatility(options.collectors ?? platformCollectors());
  const selected = selectCollectors(collectors, options.only);
  const log = runLog(clock, options.logger ?? silentLogger);
  const onProgress = options.onProgress ?? (() => {});
  const clockAtStart = await readClockState(clock);
  log.write("info", { event: "collection-start", clock: clockAtStart });
  const rows: CollectionSummaryRow[] = [];
  for (const [index, collector] of collectors.entries()) {
    if (options.abortSignal?.aborted) break;
    if (!selected.has(collector.name)) {
      rows.push(skippedRow(collector, clock.now(), "not selected with --only"));
      continue;
    }
    onProgress({ kind: "start", dataPoint: collector.name, index, total: collectors.length });
    const row = await runOne(collector, { ...options, clock, limits, log, onProgress });
    rows.push(row);
    onProgress({ kind: "end", row });
  }
  if (options.abortSignal?.aborted) {
    throw new CustodyError("ERR_ABORTED", "collection aborted", {
      cause: options.abortSignal.reason,
      details: { rows },
    });
  }
  const clockAtEnd = await readClockState(clock);
  log.write("info", { event: "collection-end", clock: clockAtEnd });
  rows.push(await writeRunLog(options.sink, log, rows, { clockAtStart, clockAtEnd }, clock));
  return { rows, clockAtStart, clockAtEnd };
}

function orderByVolatility(collectors: readonly Collector[]): Collector[] {
  return [...collectors].sort((a, b) => a.volatilityRank - b.volatilityRank);
}

function selectCollectors(
  collectors: readonly Collector[],
  only: readonly string[] | undefined,
): Set<string> {
  const names = new Set(collectors.map((c) => c.name));
  if (only === undefined) return names;
  const unknown = only.filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `unknown data point(s): ${unknown.join(", ")}`, {
      details: { unknown, known: [...names] },
    });
  }
  return new Set(only);
}

function skippedRow(collector: Collector, at: Date, reason: string): CollectionSummaryRow {
  return {
    dataPoint: collector.name,
    source: `${collector.source} (${reason})`,
    status: "skipped",
    startedAt: at.toISOString(),
    durationMs: 0,
    files: 0,
    bytes: 0,
  };
}

interface RunOptions extends CollectDeviceOptions {
  clock: Clock;
  limits: CollectLimits;
  log: RunLog;
  onProgress: (event: CollectProgress) => void;
}

async function runOne(collector: Collector, options: RunOptions): Promise<CollectionSummaryRow> {
  const startedAt = options.clock.now();
  const started = performance.now();
  const controller = new AbortController();
  const outer = options.abortSignal;
  const forward = (): void => controller.abort(outer?.reason);
  outer?.addEventListener("abort", forward, { once: true });
  const { ctx, stats, close } = createContext({
    dataPoint: collector.name,
    sink: options.sink,
    limits: options.limits,
    abortSignal: controller.signal,
    logger: options.log.logger,
    now: () => options.clock.now(),
    onProgress: options.onProgress,
    ...(options.root === undefined ? {} : { root: options.root }),
  });
  options.log.write("info", { event: "data-point-start", dataPoint: collector.name });
  const outcome = await raceTimeout(collector.collect(ctx), options.limits.timeoutMs, controller);
  outer?.removeEventListener("abort", forward);
  await close();
  const failure =
    outcome.kind === "threw"
      ? toCustodyError(outcome.error, "ERR_COLLECT_FAILED", `${collector.name} failed`)
      : undefined;
  const refused = failure?.code === "ERR_NOT_PRESENT" ? stats.problems[0]?.code : undefined;
  const errorCode = outcome.kind === "timeout" ? "ERR_TIMEOUT" : (refused ?? failure?.code);
  // A source that was refused (a symlinked path, denial) is there: "not-present" would hide it.
  const status =
    failure?.code === "ERR_NOT_PRESENT" && stats.problems.length === 0
      ? "not-present"
      : errorCode !== undefined
        ? stats.files > 0
          ? "partial"
          : "failed"
        : stats.problems.length > 0
          ? "partial"
          : "ok";
  const row: CollectionSummaryRow = {
    dataPoint: collector.name,
    source: [collector.source, ...stats.commands].join("; "),
    status,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    files: stats.files,
    bytes: stats.bytes,
  };
  Object.assign(row, parsingColumns(stats.parsing));
  const code = status === "not-present" ? undefined : (errorCode ?? stats.problems[0]?.code);
  if (code !== undefined) row.errorCode = code;
  options.log.write(status === "ok" || status === "not-present" ? "info" : "warn", {
    event: "data-point-end",
    ...row,
    ...(failure === undefined ? {} : { error: failure.message }),
    problems: stats.problems,
  });
  return row;
}

/** The summary's code page, parser language and unparsed-lines cells from a data point's parse reports. */
export function parsingColumns(
  reports: readonly ParseReport[],
): Pick<CollectionSummaryRow, "codePage" | "parserLanguage" | "unparsedLines"> {
  if (reports.length === 0) return {};
  const byPage = new Map<string, string[]>();
  for (const r of reports) {
    const tools = byPage.get(r.codePage) ?? [];
    if (!tools.includes(r.tool)) tools.push(r.tool);
    byPage.set(r.codePage, tools);
  }
  const languages = [
    ...new Set(reports.flatMap((r) => (r.language === undefined ? [] : [`${r.tool}: ${r.language}`]))),
  ];
  return {
    codePage: [...byPage].map(([page, tools]) => `${page}: ${tools.join(", ")}`).join("; "),
    ...(languages.length > 0 ? { parserLanguage: languages.join("; ") } : {}),
    unparsedLines: reports.reduce((sum, r) => sum + r.unparsed, 0),
  };
}

type Outcome = { kind: "done" } | { kind: "threw"; error: unknown } | { kind: "timeout" };

async function raceTimeout(
  work: Promise<void>,
  timeoutMs: number,
  controller: AbortController,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new CustodyError("ERR_TIMEOUT", `timed out after ${timeoutMs} ms`));
      resolve({ kind: "timeout" });
    }, timeoutMs);
  });
  const finished = work.then(
    (): Outcome => ({ kind: "done" }),
    (error: unknown): Outcome => ({ kind: "threw", error }),
  );
  try {
    return await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort(new CustodyError("ERR_ABORTED", "data point finished"));
  }
}

async function writeRunLog(
  sink: CollectionSink,
  log: RunLog,
  rows: CollectionSummaryRow[],
  clocks: { clockAtStart: ClockState; clockAtEnd: ClockState },
  clock: Clock,
): Promise<CollectionSummaryRow> {
  const startedAt = clock.now();
  const started = performance.now();
  const files = log.files(rows, clocks);
  let bytes = 0;
  for (const [name, text] of files) {
    const body = Buffer.from(text);
    bytes += body.length;
    await sink.addStream(`${COLLECTOR_LOG}/${name}`, Readable.from([body]), {
      dataPoint: COLLECTOR_LOG,
      source: "custody collector",
      collectedAt: clock.now(),
    });
  }
  return {
    dataPoint: COLLECTOR_LOG,
    source: "custody collector run log",
    status: "ok",
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    files: files.length,
    bytes,
  };
}
