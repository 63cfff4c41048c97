// What the live-response benchmarks share: the CLI run from dist/, the clients, and one enrolled agent
// process connected to a `custody serve` child (lib/server.mjs), with its getfile limit raised.
import { spawn, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

const root = new URL("../../../", import.meta.url).pathname;
export const bin = join(root, "packages", "cli", "dist", "bin.js");
const { createVaultClient, createLiveClient } = await import(
  join(root, "packages", "client", "dist", "index.js")
);

/** `custody ARGS` in `cwd`; its stdout, or an error with its stderr. */
export function custody(cwd, args) {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`custody ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

/** The result of a submitted command, from its event stream. */
export async function result(live, cmdId) {
  for await (const event of live.events(cmdId)) if (event.type === "result") return event.command;
  throw new Error(`no result for ${cmdId}`);
}

/**
 * Live response on, one device enrolled in `base/agent` and its agent running (with `nodeArgs`, e.g. a
 * profiler), connected: the clients, the device id and the agent's process (pushed to `children`).
 */
export async function connectedAgent(server, base, { limitBytes, nodeArgs = [], children }) {
  const identityPem = `${server.identity.cert}\n${server.identity.key}\n${server.ca}`;
  const vault = createVaultClient({ baseUrl: server.url, identityPem });
  const live = createLiveClient({ baseUrl: server.url, identityPem });
  await vault.setLiveResponse(true);
  const { token } = await vault.createEnrollmentToken({});
  await writeFile(join(base, "ca.pem"), server.ca);
  const enrolled = custody(base, [
    ...["agent", "enroll", "--server", server.url, "--token", token],
    ...["--dir", "agent", "--ca", "ca.pem", "--json"],
  ]);
  const { deviceId } = JSON.parse(enrolled);
  const policy = { ...JSON.parse(custody(base, ["agent", "policy"])), maxGetfileBytes: limitBytes };
  await writeFile(join(base, "policy.json"), JSON.stringify(policy), { mode: 0o600 });
  const agent = spawn(
    process.execPath,
    [...nodeArgs, bin, "agent", "run", "--dir", join(base, "agent"), "--policy", join(base, "policy.json")],
    { stdio: "ignore", env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" } },
  );
  children.push(agent);
  for (let i = 0; !(await vault.listDevices()).find((d) => d.deviceId === deviceId)?.online; i++) {
    if (i > 400) throw new Error("the agent never connected");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { vault, live, deviceId, agent };
}
