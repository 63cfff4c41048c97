import { spawnSync } from "node:child_process";
import { takeNetworkLockSync } from "./network-lock.js";

/**
 * A network namespace joined to this host by a veth pair, for tests that run an agent whose network
 * they change (isolate): the host keeps its own network, the agent sees only HOST_IP across the pair.
 */
export interface TestNamespace {
  name: string;
  hostIp: string;
  namespaceIp: string;
  /** Why this machine cannot make one (not root, no ip/nft, no namespaces in the kernel), or undefined. */
  unavailable: string | undefined;
  /** argv that runs `argv` inside the namespace. */
  wrap(argv: string[]): string[];
  /** Whether a TCP connection from inside the namespace to hostIp:port opens within 1.5 s. */
  reachable(port: number): boolean;
  /** The namespace's nftables ruleset (or tables, with `list tables`). */
  nft(...args: string[]): string;
  remove(): void;
}

function sh(file: string, args: string[]) {
  const r = spawnSync(file, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}` };
}

/** Makes the namespace `custody-<label>-<pid>` (names and subnet derived from the pid and the label). */
export function createTestNamespace(label: string, octet: number): TestNamespace {
  const tag = String(process.pid % 100000);
  const name = `custody-${label}-${tag}`;
  const hostIf = `vh${label.slice(0, 3)}${tag}`;
  const nsIf = `vn${label.slice(0, 3)}${tag}`;
  const subnet = 16 + (process.pid % 200);
  const hostIp = `10.${octet}.${subnet}.1`;
  const namespaceIp = `10.${octet}.${subnet}.2`;
  let releaseLock: () => void = () => undefined;
  const unavailable = setUp();
  function setUp(): string | undefined {
    if (process.getuid?.() !== 0) return "needs root to create a network namespace";
    for (const tool of ["ip", "nft"])
      if (!sh("sh", ["-c", `command -v ${tool}`]).ok)
        return `${tool} is not installed (Debian: iproute2, nftables)`;
    const steps: [string, string[]][] = [
      ["ip", ["netns", "add", name]],
      ["ip", ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf]],
      ["ip", ["link", "set", nsIf, "netns", name]],
      ["ip", ["addr", "add", `${hostIp}/30`, "dev", hostIf]],
      ["ip", ["link", "set", hostIf, "up"]],
      ["ip", ["netns", "exec", name, "ip", "addr", "add", `${namespaceIp}/30`, "dev", nsIf]],
      ["ip", ["netns", "exec", name, "ip", "link", "set", nsIf, "up"]],
      ["ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"]],
      ["ip", ["netns", "exec", name, "nft", "list", "ruleset"]],
    ];
    releaseLock = takeNetworkLockSync(); // until remove(): a browser test must not see the veth come and go
    for (const [file, args] of steps) {
      const step = sh(file, args);
      if (!step.ok) return `${file} ${args.join(" ")} failed: ${step.out.trim().slice(0, 200)}`;
    }
    return undefined;
  }
  return {
    name,
    hostIp,
    namespaceIp,
    unavailable,
    wrap: (argv) => ["ip", "netns", "exec", name, ...argv],
    reachable(port) {
      const probe = `const s=require("net").connect(${port},"${hostIp}");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(2));setTimeout(()=>process.exit(3),1500)`;
      return spawnSync("ip", ["netns", "exec", name, process.execPath, "-e", probe]).status === 0;
    },
    nft: (...args) => sh("ip", ["netns", "exec", name, "nft", ...args]).out,
    remove() {
      sh("ip", ["link", "del", hostIf]);
      sh("ip", ["netns", "del", name]);
      releaseLock();
    },
  };
}
