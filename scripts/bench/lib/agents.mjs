// Shared by the live-response benchmarks: many enrolled devices held connected to one server as bare
// WebSocket agents (mutual TLS, custody.agent.v1, hello answered by welcome), 50 handshakes at a time.
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("../../../", import.meta.url).pathname;
const WebSocket = createRequire(join(root, "packages", "server", "package.json"))("ws");
const { encodeFrame, AGENT_SUBPROTOCOL } = await import(
  join(root, "packages", "agent", "dist", "protocol.js")
);

/**
 * Enrolls `count` devices in-process on an open vault (one CSR, one certificate each) with a token that
 * `principal` makes; returns [{deviceId, cert}].
 */
export async function enrollDevices(vault, principal, csrPem, count) {
  const { token } = await vault.createEnrollmentToken(principal, { uses: count });
  const facts = { hostname: "bench", os: "linux", arch: "x64", agentVersion: "0.1.0" };
  const devices = [];
  for (let i = 0; i < count; i += 1) {
    const enrolled = await vault.enroll(
      { token, csrPem, facts },
      { requestId: `b-${i}`, clientAddress: "127.0.0.1" },
    );
    devices.push({ deviceId: enrolled.deviceId, cert: enrolled.certificatePem });
  }
  return devices;
}

/** Connects every device, sends hello, waits for welcome; 50 handshakes at a time. */
export async function connectAll(url, devices, key, ca) {
  const sockets = [];
  const started = performance.now();
  let next = 0;
  async function worker() {
    while (next < devices.length) {
      const device = devices[next++];
      const ws = new WebSocket(`${url.replace("https", "wss")}/v1/agent`, AGENT_SUBPROTOCOL, {
        ca,
        cert: device.cert,
        key,
      });
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const welcomed = new Promise((resolve) => ws.once("message", resolve));
      const hello = {
        deviceId: device.deviceId,
        agentVersion: "0.1.0",
        hostname: "bench",
        os: "linux",
        arch: "x64",
        policyHash: "0".repeat(64),
        prevNonce: device.nonce ?? null,
        capabilities: [],
      };
      ws.send(encodeFrame("hello", hello, { seq: 1 }));
      device.nonce = JSON.parse(String(await welcomed)).body.nonce;
      sockets.push(ws);
    }
  }
  await Promise.all(Array.from({ length: 50 }, worker));
  return { sockets, seconds: (performance.now() - started) / 1000 };
}
