import { arch, hostname, platform } from "node:os";
import { CustodyError, type ErrorCode, type Logger, toCustodyError } from "@custody/core";
import WebSocket from "ws";
import type { CollectorSignerSource } from "../commands/collect.js";
import { splitScriptArguments } from "../commands/script-args.js";
import { checkScript } from "../commands/script-check.js";
import { decodeFrame, encodeFrame } from "../frames.js";
import { checkAgentPolicy } from "../policy.js";
import type { AgentPolicy } from "../policy-types.js";
import { bindArguments, COMMANDS } from "../registry.js";
import {
  AGENT_SUBPROTOCOL,
  type CommandBody,
  type FrameBodies,
  MAX_FRAME_BYTES,
  type ServerFrame,
} from "../schemas.js";
import { SequenceChecker, SequenceCounter } from "../sequence.js";
import { AGENT_VERSION } from "../version.js";
import { serverExchange } from "./exchange.js";
import { executeCommand } from "./executor.js";
import type { ExecutedCommands } from "./replay.js";
import { type AgentIdentity, readNonce, writeNonce } from "./state.js";
import { packageUploader, transferUploader } from "./upload.js";

export const MAX_CONCURRENT_COMMANDS = 4;
const MAX_NOT_AFTER_MS = 24 * 3600 * 1000;
/** The server pings every 20 s; silence this long means the connection is dead. */
const SILENCE_MS = 60_000;

export type AgentEvent =
  | { kind: "connected" }
  | { kind: "welcome"; nonce: string }
  | { kind: "refused"; cmdId: string; code: ErrorCode }
  | { kind: "started"; cmdId: string; name: string }
  | { kind: "finished"; cmdId: string; status: string }
  | { kind: "closed"; code: number; reason: string };

export interface ConnectionOptions {
  identity: AgentIdentity;
  policy: AgentPolicy;
  policyHash: string;
  executed: ExecutedCommands;
  logger: Logger;
  onEvent: (event: AgentEvent) => void;
  signal: AbortSignal;
  /** The device's own package signer, kept across connections. */
  collectorSigner: CollectorSignerSource;
  /** The policy file: remediation never touches it (nor the agent's folder or program). */
  policyPath?: string;
}

interface Running {
  controller: AbortController;
  sessionId: string;
}

function refusal(cmdId: string, error: unknown): FrameBodies["ack"] {
  const coded = toCustodyError(error, "ERR_COMMAND_FAILED", "refused");
  return { cmdId, accepted: false, code: coded.code, message: coded.message.slice(0, 4000) };
}

/**
 * One connection to the server: hello, welcome (its nonce stored before anything else), then commands.
 * Resolves with whether the server welcomed the agent once the socket is closed.
 */
