import { describe, expect, it } from "vitest";
import { commandHistory } from "../src/app/lib/actions-adapter.ts";
import { fillPath, findRoute, routesOf } from "../src/app/lib/optional-routes.ts";

const record = (
  action: string,
  outcome: string,
  details: Record<string, unknown>,
  time = "2026-01-01T00:00:00.000Z",
) => ({
  time,
  actor: "alice",
  action,
  outcome,
  target: "device:D-1",
  details,
});

describe("commandHistory", () => {
  it("joins each command's decision with its result, newest first", () => {
    const history = commandHistory([
      record("live.session-open", "allow", { sessionId: "S-1", caseId: "C" }),
      record("live.command", "allow", {
        sessionId: "S-1",
        caseId: "C",
        cmdId: "C-1",
        line: "processes",
        phase: "submit",
      }),
      record("live.command", "allow", {
        sessionId: "S-1",
        caseId: "C",
        cmdId: "C-2",
        line: "getfile -path /etc/hosts",
        phase: "submit",
      }),
      record("live.command", "allow", {
        sessionId: "S-1",
        caseId: "C",
        cmdId: "C-1",
        line: "processes",
        phase: "dispatch",
      }),
      record("live.result", "allow", { cmdId: "C-1", status: "completed", durationMs: 12 }),
      record("live.result", "allow", {
        cmdId: "C-2",
        status: "completed",
        durationMs: 30,
        itemId: "ab".repeat(32),
      }),
      record("live.command", "deny", {
        sessionId: "S-1",
        caseId: "C",
        cmdId: "C-3",
        line: "run x.ps1",
        phase: "submit",
      }),
      record("live.command", "allow", {
        sessionId: "S-1",
        caseId: "C",
        cmdId: "C-4",
        line: "sleep 100",
        phase: "submit",
      }),
    ]);
    expect(history.map((a) => [a.id, a.status])).toEqual([
      ["C-4", "pending"],
      ["C-3", "refused"],
      ["C-2", "completed"],
      ["C-1", "completed"],
    ]);
    expect(history[2]).toMatchObject({
      deviceId: "D-1",
      caseId: "C",
      itemId: "ab".repeat(32),
      sessionId: "S-1",
      what: "getfile -path /etc/hosts",
    });
  });

  it("marks a command refused at a later phase, and ignores results of commands it never saw", () => {
    const history = commandHistory([
      record("live.command", "allow", { cmdId: "C-1", line: "kill 4", phase: "submit" }),
      record("live.command", "deny", { cmdId: "C-1", line: "kill 4", phase: "dispatch" }),
      record("live.result", "allow", { cmdId: "C-9", status: "completed" }),
    ]);
    expect(history).toHaveLength(1);
    expect(history[0]?.status).toBe("refused");
  });
});

describe("optional routes", () => {
  it("finds a route in an OpenAPI document and fills its parameters", () => {
    const routes = routesOf({
      paths: {
        "/v1/devices/{id}": { get: {} },
        "/v1/devices/{id}/collect": { post: {} },
        "/v1/actions": { get: {} },
      },
    });
    expect(findRoute(routes, "POST", /^\/v1\/devices\/\{[A-Za-z]+\}\/collect/)).toBe(
      "/v1/devices/{id}/collect",
    );
    expect(findRoute(routes, "GET", /^\/v1\/actions$/)).toBe("/v1/actions");
    expect(findRoute(routes, "POST", /^\/v1\/actions$/)).toBeUndefined();
    expect(fillPath("/v1/devices/{id}/collect", { id: "a/b" })).toBe("/v1/devices/a%2Fb/collect");
    expect(routesOf({}).size).toBe(0);
  });
});
