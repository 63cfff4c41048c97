import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, silentLogger } from "@custody/core";
import { resetWorkDir } from "../commands/putfile.js";
import { DEFAULT_POLICY_PATH, loadAgentPolicy } from "../policy.js";
import { backoffDelayMs } from "./backoff.js";
import { collectorSigner } from "./collector.js";
import { type AgentEvent, connectOnce } from "./connection.js";
import { ExecutedCommands } from "./replay.js";
import { DEFAULT_AGENT_DIR, loadIdentity } from "./state.js";

export interface RunAgentOptions {
  dir?: string;
  policyPath?: string;
  /** Stops the agent: the socket is closed and the promise resolves. */
  signal?: AbortSignal;
  logger?: Logger;
  onEvent?: (event: AgentEvent) => void;
  random?: () => number;
}

/**
 * The agent's life: load the identity and the local policy (refusing to start on either being unsafe),
 * then stay connected, reconnecting with full-jitter exponential back-off (1 s base, 60 s cap), reset
 * after each welcome.
 */
export async function runAgent(options: RunAgentOptions = {}): Promise<void> {
  const dir = options.dir ?? DEFAULT_AGENT_DIR;
  const logger = options.logger ?? silentLogger;
  const signal = options.signal ?? new AbortController().signal;
  const identity = await loadIdentity(dir);
  const { policy, hash } = await loadAgentPolicy(options.policyPath ?? DEFAULT_POLICY_PATH);
  const executed = await ExecutedCommands.open(dir);
  // files put there by putfile last one run of the agent
  await resetWorkDir(dir);
  logger.info(
    { deviceId: identity.state.deviceId, server: identity.state.serverUrl, policyHash: hash },
    "agent starting",
  );
  const signer = collectorSigner(identity);
  let attempt = 0;
  while (!signal.aborted) {
    const { welcomed } = await connectOnce({
      identity,
      policy,
      policyHash: hash,
      policyPath: options.policyPath ?? DEFAULT_POLICY_PATH,
      executed,
      collectorSigner: signer,
      logger,
      signal,
      onEvent: options.onEvent ?? (() => {}),
    });
    if (welcomed) attempt = 0;
    if (signal.aborted) break;
    const wait = backoffDelayMs(attempt++, options.random);
    logger.info({ waitMs: wait }, "disconnected; reconnecting");
    await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
}
