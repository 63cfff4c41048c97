import type { ServerOptions } from "@custody/server";
import { expect } from "vitest";
import { call, type Identity, identityOf, type Served, serveVault } from "./helpers.js";
import { enrolledDevice } from "./live-helpers.js";

/**
 * A served vault with live response on, one enrolled device (driven by a scripted `TestAgent`) and
 * responders granted on the device and the case: what the action-queue tests share. `served` may be
 * replaced (a restart); every call goes to the current one.
 */
export interface ActionBench {
  served: Served;
  device: Identity & { deviceId: string };
  caseId: string;
  people: Record<string, Identity>;
  as(who: Identity, method: string, path: string, json?: unknown): ReturnType<typeof call>;
  /** Queues one command as `who` and expects it accepted (201). */
  queue(who: Identity, line: string): Promise<{ id: string; state: string }>;
}

export async function actionBench(
  caseId: string,
  responders: readonly string[],
  options: Partial<Omit<ServerOptions, "vault">> = {},
): Promise<ActionBench> {
  const bench: ActionBench = {
    served: await serveVault({
      actionLimits: { pollMs: 50 },
      liveLimits: { cancelGraceMs: 2_000 },
      ...options,
    }),
    device: undefined as unknown as ActionBench["device"],
    caseId,
    people: {},
    as: (who, method, path, json) =>
      call(bench.served.url, path, {
        method,
        identity: who,
        ca: bench.served.ca,
        ...(json === undefined ? {} : { json }),
      }),
    async queue(who, line) {
      const response = await bench.as(who, "POST", "/v1/actions", {
        deviceId: bench.device.deviceId,
        caseId,
        line,
      });
      expect(response.status, response.body.toString()).toBe(201);
      return response.json() as { id: string; state: string };
    },
  };
  const { alice } = bench.served;
  for (const name of responders) {
    const issued = await bench.as(alice, "POST", "/v1/identities", { name, kind: "person" });
    bench.people[name] = identityOf((issued.json() as { identityPem: string }).identityPem);
  }
  bench.device = await enrolledDevice(bench.served, "ws");
  await bench.as(alice, "POST", "/v1/settings/live-response", { enabled: true });
  for (const name of responders) {
    for (const scope of [`device:${bench.device.deviceId}`, `case:${caseId}`]) {
      const granted = await bench.as(alice, "POST", "/v1/access/grants", { name, role: "responder", scope });
      expect(granted.json()).toMatchObject({ status: "done" });
    }
  }
  return bench;
}
