import { createLiveClient, type LiveClient, type LiveCommand } from "@custody/client";

/** The vault's verdict on a file `analyze` looked at (the device reports facts, the vault decides). */
export type Verdict = "malicious" | "suspicious" | "clean" | "unknown";

export interface PlaybookOptions {
  /** The vault server, `https://HOST:PORT`. */
  server: string;
  /** The analyst's identity (certificate and key, PEM), as `custody access issue-identity` made it. */
  identityPem: string;
  /** The vault CA, when the identity file does not carry it. */
  caPem?: string;
  deviceId: string;
  caseId: string;
  /** Why the device is collected: live response's `collect` requires one, and it goes into the log. */
  reason: string;
  /** The file the alert points at: taken into the vault, then analyzed. */
  suspiciousPath: string;
  /** Collectors for `collect -only`; all of them when absent. */
  only?: string[];
  /** The verdicts that isolate the device (default: malicious). */
  isolateOn?: Verdict[];
  /** Told of each command as it ends, for progress output. */
  onCommand?: (command: LiveCommand) => void;
}

export interface Evidence {
  what: string;
  caseId: string;
  itemId: string;
  /** The command that prints the item's custody report. */
  report: string;
}

export interface PlaybookResult {
  sessionId: string;
  verdict: Verdict;
  reasons: string[];
  /** What happened to the device's network: isolated, not needed (with the verdict), or why not. */
  isolation: { isolated: boolean; why: string };
  evidence: Evidence[];
  /** Every command of the session, in order, as the server's command log holds it. */
  commands: LiveCommand[];
}

/** A failed step: the command as the server recorded it (its id, status and error code). */
export class PlaybookStepError extends Error {
  constructor(readonly command: LiveCommand) {
    super(
      `${command.line}: ${command.status}${command.error === undefined ? "" : ` (${command.error.code}: ${command.error.message})`}`,
    );
    this.name = "PlaybookStepError";
  }
}

/** A console argument as the command grammar reads it: quoted when it has spaces, quotes or a leading `-`. */
export function consoleArgument(value: string): string {
  return value === "" || /[\s"&|<>]/.test(value) || value.startsWith("-")
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}

async function runCommand(live: LiveClient, sessionId: string, line: string): Promise<LiveCommand> {
  const submitted = await live.submit(sessionId, line);
  for await (const event of live.events(submitted.id)) if (event.type === "result") return event.command;
  return live.command(submitted.id);
}

/**
 * On an alert: open a live-response session on the device for the case, collect its investigation
 * package with the reason, take the suspicious file (`getfile -auto`: fileinfo first), `analyze` it, and
 * isolate the device when the vault's verdict is one of `isolateOn`. Everything goes through the server's
 * API, so each step is authorized, audited and in the session's transcript; the items it names are
 * evidence of the case with their custody reports.
 */
export async function runPlaybook(options: PlaybookOptions): Promise<PlaybookResult> {
  if (options.reason.trim() === "") throw new Error("a reason is required to collect a device");
  const live = createLiveClient({
    baseUrl: options.server,
    identityPem: options.identityPem,
    ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
  });
  const isolateOn = options.isolateOn ?? ["malicious"];
  const session = await live.openSession(options.deviceId, options.caseId);
  const step = async (line: string, mustSucceed = true): Promise<LiveCommand> => {
    const command = await runCommand(live, session.id, line);
    options.onCommand?.(command);
    if (mustSucceed && command.status !== "completed") throw new PlaybookStepError(command);
    return command;
  };
  try {
    const only = options.only === undefined ? "" : ` -only ${consoleArgument(options.only.join(","))}`;
    const collected = await step(`collect${only} -reason ${consoleArgument(options.reason)}`);
    const taken = await step(`getfile ${consoleArgument(options.suspiciousPath)} -auto`);
    const analyzed = await step(`analyze ${consoleArgument(options.suspiciousPath)}`);
    const verdict = (analyzed.data?.verdict ?? "unknown") as Verdict;
    const reasons = Array.isArray(analyzed.data?.reasons) ? analyzed.data.reasons.map(String) : [];
    let isolation = { isolated: false, why: `not needed: the verdict is ${verdict}` };
    if (isolateOn.includes(verdict)) {
      const isolated = await step("isolate", false);
      isolation =
        isolated.status === "completed"
          ? { isolated: true, why: `the verdict is ${verdict}; only the vault server stays reachable` }
          : { isolated: false, why: `isolate ${isolated.status}: ${isolated.error?.code ?? "no code"}` };
    }
    const evidence: Evidence[] = [];
    const item = (what: string, command: LiveCommand) => {
      if (command.itemId === undefined) return;
      evidence.push({
        what,
        caseId: options.caseId,
        itemId: command.itemId,
        report: `custody report ${command.itemId} --case ${options.caseId}`,
      });
    };
    item("investigation package", collected);
    item(`file ${options.suspiciousPath}`, taken);
    const commands = await live.commandLog(session.id);
    // the session's transcript becomes an item of the case when it closes
    await live.closeSession(session.id);
    return { sessionId: session.id, verdict, reasons, isolation, evidence, commands };
  } catch (error) {
    await live.closeSession(session.id).catch(() => undefined);
    throw error;
  } finally {
    live.close();
  }
}
