import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { ActionState, ActionView, LiveClient } from "@custody/client";
import { CustodyError, toCustodyError } from "@custody/core";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { formatTable } from "../table.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";
import { copyVerified } from "./get.js";
import { escapeControls } from "./live-output.js";
import { openLiveClient } from "./live-session.js";

const STATES: readonly ActionState[] = [
  "pending",
  "in-progress",
  "succeeded",
  "failed",
  "timed-out",
  "cancelled",
];
const MAX_STEPS_FILE_BYTES = 64 * 1024;
const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const QUEUE_OPTIONS = { ...VAULT_OPTIONS, case: { type: "string" }, expires: { type: "string" } } as const;

async function withClient<T>(ctx: CommandContext, work: (client: LiveClient) => Promise<T>): Promise<T> {
  const client = await openLiveClient(ctx);
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

function caseOf(ctx: CommandContext): string {
  const caseId = ctx.string("case");
  if (caseId === undefined) throw new CustodyError("ERR_USAGE", "an action belongs to a case: --case ID");
  return caseId;
}

/** `--expires 90s|30m|12h|3d`: how long the action waits for its device. */
export function expiresInMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^([1-9]\d{0,6})([smhd])$/.exec(text);
  if (match === null) {
    throw new CustodyError("ERR_USAGE", `--expires ${text}: a duration like 90s, 30m, 12h or 3d`);
  }
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

/** A word of `--` as one argument of the console grammar (quoted when it holds a space or a quote). */
function quoteWord(word: string): string {
  return word === "" || /[\s"]/.test(word) ? `"${word.replaceAll('"', '""')}"` : word;
}

function printAction(ctx: CommandContext, action: ActionView): void {
  if (ctx.json) {
    ctx.printJson(action);
    return;
  }
  const lines = [
    `${action.id}  ${action.kind}  ${action.state}`,
    `device ${action.deviceId}  case ${action.caseId}  queued by ${action.queuedBy} at ${action.queuedAt}`,
    `expires ${action.expiresAt}${action.startedAt === undefined ? "" : `  started ${action.startedAt}`}${action.endedAt === undefined ? "" : `  ended ${action.endedAt}`}`,
  ];
  if (action.error !== undefined) lines.push(`error ${action.error.code}: ${action.error.message}`);
  if (action.transcriptItemId !== undefined) lines.push(`transcript item ${action.transcriptItemId}`);
  for (const line of lines) ctx.out(escapeControls(line));
  const rows = action.steps.map((step) => [
    String(step.index + 1),
    step.state,
    step.line,
    step.itemId ?? "",
    step.error?.code ?? "",
  ]);
  printTable(ctx, ["step", "state", "line", "item", "error"], rows);
}

function printTable(ctx: CommandContext, header: string[], rows: string[][]): void {
  const safe = rows.map((row) => row.map(escapeControls));
  for (const line of formatTable(header, safe).split("\n")) ctx.out(line);
}

export const actionsListCommand: CommandSpec = {
  path: ["actions", "list"],
  summary: "your queued live-response actions and their state",
  usage: `[--device D] [--case C] [--state S] --server URL --identity FILE
States: pending, in-progress, succeeded, failed, timed-out (expired before the device came back),
cancelled. Oldest first.`,
  options: {
    ...VAULT_OPTIONS,
    device: { type: "string" },
    case: { type: "string" },
    state: { type: "string" },
  },
  async run(ctx) {
    const state = ctx.string("state");
    if (state !== undefined && !STATES.includes(state as ActionState)) {
      throw new CustodyError("ERR_USAGE", `--state ${state}: one of ${STATES.join(", ")}`);
    }
    const device = ctx.string("device");
    const caseId = ctx.string("case");
    const actions = await withClient(ctx, (client) =>
      client.actions({
        ...(device === undefined ? {} : { deviceId: device }),
        ...(caseId === undefined ? {} : { caseId }),
        ...(state === undefined ? {} : { state: state as ActionState }),
      }),
    );
    if (ctx.json) {
      ctx.printJson(actions);
      return 0;
    }
    const rows = actions.map((a) => [
      a.id,
      a.kind,
      a.state,
      a.deviceId,
      a.caseId,
      a.queuedAt,
      String(a.steps.length),
    ]);
    printTable(ctx, ["id", "kind", "state", "device", "case", "queued", "steps"], rows);
    return 0;
  },
};

export const actionsShowCommand: CommandSpec = {
  path: ["actions", "show"],
  summary: "one queued action: its state, its steps and their results",
  usage: `ID --server URL --identity FILE
A step's result is an item of the action's case: \`custody actions result ID --step N --out FILE\`
(or \`custody get ITEM --case C --out FILE\`).`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const action = await withClient(ctx, (client) => client.action(ctx.positionals[0] as string));
    printAction(ctx, action);
    return 0;
  },
};

export const actionsCancelCommand: CommandSpec = {
  path: ["actions", "cancel"],
  summary: "cancel a queued action (a running one stops at its current step)",
  usage: `ID [--reason TEXT] --server URL --identity FILE`,
  options: { ...VAULT_OPTIONS, reason: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const action = await withClient(ctx, (client) =>
      client.cancelAction(ctx.positionals[0] as string, ctx.string("reason")),
    );
    printAction(ctx, action);
    return 0;
  },
};

export const actionsResultCommand: CommandSpec = {
  path: ["actions", "result"],
  summary: "copy a step's result (an item of the action's case) out of the vault, verified",
  usage: `ID --step N --out FILE --server URL --identity FILE
N counts from 1. The result is the step's item: a run's output, a file getfile took. It is written as
\`custody get\` writes: to a temporary name, under FILE only once every byte matched the item's
SHA-256; an existing FILE is never overwritten. A step without an item (not run, failed, or a command
whose rows are in the session's transcript) is ERR_NOT_FOUND.`,
  options: { ...VAULT_OPTIONS, step: { type: "string" }, out: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = ctx.string("out");
    const step = Number(ctx.string("step"));
    if (out === undefined || !Number.isSafeInteger(step) || step < 1) {
      throw new CustodyError("ERR_USAGE", "actions result needs --step N (from 1) and --out FILE");
    }
    const target = resolve(ctx.cwd, out);
    await assertOutputAbsent(target);
    const id = ctx.positionals[0] as string;
    const action = await withClient(ctx, (client) => client.action(id));
    const itemId = action.steps[step - 1]?.itemId;
    if (itemId === undefined) {
      throw new CustodyError("ERR_NOT_FOUND", `step ${step} of ${id} has no result item`, {
        details: { actionId: id, step, state: action.steps[step - 1]?.state ?? "absent" },
      });
    }
    const sha256 = await withVaultApi(ctx, async (api) => {
      const read = await api.read({ id: itemId, caseId: action.caseId });
      await copyVerified(read.stream, target);
      return read.computedSha256();
    });
    if (ctx.json) ctx.printJson({ ok: true, actionId: id, step, itemId, caseId: action.caseId, sha256, out });
    else ctx.err(`wrote step ${step}'s result ${itemId} to ${out}; computed sha256 ${sha256}: verified`);
    return 0;
  },
};

export const actionsQueueCommand: CommandSpec = {
  path: ["actions", "queue"],
  summary: "queue one live-response command for a device, online or not",
  usage: `DEVICE --case ID [--expires 3d] --server URL --identity FILE -- COMMAND [ARGS...]
Authorized and recorded now; it runs under your identity (checked again then) when the device is
connected, after the actions queued for it before. Still pending at --expires (3 days by default), it
ends timed-out. Prints the action's id; \`custody actions show ID\` follows it.`,
  options: QUEUE_OPTIONS,
  positionals: { min: 2 },
  async run(ctx) {
    const [device, ...words] = ctx.positionals as string[];
    const expires = expiresInMs(ctx.string("expires"));
    const action = await withClient(ctx, (client) =>
      client.queueAction({
        deviceId: device as string,
        caseId: caseOf(ctx),
        line: words.map(quoteWord).join(" "),
        ...(expires === undefined ? {} : { expiresInMs: expires }),
      }),
    );
    if (ctx.json) ctx.printJson(action);
    else ctx.out(action.id);
    return 0;
  },
};

export const actionsBatchCommand: CommandSpec = {
  path: ["actions", "batch"],
  summary: "queue a batch of putfile, run and getfile steps for a device",
  usage: `DEVICE --case ID --file steps.json [--expires 3d] --server URL --identity FILE
steps.json: {"steps": [{"line": "putfile tool.sh"}, {"line": "run collect.sh -parameters \\"-d /tmp\\""},
{"line": "getfile /tmp/out.txt -auto"}]} (or the array alone). The steps run in order in one session and
the batch stops at the first failure. A device has one pending batch at a time (ERR_BATCH_PENDING); a run
step that names a file a later putfile places is refused before anything is queued (ERR_PREREQUISITE).`,
  options: { ...QUEUE_OPTIONS, file: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = ctx.string("file");
    if (file === undefined) throw new CustodyError("ERR_USAGE", "a batch needs its steps: --file steps.json");
    const steps = await readSteps(resolve(ctx.cwd, file));
    const expires = expiresInMs(ctx.string("expires"));
    const action = await withClient(ctx, (client) =>
      client.queueBatch({
        deviceId: ctx.positionals[0] as string,
        caseId: caseOf(ctx),
        steps,
        ...(expires === undefined ? {} : { expiresInMs: expires }),
      }),
    );
    if (ctx.json) ctx.printJson(action);
    else ctx.out(action.id);
    return 0;
  },
};

/** The steps file: `{"steps": [{"line": ...}]}` or the array alone; each line a console command line. */
export async function readSteps(file: string): Promise<string[]> {
  const info = await stat(file).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read the steps file ${file}`);
  });
  if (!info.isFile() || info.size > MAX_STEPS_FILE_BYTES) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `${file} is not a steps file of at most ${MAX_STEPS_FILE_BYTES} bytes`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} is not JSON`, { cause });
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(list) || list.length === 0) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} holds no steps: {"steps": [{"line": "..."}]}`);
  }
  return list.map((step, index) => {
    const line = typeof step === "string" ? step : (step as { line?: unknown } | null)?.line;
    if (typeof line !== "string" || line === "") {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${file}: step ${index + 1} has no line`);
    }
    return line;
  });
}
