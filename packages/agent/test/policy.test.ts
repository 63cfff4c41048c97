import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkAgentPolicy, DEFAULT_AGENT_POLICY, loadAgentPolicy, policyHash } from "../src/policy.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "agent-policy-"));
  await chmod(dir, 0o700);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function write(name: string, value: unknown, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof value === "string" ? value : JSON.stringify(value));
  await chmod(path, mode);
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

describe("the local policy", () => {
  test("loads with defaults applied, and its hash is the sha256 of its canonical form", async () => {
    const path = await write("min.json", {
      format: "custody.agent.policy/v1",
      tiers: { basic: true, advanced: true },
    });
    const { policy, hash } = await loadAgentPolicy(path);
    expect(policy).toEqual(DEFAULT_AGENT_POLICY);
    expect(hash).toBe(policyHash(DEFAULT_AGENT_POLICY));
    const reordered = await write("reordered.json", {
      maxGetfileBytes: 786432000,
      paths: { deny: ["/etc/shadow", "/etc/gshadow"] },
      tiers: { advanced: true, basic: true },
      format: "custody.agent.policy/v1",
    });
    expect((await loadAgentPolicy(reordered)).hash).toBe(hash);
    const other = await write("other.json", {
      format: "custody.agent.policy/v1",
      tiers: { basic: true, advanced: false },
    });
    expect((await loadAgentPolicy(other)).hash).not.toBe(hash);
  });

  test.each([
    [
      "writable by the group",
      { format: "custody.agent.policy/v1", tiers: { basic: true, advanced: true } },
      0o620,
      "ERR_PERMISSION",
    ],
    [
      "writable by everyone",
      { format: "custody.agent.policy/v1", tiers: { basic: true, advanced: true } },
      0o606,
      "ERR_PERMISSION",
    ],
    ["not JSON", "{", 0o600, "ERR_POLICY_INVALID"],
    [
      "an unknown key",
      { format: "custody.agent.policy/v1", tiers: { basic: true, advanced: true }, run: true },
      0o600,
      "ERR_POLICY_INVALID",
    ],
    [
      "a relative denied path",
      {
        format: "custody.agent.policy/v1",
        tiers: { basic: true, advanced: true },
        paths: { deny: ["etc/shadow"] },
      },
      0o600,
      "ERR_POLICY_INVALID",
    ],
    [
      "another format",
      { format: "custody.agent.policy/v2", tiers: { basic: true, advanced: true } },
      0o600,
      "ERR_POLICY_INVALID",
    ],
    ["too large", " ".repeat(70_000), 0o600, "ERR_SIZE_LIMIT"],
  ])("a policy %s is refused", async (name, value, mode, expected) => {
    expect(await code(loadAgentPolicy(await write(`${name}.json`, value, mode)))).toBe(expected);
  });

  test("a symlink, a missing file, a folder others can write are refused", async () => {
    const real = await write("real.json", {
      format: "custody.agent.policy/v1",
      tiers: { basic: true, advanced: true },
    });
    await symlink(real, join(dir, "link.json"));
    expect(await code(loadAgentPolicy(join(dir, "link.json")))).toBe("ERR_POLICY_INVALID");
    expect(await code(loadAgentPolicy(join(dir, "missing.json")))).toBe("ERR_NOT_FOUND");
    const open = join(dir, "open");
    await mkdir(open);
    await chmod(open, 0o777);
    await writeFile(
      join(open, "p.json"),
      JSON.stringify({ format: "custody.agent.policy/v1", tiers: { basic: true, advanced: true } }),
      { mode: 0o600 },
    );
    expect(await code(loadAgentPolicy(join(open, "p.json")))).toBe("ERR_PERMISSION");
  });

  test.runIf(process.getuid?.() === 0)("a policy owned by another user is refused", async () => {
    const path = await write("theirs.json", {
      format: "custody.agent.policy/v1",
      tiers: { basic: true, advanced: true },
    });
    await chown(path, 4321, 4321);
    expect(await code(loadAgentPolicy(path))).toBe("ERR_PERMISSION");
  });

  test("checkAgentPolicy refuses a tier the device does not allow, and console or unknown commands", () => {
    const basicOnly = { ...DEFAULT_AGENT_POLICY, tiers: { basic: true, advanced: false } };
    expect(() => checkAgentPolicy({ name: "dir" }, basicOnly)).not.toThrow();
    expect(() => checkAgentPolicy({ name: "getfile" }, basicOnly)).toThrow(
      expect.objectContaining({ code: "ERR_AGENT_POLICY" }),
    );
    expect(() => checkAgentPolicy({ name: "jobs" }, DEFAULT_AGENT_POLICY)).toThrow(
      expect.objectContaining({ code: "ERR_UNKNOWN_COMMAND" }),
    );
    expect(() => checkAgentPolicy({ name: "__proto__" }, DEFAULT_AGENT_POLICY)).toThrow(
      expect.objectContaining({ code: "ERR_UNKNOWN_COMMAND" }),
    );
  });
});
