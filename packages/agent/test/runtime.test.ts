import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CommandBody } from "../src/protocol.js";
import { runAgent } from "../src/runtime/agent.js";
import { backoffDelayMs } from "../src/runtime/backoff.js";
import type { AgentEvent } from "../src/runtime/connection.js";
import { enrollAgent, parseEnrollmentToken } from "../src/runtime/enroll.js";
import { type AgentLink, LiveTestServer } from "./support/live-server.js";

let server: LiveTestServer;
let work: string;
let dir: string;
let deviceId: string;
const agents: { stop: AbortController; done: Promise<void> }[] = [];

async function stopAgents(): Promise<void> {
  for (const agent of agents.splice(0)) {
    agent.stop.abort();
    await agent.done;
  }
}

async function policyFile(name: string, tiers: { basic: boolean; advanced: boolean }): Promise<string> {
  const path = join(work, name);
  await writeFile(
    path,
    JSON.stringify({
      format: "custody.agent.policy/v1",
      tiers,
      paths: { deny: ["/etc/shadow", join(work, "denied")] },
    }),
    { mode: 0o600 },
  );
  await chmod(path, 0o600);
  return path;
}

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CustodyError);
  return (error as CustodyError).code;
}

function command(over: Partial<CommandBody> & { cmdId: string; name: string }): CommandBody {
  return {
    sessionId: "s-1",
    deviceId,
    positional: [],
    flags: {},
    cwd: null,
    timeoutMs: 600_000,
    notAfter: new Date(Date.now() + 600_000).toISOString(),
    issuedBy: "alice",
    ...over,
  };
}

/** Starts the agent, waits for its connection, welcomes it. */
async function startAgent(
  policy: string,
  events: AgentEvent[] = [],
): Promise<{ link: AgentLink; stop: AbortController; done: Promise<void> }> {
  const stop = new AbortController();
  const index = server.links.length;
  const done = runAgent({
    dir,
    policyPath: policy,
    signal: stop.signal,
    onEvent: (e) => events.push(e),
    random: () => 0,
  });
  agents.push({ stop, done });
  const link = await Promise.race([
    server.nextLink(index),
    done.then(() => Promise.reject(new Error("the agent stopped before connecting"))),
  ]);
  await link.waitFor((f) => f.t === "hello");
  link.send("welcome", {
    nonce: `nonce-${index}-${"x".repeat(20)}`,
    serverTime: new Date().toISOString(),
    maxFrameBytes: 1024 * 1024,
  });
  return { link, stop, done };
}

