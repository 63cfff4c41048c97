import { ROUTES as API } from "@custody/api";
import { api, type Failure } from "./api.ts";
import { fillPath, findRoute, serverRoutes } from "./optional-routes.ts";

// The action center's one seam: the action-queue API is being built beside the console. When the server
// serves `GET /v1/actions`, the page lists its actions through `queueSource`; until then `historySource`
// shows the live-response command history across devices from the audit log (live.command and
// live.result records, joined by command id). Only this file changes when the queue's shape is final.

export type ActionStatus =
  | "pending"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  | "timed-out"
  | "refused";

export interface ActionView {
  id: string;
  deviceId: string;
  caseId?: string;
  /** `processes`, `getfile -path …`, `collect`: what was asked. */
  what: string;
  requestedBy: string;
  requestedAt: string;
  status: ActionStatus;
  durationMs?: number;
  /** The evidence item it produced (a getfile's file, a collected package). */
  itemId?: string;
  sessionId?: string;
}

export interface ActionsSource {
  /** Shown on the page: where the list comes from. */
  label: string;
  kind: "queue" | "history";
  list(): Promise<ActionView[]>;
}

const ACTIONS_PATH = /^\/v1\/actions$/;

export async function actionsSource(): Promise<ActionsSource> {
  const routes = await serverRoutes();
  const path = findRoute(routes, "GET", ACTIONS_PATH);
  return path === undefined ? historySource() : queueSource(path);
}

/** The action-queue API (`GET /v1/actions`), read loosely: fields it lacks are left out. */
export function queueSource(path: string): ActionsSource {
  return {
    label: "the action queue",
    kind: "queue",
    async list() {
      const response = await fetch(fillPath(path, {}), {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (!response.ok) throw failureOfStatus(response.status, await response.text().catch(() => ""));
      const body = (await response.json()) as unknown;
      const rows = Array.isArray(body) ? body : ((body as { actions?: unknown[] })?.actions ?? []);
      return rows.map((row) => queueAction(row as Record<string, unknown>));
    },
  };
}

function queueAction(row: Record<string, unknown>): ActionView {
  const text = (key: string) => (typeof row[key] === "string" ? (row[key] as string) : undefined);
  const view: ActionView = {
    id: text("id") ?? "",
    deviceId: text("deviceId") ?? "",
    what: text("line") ?? text("kind") ?? text("type") ?? "action",
    requestedBy: text("requestedBy") ?? text("createdBy") ?? "",
    requestedAt: text("requestedAt") ?? text("createdAt") ?? "",
    status: (text("status") ?? "pending") as ActionStatus,
  };
  const caseId = text("caseId");
  const itemId = text("itemId");
  if (caseId !== undefined) view.caseId = caseId;
  if (itemId !== undefined) view.itemId = itemId;
  if (typeof row.durationMs === "number") view.durationMs = row.durationMs;
  return view;
}

function failureOfStatus(status: number, text: string): Failure {
  let code = "ERR_INTERNAL";
  let message = `the server answered ${status}`;
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string };
    code = problem.code ?? code;
    message = problem.detail ?? problem.title ?? message;
  } catch {}
  return { status, code, message, denied: status === 403 || status === 404 };
}

/** Live-response commands across devices, from the audit log records the principal may read. */
export function historySource(): ActionsSource {
  return {
    label: "the live-response command history across devices (audit log)",
    kind: "history",
    async list() {
      const records = await api.call(API.showAudit);
      return commandHistory(records);
    },
  };
}

interface HistoryRecord {
  time: string;
  actor: string;
  action: string;
  outcome: string;
  target: string;
  details: Record<string, unknown>;
}

/** Joins each live.command decision with its live.result; newest first. A refused command is `refused`. */
export function commandHistory(records: readonly HistoryRecord[]): ActionView[] {
  const byId = new Map<string, ActionView>();
  for (const record of records) {
    const d = record.details;
    const cmdId = typeof d.cmdId === "string" ? d.cmdId : undefined;
    if (cmdId === undefined) continue;
    if (record.action === "live.command") {
      // a command is authorized at each phase (submit, dispatch): the first record opens it, a later denial refuses it
      const known = byId.get(cmdId);
      if (known !== undefined) {
        if (record.outcome !== "allow") known.status = "refused";
        continue;
      }
      const view: ActionView = {
        id: cmdId,
        deviceId: record.target.replace(/^device:/, ""),
        what: typeof d.line === "string" ? d.line : String(d.command ?? ""),
        requestedBy: record.actor,
        requestedAt: record.time,
        status: record.outcome === "allow" ? "pending" : "refused",
      };
      if (typeof d.caseId === "string") view.caseId = d.caseId;
      if (typeof d.sessionId === "string") view.sessionId = d.sessionId;
      byId.set(cmdId, view);
    } else if (record.action === "live.result") {
      const view = byId.get(cmdId);
      if (view === undefined) continue;
      if (typeof d.status === "string") view.status = d.status as ActionStatus;
      if (typeof d.durationMs === "number") view.durationMs = d.durationMs;
      if (typeof d.itemId === "string") view.itemId = d.itemId;
    }
  }
  return [...byId.values()].reverse();
}
