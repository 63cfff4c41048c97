import * as agent from "@custody/agent";
import * as protocol from "@custody/agent/protocol";
import { describe, expect, test } from "vitest";

describe("@custody/agent public surface", () => {
  test("the protocol entry holds what the server and console share, and nothing of the runtime", () => {
    expect(Object.keys(protocol).sort()).toEqual(
      [
        "AGENT_FRAMES",
        "AGENT_SUBPROTOCOL",
        "COMMANDS",
        "FIRST_SEQ",
        "MAX_ARGS",
        "MAX_FRAME_BYTES",
        "MAX_INLINE_SCRIPT_BYTES",
        "MAX_LINE_BYTES",
        "MAX_ROWS_FRAME_BYTES",
        "MAX_SCRIPT_SIGNATURE_BYTES",
        "PROTOCOL_VERSION",
        "SERVER_FRAMES",
        "SequenceChecker",
        "SequenceCounter",
        "ackSchema",
        "bindArguments",
        "cancelSchema",
        "closeSessionSchema",
        "commandNames",
        "commandSchema",
        "decodeFrame",
        "deviceIdSchema",
        "downloadSchema",
        "encodeFrame",
        "envelopeSchema",
        "helloSchema",
        "packageUploadSchema",
        "parseCommandLine",
        "protocolError",
        "quarantineSchema",
        "remediationStepSchema",
        "renderCommandLine",
        "restoreSchema",
        "renderTable",
        "resultSchema",
        "rowsSchema",
        "scriptSchema",
        "transferSchema",
        "welcomeSchema",
      ].sort(),
    );
  });

  test("the package adds the executor, the policy, enrollment and the runtime", () => {
    const runtime = Object.keys(agent).filter((name) => !(name in protocol));
    expect(runtime.sort()).toEqual(
      [
        "AGENT_VERSION",
        "DEFAULT_AGENT_DIR",
        "DEFAULT_AGENT_POLICY",
        "DEFAULT_DENIED_PATHS",
        "DEFAULT_MAX_GETFILE_BYTES",
        "DEFAULT_POLICY_PATH",
        "agentPolicySchema",
        "backoffDelayMs",
        "checkAgentPolicy",
        "createCsr",
        "enrollAgent",
        "loadAgentPolicy",
        "loadIdentity",
        "parseAgentPolicy",
        "parseEnrollmentToken",
        "policyHash",
        "runAgent",
        "runCommand",
      ].sort(),
    );
  });
});