beforeAll(async () => {
  server = await LiveTestServer.start({ chain: true });
  work = await mkdtemp(join(tmpdir(), "agent-runtime-"));
  dir = join(work, "state");
});
afterAll(async () => {
  await stopAgents();
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe("enrollment", () => {
  test("a token that names another CA is refused before the token is sent, and nothing is written", async () => {
    const other = join(work, "other");
    expect(
      await code(enrollAgent({ server: server.url, token: server.token("f".repeat(64)), dir: other })),
    ).toBe("ERR_UNTRUSTED_SIGNER");
    expect(
      await stat(other).then(
        () => "exists",
        () => "absent",
      ),
    ).toBe("absent");
  });

  test.each([
    "",
    "cet1.a.b.c",
    `cet2.tok1.${"a".repeat(43)}.${"0".repeat(64)}`,
    `cet1.tok1.${"a".repeat(43)}.${"0".repeat(63)}G`,
  ])("a malformed token %j is refused", (token) => {
    expect(() => parseEnrollmentToken(token)).toThrow(
      expect.objectContaining({ code: "ERR_ENROLLMENT_TOKEN_INVALID" }),
    );
  });

  test("a server URL that is not https://HOST:PORT is refused", async () => {
    for (const url of ["http://127.0.0.1:1", "https://u:p@127.0.0.1:1", "https://127.0.0.1:1/x", "nonsense"])
      expect(await code(enrollAgent({ server: url, token: server.token(), dir: join(work, "bad") }))).toBe(
        "ERR_INVALID_ARGUMENT",
      );
  });

  test("a wrong secret is the server's refusal, and the key made for it is removed", async () => {
    const wrong = server.token().replace(server.tokenSecret, "A".repeat(43));
    const attempt = join(work, "wrong");
    expect(await code(enrollAgent({ server: server.url, token: wrong, dir: attempt }))).toBe(
      "ERR_ENROLLMENT_TOKEN_INVALID",
    );
    expect(
      await stat(join(attempt, "device-key.pem")).then(
        () => "exists",
        () => "absent",
      ),
    ).toBe("absent");
  });

  test("enrolls: key made here and kept 0600, certificate for it from the pinned CA, state stored", async () => {
    const state = await enrollAgent({ server: server.url, token: server.token(), dir });
    deviceId = state.deviceId;
    expect(state).toMatchObject({ serverUrl: server.url, caSha256: server.caSha256 });
    expect((await stat(join(dir, "device-key.pem"))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(join(dir, "vault-ca.pem"), "utf8")).toBe(server.ca.certificatePem);
    expect(await code(enrollAgent({ server: server.url, token: server.token(), dir }))).toBe(
      "ERR_ALREADY_EXISTS",
    );
  });
});

describe("the running agent", () => {
  test("hello names the device and its policy, connects with its certificate, keeps the welcome nonce", async () => {
    const { link } = await startAgent(await policyFile("all.json", { basic: true, advanced: true }));
    const hello = await link.waitFor((f) => f.t === "hello");
    expect(link.peerCn).toBe(deviceId);
    expect(hello.body).toMatchObject({
      deviceId,
      prevNonce: null,
      capabilities: expect.arrayContaining(["dir", "getfile"]),
    });
    link.send("command", command({ cmdId: "c-dir", name: "dir", positional: [work] }));
    expect((await link.ack("c-dir")).body).toEqual({ cmdId: "c-dir", accepted: true });
    const result = await link.result("c-dir");
    expect(result.body).toMatchObject({ status: "completed" });
    const rows = link.frames.flatMap((f) => (f.t === "rows" && f.body.cmdId === "c-dir" ? f.body.rows : []));
    expect(rows).toHaveLength(result.body.rows);
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(["all.json", "state"]));
    expect(await readFile(join(dir, "nonce"), "utf8")).toBe(`nonce-0-${"x".repeat(20)}`);
  });

  test("after a drop it reconnects and shows the last nonce", async () => {
    const before = server.links.length;
    server.links[before - 1]?.ws.close(1012, "restart");
    const link = await server.nextLink(before);
    const hello = await link.waitFor((f) => f.t === "hello");
    expect(hello.body).toMatchObject({ prevNonce: `nonce-0-${"x".repeat(20)}` });
    link.send("welcome", {
      nonce: `nonce-${before}-${"y".repeat(20)}`,
      serverTime: new Date().toISOString(),
      maxFrameBytes: 1024 * 1024,
    });
    link.send("command", command({ cmdId: "c-cd", name: "cd", positional: ["state"], cwd: work }));
    expect((await link.result("c-cd")).body).toMatchObject({ status: "completed", data: { cwd: dir } });
  });

  test("replayed, expired, foreign, unknown and over-policy commands are refused with their codes", async () => {
    const link = server.links.at(-1) as AgentLink;
    const cases: [CommandBody, string][] = [
      [command({ cmdId: "c-cd", name: "cd", positional: ["/"] }), "ERR_REPLAY"],
      [
        command({
          cmdId: "c-old",
          name: "dir",
          positional: ["/"],
          notAfter: new Date(Date.now() - 1000).toISOString(),
        }),
        "ERR_REPLAY",
      ],
      [
        command({
          cmdId: "c-other",
          name: "dir",
          positional: ["/"],
          deviceId: "D-ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        }),
        "ERR_ACCESS_DENIED",
      ],
      [command({ cmdId: "c-jobs", name: "jobs" }), "ERR_UNKNOWN_COMMAND"],
      [command({ cmdId: "c-reg", name: "registry", positional: ["HKLM\\Software"] }), "ERR_NOT_PRESENT"],
      [command({ cmdId: "c-usage", name: "dir", flags: { bogus: "1" } }), "ERR_USAGE"],
      [command({ cmdId: "c-deny", name: "fileinfo", positional: [join(work, "denied")] }), "ok"],
    ];
    const from = link.frames.length;
    for (const [body] of cases) link.send("command", body);
    for (const [body, expected] of cases) {
      const ack = await link.ack(body.cmdId, from);
      if (expected === "ok") {
        expect((await link.result(body.cmdId)).body).toMatchObject({
          status: "failed",
          error: { code: "ERR_AGENT_POLICY" },
        });
      } else expect(ack.body).toMatchObject({ accepted: false, code: expected });
    }
  });

  test("getfile streams the file by PUT with the device certificate; a changed file stores nothing", async () => {
    const link = server.links.at(-1) as AgentLink;
    const file = join(work, "evidence.bin");
    const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeFile(file, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const transfer = (id: string, expected: string) => ({
      id,
      path: `/v1/agent/transfers/${id}`,
      expectedSha256: expected,
      expectedSize: bytes.length,
      maxBytes: 750 * 1024 * 1024,
    });
    link.send(
      "command",
      command({ cmdId: "c-get", name: "getfile", positional: [file], transfer: transfer("t-good", sha256) }),
    );
    expect((await link.result("c-get")).body).toMatchObject({
      status: "completed",
      data: { sha256, size: bytes.length },
    });
    expect(server.transfers.get("t-good")).toEqual({ sha256, bytes: bytes.length, complete: true });
    link.send(
      "command",
      command({
        cmdId: "c-changed",
        name: "getfile",
        positional: [file],
        transfer: transfer("t-bad", "0".repeat(64)),
      }),
    );
    expect((await link.result("c-changed")).body).toMatchObject({
      status: "failed",
      error: { code: "ERR_FILE_CHANGED" },
    });
    expect(server.transfers.get("t-bad")?.complete).toBe(false);
  });

  test("cancel stops a running command and reports cancelled; a timeout reports timed-out", async () => {
    const link = server.links.at(-1) as AgentLink;
    const file = join(work, "stalled.bin");
    await writeFile(file, Buffer.alloc(8 * 1024 * 1024, 1));
    const sha256 = createHash("sha256")
      .update(Buffer.alloc(8 * 1024 * 1024, 1))
      .digest("hex");
    server.stall.add("t-stall");
    server.stall.add("t-slow");
    const transfer = (id: string) => ({
      id,
      path: `/v1/agent/transfers/${id}`,
      expectedSha256: sha256,
      expectedSize: 8 * 1024 * 1024,
      maxBytes: 750 * 1024 * 1024,
    });
    link.send(
      "command",
      command({ cmdId: "c-stall", name: "getfile", positional: [file], transfer: transfer("t-stall") }),
    );
    await link.ack("c-stall");
    link.send("cancel", { cmdId: "c-stall", reason: "ctrl-c" });
    expect((await link.result("c-stall")).body).toMatchObject({
      status: "cancelled",
      error: { code: "ERR_ABORTED" },
    });
    link.send(
      "command",
      command({
        cmdId: "c-slow",
        name: "getfile",
        positional: [file],
        transfer: transfer("t-slow"),
        timeoutMs: 200,
      }),
    );
    expect((await link.result("c-slow")).body).toMatchObject({
      status: "timed-out",
      error: { code: "ERR_TIMEOUT" },
    });
  });

  test("rows come in frames of at most 256 KiB", async () => {
    const link = server.links.at(-1) as AgentLink;
    const many = join(work, "many");
    await mkdir(many);
    for (let i = 0; i < 2500; i++)
      await writeFile(join(many, `${String(i).padStart(5, "0")}-${"n".repeat(150)}`), "");
    link.send("command", command({ cmdId: "c-procs", name: "dir", positional: [many] }));
    const result = await link.result("c-procs");
    const chunks = link.frames.filter((f) => f.t === "rows" && f.body.cmdId === "c-procs");
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((f) => (f.t === "rows" ? f.body.chunk : -1))).toEqual(chunks.map((_, i) => i));
    expect(chunks.reduce((n, f) => n + (f.t === "rows" ? f.body.rows.length : 0), 0)).toBe(result.body.rows);
  });

  test("a frame out of sequence closes the connection with 1008", async () => {
    const link = server.links.at(-1) as AgentLink;
    link.send("cancel", { cmdId: "nothing", reason: "x" }, 999);
    expect((await link.waitClosed()).code).toBe(1008);
  });

  test("a policy that allows only basic commands refuses getfile on the device; a restarted agent still refuses a replay", async () => {
    await stopAgents();
    const { link } = await startAgent(await policyFile("basic.json", { basic: true, advanced: false }));
    link.send("command", command({ cmdId: "c-adv", name: "getfile", positional: ["/etc/hostname"] }));
    expect((await link.ack("c-adv")).body).toMatchObject({ accepted: false, code: "ERR_AGENT_POLICY" });
    // the agent restarted: the ids it took before are still remembered
    link.send("command", command({ cmdId: "c-cd", name: "cd", positional: ["/"] }));
    expect((await link.ack("c-cd")).body).toMatchObject({ accepted: false, code: "ERR_REPLAY" });
  });

  test("an agent refuses to start on a policy others can write", async () => {
    const loose = await policyFile("loose.json", { basic: true, advanced: true });
    await chmod(loose, 0o666);
    expect(await code(runAgent({ dir, policyPath: loose }))).toBe("ERR_PERMISSION");
  });
});

describe("a broken or hostile server", () => {
  async function connected(): Promise<AgentLink> {
    await stopAgents();
    const stop = new AbortController();
    const index = server.links.length;
    const done = runAgent({ dir, policyPath: join(work, "all.json"), signal: stop.signal, random: () => 0 });
    agents.push({ stop, done });
    const link = await server.nextLink(index);
    await link.waitFor((f) => f.t === "hello");
    return link;
  }

  test("a command before the welcome closes the connection with 1008", async () => {
    const link = await connected();
    link.send("command", command({ cmdId: "c-early", name: "dir", positional: ["/"] }));
    expect(await link.waitClosed()).toMatchObject({
      code: 1008,
      reason: expect.stringContaining("before welcome"),
    });
    expect(link.frames.some((f) => f.t === "ack")).toBe(false);
  });

  test("a binary frame closes the connection with 1008", async () => {
    const link = await connected();
    link.ws.send(Buffer.from("{}"), { binary: true });
    expect((await link.waitClosed()).code).toBe(1008);
  });

  test("a dropped connection stops the commands it was running", async () => {
    const link = await connected();
    link.send("welcome", {
      nonce: "z".repeat(43),
      serverTime: new Date().toISOString(),
      maxFrameBytes: 1024 * 1024,
    });
    const file = join(work, "drop.bin");
    const bytes = Buffer.alloc(8 * 1024 * 1024, 3);
    await writeFile(file, bytes);
    server.stall.add("t-drop");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    link.send(
      "command",
      command({
        cmdId: "c-drop",
        name: "getfile",
        positional: [file],
        transfer: {
          id: "t-drop",
          path: "/v1/agent/transfers/t-drop",
          expectedSha256: sha256,
          expectedSize: bytes.length,
          maxBytes: bytes.length,
        },
      }),
    );
    await link.ack("c-drop");
    while (server.transfers.get("t-drop") === undefined) await new Promise((r) => setTimeout(r, 20));
    link.ws.terminate();
    while (server.transfers.get("t-drop")?.closed !== true) await new Promise((r) => setTimeout(r, 20));
    expect(server.transfers.get("t-drop")?.complete).toBe(false);
  });
});

describe("pinning", () => {
  test("the agent does not talk to a server under another CA", async () => {
    const impostor = await LiveTestServer.start({ chain: true });
    try {
      const state = JSON.parse(await readFile(join(dir, "agent.json"), "utf8")) as Record<string, unknown>;
      const copy = join(work, "copy");
      await rm(copy, { recursive: true, force: true });
      await (await import("node:fs/promises")).cp(dir, copy, { recursive: true });
      await writeFile(join(copy, "agent.json"), JSON.stringify({ ...state, serverUrl: impostor.url }));
      const events: AgentEvent[] = [];
      const stop = new AbortController();
      const done = runAgent({
        dir: copy,
        policyPath: join(work, "all.json"),
        signal: stop.signal,
        onEvent: (e) => events.push(e),
        random: () => 0,
      });
      while (!events.some((e) => e.kind === "closed")) await new Promise((r) => setTimeout(r, 20));
      stop.abort();
      await done;
      expect(impostor.links).toHaveLength(0);
      expect(events.some((e) => e.kind === "connected")).toBe(false);
    } finally {
      await impostor.close();
    }
  });

  test("without the CA in the server's chain, enrollment needs --ca", async () => {
    const bare = await LiveTestServer.start({ chain: false });
    try {
      expect(
        await code(enrollAgent({ server: bare.url, token: bare.token(), dir: join(work, "bare") })),
      ).toBe("ERR_UNTRUSTED_SIGNER");
      const state = await enrollAgent({
        server: bare.url,
        token: bare.token(),
        dir: join(work, "bare"),
        caPem: bare.ca.certificatePem,
      });
      expect(state.caSha256).toBe(bare.caSha256);
    } finally {
      await bare.close();
    }
  });
});

describe("back-off", () => {
  test("full jitter below min(60 s, 1 s * 2^attempt)", () => {
    expect([0, 1, 5, 6, 20].map((a) => backoffDelayMs(a, () => 0.999999))).toEqual([
      999, 1999, 31999, 59999, 59999,
    ]);
    expect(backoffDelayMs(3, () => 0)).toBe(0);
  });
});
