import { createServer, type Server as HttpsServer } from "node:https";
import type { TlsOptions } from "node:tls";
import { OPERATIONAL_ROUTES, openApiDocument, REQUEST_ID_HEADER } from "@custody/api";
import { type Clock, CustodyError, systemClock, uuidv7Generator } from "@custody/core";
import type { Vault } from "@custody/vault";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { authenticate, clientAddress, type PrincipalKind, refuseUnverifiedPeer } from "./auth.js";
import { consoleRoutes, loadConsoleAssets } from "./console.js";
import { type ActionQueueLimits, registerActionQueue } from "./live/actions/index.js";
import { AgentHub, type AgentTimeouts } from "./live/agent-hub.js";
import { deviceRoutes } from "./live/device-routes.js";
import { DEFAULT_ENROLL_LIMITS, type EnrollLimits, enrollRoute } from "./live/enroll.js";
import { libraryRoutes } from "./live/library-routes.js";
import { type LiveLimits, registerLiveSessions } from "./live/sessions/index.js";
import type { ServerLimits } from "./options.js";
import { notFound, sendProblem } from "./problems.js";
import { RateLimiter } from "./rate-limit.js";
import type { RefusalRecorder } from "./refusals.js";
import { accessRoutes } from "./routes/access.js";
import { auditRoutes } from "./routes/audit.js";
import { evidenceRoutes } from "./routes/evidence.js";
import type { RouteContext } from "./routes/register.js";
import { uploadRoute } from "./routes/upload.js";

export interface AppOptions {
  vault: Vault;
  tls: TlsOptions;
  limits: ServerLimits;
  logger: Logger;
  refusals: RefusalRecorder;
  onRevocation(): void;
  /** False once a graceful shutdown has begun: /readyz answers 503. */
  isReady(): boolean;
  clock?: Clock;
  enrollLimits?: Partial<EnrollLimits>;
  /** Live-response session limits (the source document's by default). */
  liveLimits?: Partial<LiveLimits>;
  /** The action queue: how long actions wait for their device (3 days by default, 30 at most). */
  actionLimits?: Partial<ActionQueueLimits>;
  agentTimeouts?: Partial<AgentTimeouts>;
}

export interface App {
  app: FastifyInstance;
  https: HttpsServer;
  /** The agents' WebSocket endpoint (`/v1/agent`) on the same listener. */
  hub: AgentHub;
}

/** The Fastify application on an HTTPS server it does not listen with (the server feeds it connections). */
export async function buildApp(options: AppOptions): Promise<App> {
  let https: HttpsServer | undefined;
  const ids = uuidv7Generator();
  const app = Fastify({
    loggerInstance: options.logger,
    serverFactory: (handler) => {
      https = createServer({ ...options.tls, ...httpTimeouts(options.limits) }, handler);
      return https;
    },
    genReqId: () => ids.next(),
    requestIdHeader: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    logController: new OneLinePerRequest(),
  }) as unknown as FastifyInstance;
  const hub = new AgentHub({
    vault: options.vault,
    refusals: options.refusals,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    ...options.agentTimeouts,
  });
  configure(app, options, hub);
  await app.ready();
  if (https === undefined) throw new CustodyError("ERR_INTERNAL", "the HTTPS server was not created");
  https.timeout = options.limits.idleSocketTimeoutMs;
  https.maxHeadersCount = 100;
  hub.attach(https);
  return { app, https, hub };
}

