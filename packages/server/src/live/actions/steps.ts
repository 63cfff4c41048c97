import {
  COMMANDS,
  type CommandSpec,
  type ParsedCommandLine,
  parseCommandLine,
} from "@custody/agent/protocol";
import { CustodyError } from "@custody/core";

/** The commands a batch may hold: the source document's putfile, run and getfile (putfile once the registry has it). */
export const BATCH_COMMANDS: readonly string[] = ["putfile", "run", "getfile"].filter((name) =>
  Object.hasOwn(COMMANDS, name),
);

/** A step parsed and checked before anything is queued. */
export interface PlannedStep {
  line: string;
  parsed: ParsedCommandLine;
  spec: CommandSpec;
}

/**
 * Parses each line with the console's grammar (ERR_UNKNOWN_COMMAND, ERR_USAGE, ERR_INVALID_ARGUMENT as a
 * session would) and keeps to device commands; a batch keeps to `BATCH_COMMANDS` and passes the order check.
 */
export function planSteps(lines: readonly string[], kind: "command" | "batch"): PlannedStep[] {
  const steps = lines.map((line, index) => planStep(line, index, kind));
  if (kind === "batch") checkBatchOrder(steps);
  return steps;
}

function planStep(line: string, index: number, kind: "command" | "batch"): PlannedStep {
  const parsed = withStep(index, () => parseCommandLine(line));
  const spec = COMMANDS[parsed.name] as CommandSpec;
  if (spec.where === "console") {
    throw new CustodyError(
      "ERR_USAGE",
      `step ${index + 1}: ${parsed.name} is answered by the console, not queued`,
    );
  }
  if (parsed.background) {
    throw new CustodyError(
      "ERR_USAGE",
      `step ${index + 1}: a queued command runs in order; '&' does not apply`,
    );
  }
  if (kind === "batch" && !BATCH_COMMANDS.includes(parsed.name)) {
    throw new CustodyError(
      "ERR_USAGE",
      `step ${index + 1}: a batch holds ${BATCH_COMMANDS.join(", ")} steps, not ${parsed.name}`,
      { details: { step: index + 1, command: parsed.name } },
    );
  }
  return { line, parsed, spec };
}

function withStep<T>(index: number, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CustodyError) {
      throw new CustodyError(error.code, `step ${index + 1}: ${error.message}`, {
        cause: error,
        details: { step: index + 1 },
      });
    }
    throw error;
  }
}

/** A named argument of a parsed line: its positional slot, or `-name value`. */
export function argumentOf(step: PlannedStep, name: string): string | undefined {
  const at = step.spec.params.indexOf(name);
  const positional = at < 0 ? undefined : step.parsed.positional[at];
  const flag = step.parsed.flags[name];
  return positional ?? (typeof flag === "string" ? flag : undefined);
}

/** The words a run step names: its script and its parameters (split like shell words, quotes dropped). */
function runWords(step: PlannedStep): string[] {
  const script = argumentOf(step, "script");
  const parameters = argumentOf(step, "parameters") ?? "";
  const words = parameters.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  return [script ?? "", ...words.map((word) => word.replace(/^["']|["']$/g, ""))].filter((w) => w !== "");
}

function refersTo(word: string, name: string): boolean {
  return word === name || word.endsWith(`/${name}`);
}

/**
 * The order check: a run step that names a file (as its script or a parameter) which a LATER putfile of
 * the same batch places would run before its file is there. Refused before anything is queued
 * (ERR_PREREQUISITE). Names no putfile of the batch places are the device's own business.
 */
export function checkBatchOrder(steps: readonly PlannedStep[]): void {
  const placed = new Set<string>();
  steps.forEach((step, index) => {
    if (step.parsed.name === "putfile") {
      const name = argumentOf(step, "name");
      if (name !== undefined) placed.add(name);
      return;
    }
    if (step.parsed.name !== "run") return;
    for (const word of runWords(step)) {
      const later = steps.findIndex(
        (other, at) =>
          at > index &&
          other.parsed.name === "putfile" &&
          refersTo(word, argumentOf(other, "name") ?? "\0") &&
          !placed.has(argumentOf(other, "name") ?? ""),
      );
      if (later >= 0) {
        throw new CustodyError(
          "ERR_PREREQUISITE",
          `step ${index + 1} (${step.line}) uses ${word}, which step ${later + 1} (${(steps[later] as PlannedStep).line}) places only after it: put the putfile first`,
          { details: { step: index + 1, putfileStep: later + 1, file: word, reason: "batch-order" } },
        );
      }
    }
  });
}
