import { isCustodyError } from "@custody/core";
import { describe, expect, it } from "vitest";
import { isExpired, isFinal, transition } from "../src/live/actions/state.js";
import { BATCH_COMMANDS, planSteps } from "../src/live/actions/steps.js";

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return isCustodyError(error) ? error.code : "not a CustodyError";
  }
  return undefined;
}

describe("the action state machine", () => {
  it("moves pending → in-progress → succeeded, and back to pending when the session could not open", () => {
    const action = { id: "A-1", state: "pending" as const } as {
      id: string;
      state: Parameters<typeof transition>[1];
    };
    transition(action, "in-progress");
    transition(action, "pending");
    transition(action, "in-progress");
    transition(action, "succeeded");
    expect(action.state).toBe("succeeded");
    expect(isFinal(action.state)).toBe(true);
  });

  it("refuses every move out of a final state, and a pending action that skips in-progress to an outcome", () => {
    for (const final of ["succeeded", "failed", "timed-out", "cancelled"] as const) {
      for (const next of [
        "pending",
        "in-progress",
        "succeeded",
        "failed",
        "timed-out",
        "cancelled",
      ] as const) {
        const action = { id: "A-2", state: final };
        expect(codeOf(() => transition(action, next))).toBe("ERR_CONFLICT");
        expect(action.state).toBe(final);
      }
    }
    for (const next of ["succeeded", "failed"] as const) {
      const action = { id: "A-3", state: "pending" as const };
      expect(codeOf(() => transition(action, next))).toBe("ERR_CONFLICT");
      expect(action.state).toBe("pending");
    }
    // only a pending action times out: one that started runs to its end
    expect(codeOf(() => transition({ id: "A-4", state: "in-progress" }, "timed-out"))).toBe("ERR_CONFLICT");
  });

  it("expires only pending actions, at their expiry time", () => {
    const at = "2026-12-06T10:00:00.000Z";
    const t = Date.parse(at);
    expect(isExpired({ state: "pending", expiresAt: at }, t - 1)).toBe(false);
    expect(isExpired({ state: "pending", expiresAt: at }, t)).toBe(true);
    expect(isExpired({ state: "in-progress", expiresAt: at }, t + 1)).toBe(false);
    expect(isExpired({ state: "cancelled", expiresAt: at }, t + 1)).toBe(false);
  });
});

describe("planning steps", () => {
  it("takes one device command, and refuses console commands, background runs and unknown ones", () => {
    expect(planSteps(["processes"], "command").map((s) => s.parsed.name)).toEqual(["processes"]);
    expect(codeOf(() => planSteps(["jobs"], "command"))).toBe("ERR_USAGE");
    expect(codeOf(() => planSteps(["processes &"], "command"))).toBe("ERR_USAGE");
    expect(codeOf(() => planSteps(["rm -rf /"], "command"))).toBe("ERR_UNKNOWN_COMMAND");
    expect(codeOf(() => planSteps(["fileinfo a b c d"], "command"))).toBe("ERR_USAGE");
  });

  it("keeps a batch to putfile, run and getfile", () => {
    expect(BATCH_COMMANDS).toEqual(expect.arrayContaining(["run", "getfile"]));
    expect(planSteps(["run a.sh", "getfile /tmp/x -auto"], "batch")).toHaveLength(2);
    expect(codeOf(() => planSteps(["run a.sh", "processes"], "batch"))).toBe("ERR_USAGE");
    expect(codeOf(() => planSteps(["run a.sh", "isolate"], "batch"))).toBe("ERR_USAGE");
  });

  it("refuses a batch whose run uses a file that a later putfile places (the order check)", () => {
    if (!BATCH_COMMANDS.includes("putfile")) return;
    // the script itself, or a parameter naming it, before its putfile
    expect(codeOf(() => planSteps(["run tool.sh", "putfile tool.sh"], "batch"))).toBe("ERR_PREREQUISITE");
    expect(
      codeOf(() =>
        planSteps(['run wrapper.sh -parameters "-x ./payload.bin"', "putfile payload.bin"], "batch"),
      ),
    ).toBe("ERR_PREREQUISITE");
    // placed first, then used: in order
    expect(planSteps(["putfile tool.sh", "run tool.sh", "getfile /tmp/out -auto"], "batch")).toHaveLength(3);
    expect(
      planSteps(["putfile payload.bin", 'run wrapper.sh -parameters "payload.bin"'], "batch"),
    ).toHaveLength(2);
    // a name no putfile of the batch places is the device's business
    expect(planSteps(['run wrapper.sh -parameters "/etc/hosts"'], "batch")).toHaveLength(1);
  });
});