export function connectOnce(options: ConnectionOptions): Promise<{ welcomed: boolean }> {
  const { identity, policy, logger } = options;
  const url = new URL("/v1/agent", identity.state.serverUrl.replace(/^https:/, "wss:"));
  const ws = new WebSocket(url, AGENT_SUBPROTOCOL, {
    cert: identity.certificatePem,
    key: identity.keyPem,
    ca: [identity.caPem],
    rejectUnauthorized: true,
    minVersion: "TLSv1.3",
    maxPayload: MAX_FRAME_BYTES,
    handshakeTimeout: 15_000,
    perMessageDeflate: false,
    followRedirects: false,
  });
  const sent = new SequenceCounter();
  const received = new SequenceChecker();
  const running = new Map<string, Running>();
  const upload = transferUploader(identity);
  const uploadPackage = packageUploader(identity);
  const exchange = serverExchange(identity);
  const own = [
    identity.dir,
    process.execPath,
    ...(options.policyPath === undefined ? [] : [options.policyPath]),
  ];
  let welcomed = false;
  let queue = Promise.resolve();
  let silence: NodeJS.Timeout | undefined;

  const send = <T extends keyof FrameBodies>(type: T, body: FrameBodies[T]): Promise<void> =>
    new Promise((resolve, reject) => {
      if (ws.readyState !== WebSocket.OPEN)
        return reject(new CustodyError("ERR_BACKEND_UNAVAILABLE", "the connection closed"));
      ws.send(encodeFrame(type, body, { seq: sent.next() }), (error) => (error ? reject(error) : resolve()));
    });
  const fail = (error: unknown) => {
    logger.warn({ err: error }, "protocol error; closing");
    ws.close(1008, (error as Error).message.slice(0, 120));
  };
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => ws.terminate(), SILENCE_MS);
  };

  const admit = async (command: CommandBody): Promise<void> => {
    if (command.deviceId !== identity.state.deviceId)
      throw new CustodyError("ERR_ACCESS_DENIED", `the command is for ${command.deviceId}, not this device`);
    const notAfter = new Date(command.notAfter);
    if (notAfter.getTime() < Date.now())
      throw new CustodyError("ERR_REPLAY", "the command's notAfter has passed", {
        details: { reason: "expired" },
      });
    // Ids are remembered until their notAfter: a far-off one would let a server fill that memory.
    if (notAfter.getTime() > Date.now() + MAX_NOT_AFTER_MS)
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the command's notAfter is more than a day ahead");
    checkAgentPolicy(command, policy);
    const spec = COMMANDS[command.name];
    if (spec !== undefined && !spec.platforms.includes(process.platform as "linux"))
      throw new CustodyError("ERR_NOT_PRESENT", `${command.name} does not exist on ${process.platform}`);
    const args = bindArguments(command.name, command.positional, command.flags);
    // a script the agent would not run is refused before it is accepted
    if (command.name === "run") {
      checkScript(command.script, String(args.script), policy, identity.caPem);
      if (typeof args.parameters === "string") splitScriptArguments(args.parameters);
    }
    if (running.size >= MAX_CONCURRENT_COMMANDS)
      throw new CustodyError("ERR_SERVER_BUSY", `${MAX_CONCURRENT_COMMANDS} commands are already running`);
    await options.executed.take(command.cmdId, notAfter, new Date());
  };

  const start = async (command: CommandBody): Promise<void> => {
    try {
      await admit(command);
    } catch (error) {
      options.onEvent({
        kind: "refused",
        cmdId: command.cmdId,
        code: toCustodyError(error, "ERR_COMMAND_FAILED", "").code,
      });
      await send("ack", refusal(command.cmdId, error));
      return;
    }
    const controller = new AbortController();
    running.set(command.cmdId, { controller, sessionId: command.sessionId });
    const timer = setTimeout(() => controller.abort("timeout"), command.timeoutMs);
    await send("ack", { cmdId: command.cmdId, accepted: true });
    options.onEvent({ kind: "started", cmdId: command.cmdId, name: command.name });
    // Runs beside the frame queue, so a cancel for it is read while it works.
    void executeCommand(command, {
      policy,
      signal: controller.signal,
      upload,
      packageUploader: uploadPackage,
      collectorSigner: options.collectorSigner,
      exchange,
      agentDir: identity.dir,
      own,
      caPem: identity.caPem,
      serverUrl: identity.state.serverUrl,
      peer: () => {
        // the socket this connection really uses: isolation must keep exactly it open
        const socket = (ws as unknown as { _socket?: { remoteAddress?: string; remotePort?: number } })
          ._socket;
        return socket?.remoteAddress === undefined || socket.remotePort === undefined
          ? undefined
          : { address: socket.remoteAddress, port: socket.remotePort };
      },
      sendRows: (rows, chunk) => send("rows", { cmdId: command.cmdId, chunk, rows }),
    })
      .then((result) =>
        send("result", result).then(() =>
          options.onEvent({ kind: "finished", cmdId: command.cmdId, status: result.status }),
        ),
      )
      .catch((error: unknown) => logger.warn({ err: error, cmdId: command.cmdId }, "result not delivered"))
      .finally(() => {
        clearTimeout(timer);
        running.delete(command.cmdId);
      });
  };

  const handle = async (frame: ServerFrame): Promise<void> => {
    if (!welcomed && frame.t !== "welcome")
      throw new CustodyError("ERR_PROTOCOL", `${frame.t} before welcome`);
    switch (frame.t) {
      case "welcome":
        if (welcomed) throw new CustodyError("ERR_PROTOCOL", "a second welcome");
        await writeNonce(identity.dir, frame.body.nonce);
        welcomed = true;
        options.onEvent({ kind: "welcome", nonce: frame.body.nonce });
        return;
      case "command":
        return start(frame.body);
      case "cancel":
        running.get(frame.body.cmdId)?.controller.abort(frame.body.reason || "cancelled");
        return;
      case "close-session":
        for (const job of running.values())
          if (job.sessionId === frame.body.sessionId) job.controller.abort("session closed");
        return;
    }
  };

  return new Promise((resolve) => {
    const stop = () => ws.close(1001, "agent stopping");
    options.signal.addEventListener("abort", stop, { once: true });
    ws.on("open", () => {
      heard();
      options.onEvent({ kind: "connected" });
      const capabilities = Object.entries(COMMANDS)
        .filter(([, spec]) => spec.where === "agent" && policy.tiers[spec.tier])
        .map(([name]) => name);
      readNonce(identity.dir)
        .then((prevNonce) =>
          send("hello", {
            deviceId: identity.state.deviceId,
            agentVersion: AGENT_VERSION,
            hostname: hostname().slice(0, 255),
            os: platform(),
            arch: arch(),
            policyHash: options.policyHash,
            prevNonce,
            capabilities,
          }),
        )
        .catch(fail);
    });
    ws.on("ping", heard);
    ws.on("message", (data, isBinary) => {
      heard();
      queue = queue.then(async () => {
        try {
          if (isBinary) throw new CustodyError("ERR_PROTOCOL", "binary frames are not part of the protocol");
          const frame = decodeFrame(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), {
            from: "server",
          }) as ServerFrame;
          received.accept(frame.seq);
          await handle(frame);
        } catch (error) {
          fail(error);
        }
      });
    });
    ws.on("error", (error) => logger.warn({ err: error }, "connection error"));
    ws.on("close", (code, reason) => {
      clearTimeout(silence);
      options.signal.removeEventListener("abort", stop);
      // Nothing can report a result once the socket is gone: the work stops rather than run unseen.
      for (const job of running.values()) job.controller.abort("disconnected");
      options.onEvent({ kind: "closed", code, reason: reason.toString() });
      resolve({ welcomed });
    });
  });
}
