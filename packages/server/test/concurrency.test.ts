import { createHash } from "node:crypto";
import type { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type Identity, identityOf, keepAliveAgent, type Served, serveVault } from "./helpers.js";

const CLIENTS = 20;
let served: Served;

beforeAll(async () => {
  served = await serveVault({ limits: { maxConcurrentUploads: CLIENTS } });
});
afterAll(async () => served.cleanup());

async function ok(response: Promise<Awaited<ReturnType<typeof call>>>, status = 200) {
  const answered = await response;
  expect(answered.status, answered.body.toString()).toBe(status);
  return answered.json();
}

async function enrol(n: number): Promise<Identity> {
  const as = { identity: served.alice, ca: served.ca };
  const issued = (await ok(
    call(served.url, "/v1/identities", { ...as, method: "POST", json: { name: `analyst${n}` } }),
    201,
  )) as {
    identityPem: string;
  };
  for (const role of ["responder", "investigator"]) {
    const grant = { name: `analyst${n}`, role, scope: `case:C${n}` };
    await ok(call(served.url, "/v1/access/grants", { ...as, method: "POST", json: grant }));
  }
  return identityOf(issued.identityPem);
}

/** One analyst's session over one keep-alive connection: ingests, reads, a listing; the custodian holds one item. */
async function session(n: number, identity: Identity, agent: Agent): Promise<string[]> {
  const as = { identity, ca: served.ca, agent };
  const ids: string[] = [];
  for (let k = 0; k < 3; k += 1) {
    const bytes = Buffer.from(`client ${n} item ${k} ${"x".repeat(1000 * k)}`);
    const item = (await ok(
      call(served.url, `/v1/items?case=C${n}&name=item${k}.txt`, {
        ...as,
        method: "POST",
        body: bytes,
        headers: {
          "content-type": "application/octet-stream",
          "x-custody-sha256": createHash("sha256").update(bytes).digest("hex"),
        },
      }),
      201,
    )) as { id: string };
    ids.push(item.id);
  }
  const custodian = { identity: served.alice, ca: served.ca, method: "POST" };
  await ok(call(served.url, `/v1/items/${ids[0]}/hold?case=C${n}`, custodian));
  const read = await call(served.url, `/v1/items/${ids[1]}/content?case=C${n}`, as);
  expect(createHash("sha256").update(read.body).digest("hex")).toBe(ids[1]);
  const listed = (await ok(call(served.url, `/v1/items?case=C${n}`, as))) as { items: unknown[] };
  expect(listed.items).toHaveLength(3);
  return ids;
}

describe("20 concurrent clients against one server", () => {
  it("every acknowledged ingest is present and the audit log verifies", async () => {
    const identities = await Promise.all(Array.from({ length: CLIENTS }, (_, n) => enrol(n)));
    const agents = identities.map((identity) => keepAliveAgent(identity, served.ca));
    try {
      // the custodian changes grants while the analysts work
      const custodian = (async () => {
        for (let n = 0; n < 5; n += 1) {
          const grant = { name: `analyst${n}`, role: "auditor", scope: "*" };
          await ok(
            call(served.url, "/v1/access/grants", {
              identity: served.alice,
              ca: served.ca,
              method: "POST",
              json: grant,
            }),
          );
        }
      })();
      const acknowledged = (
        await Promise.all(identities.map((identity, n) => session(n, identity, agents[n] as Agent)))
      ).flat();
      await custodian;
      const all = (await ok(call(served.url, "/v1/items", { identity: served.alice, ca: served.ca }))) as {
        items: { id: string }[];
      };
      const present = new Set(all.items.map((item) => item.id));
      for (const id of acknowledged) expect(present.has(id), id).toBe(true);
      expect(acknowledged).toHaveLength(CLIENTS * 3);
      const verify = (await ok(
        call(served.url, "/v1/audit/verify", { identity: served.alice, ca: served.ca, method: "POST" }),
      )) as { ok: boolean };
      expect(verify.ok).toBe(true);
      const access = (await ok(
        call(served.url, "/v1/access", { identity: served.alice, ca: served.ca }),
      )) as { grants: { role: string }[] };
      expect(access.grants.filter((g) => g.role === "auditor")).toHaveLength(5);
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });
});
