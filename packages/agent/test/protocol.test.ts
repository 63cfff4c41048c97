import {
  type CommandBody,
  decodeFrame,
  encodeFrame,
  FIRST_SEQ,
  MAX_FRAME_BYTES,
  SequenceChecker,
  SequenceCounter,
} from "@custody/agent/protocol";
import { CustodyError } from "@custody/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";

const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
const command: CommandBody = {
  cmdId: "c-1",
  sessionId: "s-1",
  deviceId: DEVICE,
  name: "dir",
  positional: ["/tmp"],
  flags: { recursive: true },
  cwd: null,
  timeoutMs: 600_000,
  notAfter: "2026-12-06T10:00:00.000Z",
  issuedBy: "alice",
};

function refusal(fn: () => unknown): { code: string; reason: unknown } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return { code: (error as CustodyError).code, reason: (error as CustodyError).details.reason };
  }
  throw new Error("expected a refusal");
}

function frame(overrides: Record<string, unknown>): string {
  return JSON.stringify({
    v: 1,
    t: "command",
    id: "f1",
    seq: 1,
    ts: "2026-12-06T10:00:00.000Z",
    body: command,
    ...overrides,
  });
}

describe("frames", () => {
  test("a command round-trips through encode and decode", () => {
    const text = encodeFrame("command", command, { seq: 1 });
    const decoded = decodeFrame(text, { from: "server" });
    expect(decoded.t).toBe("command");
    expect(decoded.body).toEqual(command);
    expect(decodeFrame(Buffer.from(text), { from: "server" }).seq).toBe(1);
  });

  test("every frame type encodes and decodes from its own side", () => {
    const bodies = {
      hello: {
        deviceId: DEVICE,
        agentVersion: "0.1.0",
        hostname: "h",
        os: "linux",
        arch: "x64",
        policyHash: "a".repeat(64),
        prevNonce: null,
        capabilities: ["dir"],
      },
      ack: { cmdId: "c-1", accepted: false, code: "ERR_AGENT_POLICY", message: "no" },
      rows: { cmdId: "c-1", chunk: 0, rows: [{ a: 1 }] },
      result: { cmdId: "c-1", status: "cancelled", rows: 0, durationMs: 3, survivors: [] },
    } as const;
    for (const [t, body] of Object.entries(bodies)) {
      const decoded = decodeFrame(encodeFrame(t as "hello", body as never, { seq: 2 }), { from: "agent" });
      expect(decoded.body).toEqual(body);
    }
    const server = {
      welcome: {
        nonce: "n".repeat(32),
        serverTime: "2026-12-06T10:00:00.000Z",
        maxFrameBytes: MAX_FRAME_BYTES,
      },
      cancel: { cmdId: "c-1", reason: "ctrl-c" },
      "close-session": { sessionId: "s-1" },
    } as const;
    for (const [t, body] of Object.entries(server)) {
      expect(
        decodeFrame(encodeFrame(t as "welcome", body as never, { seq: 3 }), { from: "server" }).body,
      ).toEqual(body);
    }
  });

  test("a frame from the wrong side is refused", () => {
    expect(refusal(() => decodeFrame(frame({}), { from: "agent" }))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "unknown-type",
    });
  });

  test.each([
    ["not JSON", "{", "not-json"],
    ["a JSON array", "[]", "envelope"],
    ["invalid UTF-8", Buffer.from([0x7b, 0xff, 0x7d]), "not-json"],
    ["a __proto__ key", frame({}).replace('"body":{', '"body":{"__proto__":{"x":1},'), "not-json"],
    ["a constructor key", frame({}).replace('"flags":{', '"flags":{"constructor":true,'), "not-json"],
    ["version 2", frame({ v: 2 }), "envelope"],
    ["an extra envelope key", frame({ extra: 1 }), "envelope"],
    ["a negative seq", frame({ seq: -1 }), "envelope"],
    ["an unknown type", frame({ t: "exec" }), "unknown-type"],
    ["an extra body key", frame({ body: { ...command, shell: "rm -rf /" } }), "body"],
    ["a bad device id", frame({ body: { ...command, deviceId: "D-../../x" } }), "body"],
    [
      "a bad transfer path",
      frame({
        body: {
          ...command,
          transfer: {
            id: "t",
            path: "/v1/enroll",
            expectedSha256: "a".repeat(64),
            expectedSize: 1,
            maxBytes: 1,
          },
        },
      }),
      "body",
    ],
    ["a body that is a string", frame({ body: "x" }), "envelope"],
  ])("%s is refused with ERR_PROTOCOL", (_name, data, reason) => {
    expect(refusal(() => decodeFrame(data, { from: "server" }))).toEqual({ code: "ERR_PROTOCOL", reason });
  });

  test("oversized frames are refused before parsing, rows frames at 256 KiB", () => {
    const huge = "x".repeat(MAX_FRAME_BYTES + 1);
    expect(refusal(() => decodeFrame(huge, { from: "server" }))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "too-large",
    });
    const rows = { cmdId: "c", chunk: 0, rows: [{ blob: "y".repeat(300 * 1024) }] };
    expect(refusal(() => encodeFrame("rows", rows, { seq: 1 }))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "too-large",
    });
    const text = JSON.stringify({
      v: 1,
      t: "rows",
      id: "f",
      seq: 1,
      ts: "2026-12-06T10:00:00.000Z",
      body: rows,
    });
    expect(refusal(() => decodeFrame(text, { from: "agent" }))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "too-large",
    });
  });

  test("encode refuses a body the peer would refuse", () => {
    expect(refusal(() => encodeFrame("command", { ...command, name: "RM" }, { seq: 1 }))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "body",
    });
  });
});

describe("arbitrary input", () => {
  test("any text or JSON value either decodes or is refused with ERR_PROTOCOL (property)", () => {
    const inputs = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 4 }).map((body) => frame({ body })),
    );
    fc.assert(
      fc.property(inputs, fc.constantFrom("agent" as const, "server" as const), (input, from) => {
        try {
          decodeFrame(input, { from });
        } catch (error) {
          expect(error).toBeInstanceOf(CustodyError);
          expect((error as CustodyError).code).toBe("ERR_PROTOCOL");
        }
      }),
    );
  });
});

describe("sequence", () => {
  test("strictly increasing by one per direction; gaps and repeats refused", () => {
    const counter = new SequenceCounter();
    const checker = new SequenceChecker();
    checker.accept(counter.next());
    checker.accept(counter.next());
    expect(checker.expected).toBe(FIRST_SEQ + 2);
    expect(refusal(() => checker.accept(FIRST_SEQ + 1))).toEqual({
      code: "ERR_PROTOCOL",
      reason: "seq-repeat",
    });
    expect(refusal(() => checker.accept(FIRST_SEQ + 5))).toEqual({ code: "ERR_PROTOCOL", reason: "seq-gap" });
    checker.accept(FIRST_SEQ + 2);
  });
});
