import { execFile } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createCrl,
  issueCertificate,
  writeKeyPair,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { splitScriptArguments } from "../src/commands/script-args.js";
import type { CommandBody, ScriptBody } from "../src/protocol.js";
import { runAgent } from "../src/runtime/agent.js";
import { enrollAgent } from "../src/runtime/enroll.js";
import { type AgentLink, LiveTestServer } from "./support/live-server.js";

// The agent's own checks of `run`, with hand-built command frames from a test server that says whatever
// a compromised server would: the agent must refuse on its own.
const execute = promisify(execFile);

let server: LiveTestServer;
let work: string;
let dir: string;
let deviceId: string;
let crlPem: string;
let foreignCa: CertificateAuthority;
const agents: { stop: AbortController; done: Promise<void> }[] = [];

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function policyFile(name: string, unsignedScripts: boolean | undefined): Promise<string> {
  const path = join(work, name);
  const policy = {
    format: "custody.agent.policy/v1",
    tiers: { basic: true, advanced: true },
    ...(unsignedScripts === undefined ? {} : { unsignedScripts }),
  };
  await writeFile(path, JSON.stringify(policy), { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

async function sign(bytes: Buffer, signer: string): Promise<string> {
  const file = join(work, `content-${sha256(bytes).slice(0, 8)}-${signer}`);
  await writeFile(file, bytes);
  await execute("openssl", [
    "cms",
    "-sign",
    "-binary",
    "-md",
    "sha256",
    "-outform",
    "DER",
    "-in",
    file,
    "-signer",
    join(work, `${signer}.pem`),
    "-inkey",
    join(work, `${signer}.key`),
    "-out",
    `${file}.p7s`,
  ]);
  return (await readFile(`${file}.p7s`)).toString("base64");
}

function scriptBody(content: Buffer, over: Partial<ScriptBody> = {}): ScriptBody {
  return {
    name: "probe.sh",
    version: 1,
    sha256: sha256(content),
    contentBase64: content.toString("base64"),
    ...(over.signatureBase64 === undefined ? {} : { crlPem }),
    allowUnsigned: false,
    ...over,
  };
}

let next = 0;
function runCommand(script: ScriptBody, parameters?: string, timeoutMs = 60_000): CommandBody {
  return {
    cmdId: `c-run-${next++}`,
    sessionId: "s-1",
    deviceId,
    name: "run",
    positional: [script.name],
    flags: parameters === undefined ? {} : { parameters },
    cwd: null,
    timeoutMs,
    notAfter: new Date(Date.now() + 600_000).toISOString(),
    issuedBy: "alice",
    script,
  };
}

async function startAgent(policy: string): Promise<AgentLink> {
  for (const agent of agents.splice(0)) {
    agent.stop.abort();
    await agent.done;
  }
  const stop = new AbortController();
  const index = server.links.length;
  process.env.CUSTODY_SECRET = "agent-only";
  const done = runAgent({ dir, policyPath: policy, signal: stop.signal, onEvent: () => {}, random: () => 0 });
  agents.push({ stop, done });
  const link = await server.nextLink(index);
  await link.waitFor((f) => f.t === "hello");
  link.send("welcome", {
    nonce: `nonce-${index}-${"x".repeat(20)}`,
    serverTime: new Date().toISOString(),
    maxFrameBytes: 1024 * 1024,
  });
  return link;
}

/** Sends a command and answers its ack: accepted, or the refusal's code. */
async function send(link: AgentLink, command: CommandBody): Promise<{ accepted: boolean; code?: string }> {
  const from = link.frames.length;
  link.send("command", command);
  const ack = await link.waitFor((f) => f.t === "ack" && f.body.cmdId === command.cmdId, from);
  return ack.body as { accepted: boolean; code?: string };
}

/** Processes whose process group is `pgid` and that are not zombies (from /proc). */
async function groupMembers(pgid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const text = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) found.push(Number(name));
  }
  return found;
}

const probe = Buffer.from(
  '#!/bin/sh\nprintf "%s\\n" "$@"\necho "to stderr $HOME $CUSTODY_SECRET" >&2\nexit 3\n',
);

beforeAll(async () => {
  server = await LiveTestServer.start({ chain: true });
  work = await mkdtemp(join(tmpdir(), "agent-run-"));
  dir = join(work, "state");
  deviceId = (await enrollAgent({ server: server.url, token: server.token(), dir })).deviceId;
  await writeKeyPair(
    work,
    "scripts",
    await issueCertificate(server.ca, { commonName: "scripts", usage: "code-signing", keyBits: 2048 }),
  );
  await writeKeyPair(
    work,
    "collector",
    await issueCertificate(server.ca, { commonName: "collector", usage: "collector", keyBits: 2048 }),
  );
  // this device's own package signer: a vault-CA certificate that must never pass for a script signer
  await writeKeyPair(
    work,
    "device-collector",
    await issueCertificate(server.ca, { commonName: deviceId, usage: "device-collector", keyBits: 2048 }),
  );
  crlPem = createCrl(server.ca, []);
  const foreign = await createCertificateAuthority({ commonName: "Foreign CA", keyBits: 2048 });
  foreignCa = foreign;
  await writeKeyPair(
    work,
    "foreign",
    await issueCertificate(foreign, { commonName: "foreign", usage: "code-signing", keyBits: 2048 }),
  );
}, 120_000);

afterAll(async () => {
  for (const agent of agents.splice(0)) {
    agent.stop.abort();
    await agent.done;
  }
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe("run on the agent", () => {
  test("parameters are split like shell words and never expanded", () => {
    expect(splitScriptArguments(`a "b c" 'd $(e)' f\\ g $HOME ""`)).toEqual([
      "a",
      "b c",
      "d $(e)",
      "f g",
      "$HOME",
      "",
    ]);
    expect(() => splitScriptArguments(`"open`)).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
  });

  test("a signed script runs in its own group with its arguments as argv; output and exit code come back", async () => {
    const link = await startAgent(await policyFile("signed-only.json", undefined));
    const marker = join(work, "never-made");
    const script = scriptBody(probe, { signatureBase64: await sign(probe, "scripts") });
    const command = runCommand(script, `one "two words" '$(touch ${marker})'`);
    expect(await send(link, command)).toEqual({ cmdId: command.cmdId, accepted: true });
    const result = await link.result(command.cmdId);
    expect(result.body).toMatchObject({
      status: "completed",
      data: { exitCode: 3, signed: true, signer: "CN=scripts" },
    });
    const data = result.body.data as Record<string, unknown>;
    const stdout = Buffer.from(String(data.stdoutBase64), "base64");
    expect(stdout.toString()).toBe(`one\ntwo words\n$(touch ${marker})\n`);
    expect(data.stdoutSha256).toBe(sha256(stdout));
    // none of the agent's environment reaches the script; HOME is the run's private folder
    expect(data.stderr).toMatch(/^to stderr \/\S+custody-run-\S+ \n$/);
    await expect(stat(marker)).rejects.toThrow();
    // parameters that do not split are refused before the command is taken
    const unterminated = runCommand(script, `"open`);
    expect(await send(link, unterminated)).toMatchObject({ accepted: false, code: "ERR_USAGE" });
  });

  test.each([
    ["unsigned, the server says allowed, the local policy says nothing", undefined, "ERR_SCRIPT_UNSIGNED"],
    ["unsigned, the server says allowed, the local policy forbids", false, "ERR_SCRIPT_UNSIGNED"],
  ])("%s: refused by the agent", async (_name, local, code) => {
    const link = await startAgent(await policyFile(`local-${String(local)}.json`, local));
    const refused = await send(link, runCommand(scriptBody(probe, { allowUnsigned: true })));
    expect(refused).toMatchObject({ accepted: false, code });
  });

  test("tampered, wrong digest, collector-signed, device-collector-signed and foreign-signed scripts are refused even when unsigned runs are allowed everywhere", async () => {
    const link = await startAgent(await policyFile("unsigned-ok.json", true));
    const good = await sign(probe, "scripts");
    const tampered = Buffer.concat([probe, Buffer.from("touch /tmp/pwned\n")]);
    const cases: [ScriptBody, string][] = [
      [scriptBody(tampered, { signatureBase64: good, allowUnsigned: true }), "ERR_SCRIPT_SIGNATURE"],
      [
        scriptBody(probe, { sha256: sha256(tampered), signatureBase64: good, allowUnsigned: true }),
        "ERR_SCRIPT_SIGNATURE",
      ],
      [
        scriptBody(probe, { signatureBase64: await sign(probe, "collector"), allowUnsigned: true }),
        "ERR_SCRIPT_SIGNATURE",
      ],
      [
        scriptBody(probe, { signatureBase64: await sign(probe, "foreign"), allowUnsigned: true }),
        "ERR_SCRIPT_SIGNATURE",
      ],
      [
        scriptBody(probe, { signatureBase64: await sign(probe, "device-collector"), allowUnsigned: true }),
        "ERR_SCRIPT_SIGNATURE",
      ],
      [
        scriptBody(probe, { name: "other.sh", signatureBase64: good, allowUnsigned: true }),
        "ERR_SCRIPT_SIGNATURE",
      ],
      [scriptBody(probe), "ERR_SCRIPT_UNSIGNED"],
    ];
    for (const [script, code] of cases) {
      const command = runCommand(script);
      command.positional = ["probe.sh"];
      expect(await send(link, command)).toMatchObject({ accepted: false, code });
    }
    // and an unsigned script runs only now: the vault allows it and so does this device
    const unsigned = runCommand(scriptBody(probe, { allowUnsigned: true }));
    expect(await send(link, unsigned)).toMatchObject({ accepted: true });
    expect((await link.result(unsigned.cmdId)).body).toMatchObject({
      status: "completed",
      data: { signed: false },
    });
  });

  test.each([
    ["cancel", "cancelled"],
    ["timeout", "timed-out"],
  ])(
    "a %s kills the script's whole process group",
    async (how, status) => {
      const link = await startAgent(await policyFile("signed-only-2.json", undefined));
      const long = Buffer.from(
        '#!/bin/sh\necho $$ > "$1"\nsleep 300 &\n(sleep 301; echo never) &\nsleep 302\n',
      );
      const pidFile = join(work, `pid-${how}`);
      const command = runCommand(
        scriptBody(long, { name: "long.sh", signatureBase64: await sign(long, "scripts") }),
        pidFile,
        how === "timeout" ? 3000 : 600_000,
      );
      expect(await send(link, command)).toMatchObject({ accepted: true });
      let pgid = 0;
      for (let i = 0; i < 100 && pgid === 0; i++) {
        pgid = Number((await readFile(pidFile, "utf8").catch(() => "0")).trim());
        if (pgid === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(pgid).toBeGreaterThan(0);
      for (let i = 0; i < 40 && (await groupMembers(pgid)).length < 4; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await groupMembers(pgid)).length).toBeGreaterThanOrEqual(4);
      if (how === "cancel") link.send("cancel", { cmdId: command.cmdId, reason: "ctrl-c" });
      // the agent checked /proc itself after the kill, and says none of the group survived
      expect((await link.result(command.cmdId)).body).toMatchObject({ status, survivors: [] });
      expect(await groupMembers(pgid)).toEqual([]);
    },
    30_000,
  );

  test("a signed script is refused without the vault's CRL, with a stale or foreign one, and when its signer is revoked", async () => {
    const link = await startAgent(await policyFile("crl.json", true));
    const signature = await sign(probe, "scripts");
    const serialNumber = new X509Certificate(
      readFileSync(join(work, "scripts.pem")),
    ).serialNumber.toLowerCase();
    const past = { now: () => new Date(Date.now() - 40 * 86_400_000) };
    const cases: [string | undefined, string][] = [
      [undefined, "no CRL"],
      [createCrl(server.ca, [], { clock: past }), "stale"],
      [createCrl(foreignCa, []), "issuer"],
      [createCrl(server.ca, [{ serialNumber, revokedAt: new Date() }]), "revoked"],
    ];
    for (const [crl, why] of cases) {
      const script = scriptBody(probe, { signatureBase64: signature, allowUnsigned: true });
      if (crl === undefined) delete script.crlPem;
      else script.crlPem = crl;
      const ack = await send(link, runCommand(script));
      expect(ack, why).toMatchObject({
        accepted: false,
        code: "ERR_SCRIPT_SIGNATURE",
        message: expect.stringContaining(why),
      });
    }
    // the same script with the current list runs
    const ok = runCommand(scriptBody(probe, { signatureBase64: signature }));
    expect(await send(link, ok)).toMatchObject({ accepted: true });
  });
});
