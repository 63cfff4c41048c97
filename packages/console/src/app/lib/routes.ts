import Access from "../pages/Access.svelte";
import Actions from "../pages/Actions.svelte";
import Audit from "../pages/Audit.svelte";
import Cases from "../pages/Cases.svelte";
import Devices from "../pages/Devices.svelte";
import Report from "../pages/Report.svelte";
import Session from "../pages/Session.svelte";
import type { Route } from "./router.svelte.ts";

/**
 * Every page of the console, one file each under pages/. The first route is the home page. A page gets
 * its path parameters as `params`; it loads its own data through lib/api.ts.
 */
export const ROUTES: readonly Route[] = [
  { pattern: "/devices", title: "Devices", page: Devices, nav: true },
  { pattern: "/sessions/:id", title: "Live response", page: Session },
  { pattern: "/actions", title: "Action center", page: Actions, nav: true },
  { pattern: "/cases", title: "Cases and evidence", page: Cases, nav: true },
  { pattern: "/items/:id/report", title: "Custody report", page: Report },
  { pattern: "/audit", title: "Audit log", page: Audit, nav: true },
  { pattern: "/access", title: "Access", page: Access, nav: true },
];