function configure(app: FastifyInstance, options: AppOptions, hub: AgentHub): void {
  const { vault, limits } = options;
  const limiter = new RateLimiter(limits.requestsPerSecond, limits.requestBurst);
  const ctx: RouteContext = {
    vault,
    limits,
    uploads: { active: 0 },
    onRevocation: options.onRevocation,
  };
  app.setValidatorCompiler(({ schema }) => (data) => {
    const parsed = (schema as ZodType).safeParse(data);
    if (parsed.success) return { value: parsed.data };
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
    return {
      error: new CustodyError("ERR_INVALID_ARGUMENT", `${where}${issue?.message ?? "invalid request"}`),
    };
  });
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  // an empty JSON body on a route that takes none is no body, not an error
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) =>
    body === "" ? done(null, undefined) : json(request, String(body), done),
  );
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));
  app.addHook("onRequest", async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    const config = request.routeOptions.config as {
      authenticated?: boolean;
      upload?: boolean;
      principal?: PrincipalKind;
    };
    // a request without a body (no content-length, no transfer-encoding) has nothing to be slow with
    if (config.upload !== true && hasBody(request.headers))
      bodyDeadline(request.raw, limits.requestBodyTimeoutMs);
    if (config.authenticated === true)
      await authenticate(vault, limiter, options.refusals, request, reply, config.principal);
    else await refuseUnverifiedPeer(options.refusals, request, reply);
  });
  app.addHook("preHandler", async (request) => clearBodyDeadline(request.raw));
  app.addHook("onResponse", async (request) => clearBodyDeadline(request.raw));
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) => notFound(request, reply));
  operationalRoutes(app, options);
  consoleRoutes(app, loadConsoleAssets());
  evidenceRoutes(app, ctx);
  uploadRoute(app, ctx);
  accessRoutes(app, ctx);
  auditRoutes(app, ctx);
  enrollRoute(app, vault, { ...DEFAULT_ENROLL_LIMITS, ...options.enrollLimits });
  deviceRoutes(app, ctx, hub);
  libraryRoutes(app, ctx);
  const isLiveResponseOn = async () => vault.liveResponseEnabled;
  const live = registerLiveSessions(app, {
    vault,
    hub,
    isLiveResponseOn,
    ...(options.liveLimits === undefined ? {} : { limits: options.liveLimits }),
  });
  registerActionQueue(app, {
    vault,
    hub,
    live,
    isLiveResponseOn,
    ...(options.actionLimits === undefined ? {} : { limits: options.actionLimits }),
  });
}

function operationalRoutes(app: FastifyInstance, options: AppOptions): void {
  const open = { config: { authenticated: false } };
  app.get(OPERATIONAL_ROUTES.healthz.path, open, async () => ({ status: "ok" }));
  app.get(OPERATIONAL_ROUTES.readyz.path, open, async (_request, reply) =>
    options.isReady() ? { status: "ok" } : reply.code(503).send({ status: "draining" }),
  );
  const document = openApiDocument();
  app.get(OPERATIONAL_ROUTES.openapi.path, open, async () => document);
}

/**
 * One log line per request, when it has been answered (method, URL, status, time, request id, client
 * address), instead of Fastify's two ("incoming request", then "request completed"): on a busy server the
 * log stream is a per-request cost. Fastify's other lines (errors, streams cut short) are kept.
 */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
      clientAddress: clientAddress(request),
    };
    if (error) reply.log.error({ ...line, err: error }, "request errored");
    else reply.log.info(line, "request answered");
  }
}

const deadlines = new WeakMap<object, NodeJS.Timeout>();

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers["transfer-encoding"] !== undefined || (headers["content-length"] ?? "0") !== "0";
}

/** A request whose body has not arrived in time is cut (slow-body clients on JSON routes). */
function bodyDeadline(raw: { destroy(error?: Error): void }, timeoutMs: number): void {
  const timer = setTimeout(
    () => raw.destroy(new CustodyError("ERR_TIMEOUT", "request body too slow")),
    timeoutMs,
  );
  timer.unref();
  deadlines.set(raw, timer);
}

function clearBodyDeadline(raw: object): void {
  const timer = deadlines.get(raw);
  if (timer === undefined) return;
  clearTimeout(timer);
  deadlines.delete(raw);
}

/** Node's and Fastify's defaults let a client hold a connection forever; these bound every phase. */
function httpTimeouts(limits: ServerLimits) {
  return {
    headersTimeout: limits.headersTimeoutMs,
    // the whole-request timeout would cut long uploads: each route has its own deadline instead
    requestTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often Node looks for connections past their headers timeout (30 s by default)
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    maxHeaderSize: 16 * 1024,
  };
}
