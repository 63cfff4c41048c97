import { CustodyError, ERROR_CODES } from "@custody/core";
import { describe, expect, it } from "vitest";
import {
  errorFromProblem,
  HTTP_STATUS_BY_CODE,
  httpStatusFor,
  parseProblem,
  problemDetailsSchema,
  problemFromError,
} from "../src/index.js";

describe("the error code to HTTP status map", () => {
  it("gives every ERR_ code an HTTP error status, and knows no other code", () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusFor(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThanOrEqual(599);
    }
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("keeps the statuses clients and operators rely on", () => {
    expect(httpStatusFor("ERR_INVALID_ARGUMENT")).toBe(400);
    expect(httpStatusFor("ERR_IDENTITY_INVALID")).toBe(401);
    expect(httpStatusFor("ERR_CERT_REVOKED")).toBe(401);
    expect(httpStatusFor("ERR_ACCESS_DENIED")).toBe(403);
    expect(httpStatusFor("ERR_NOT_FOUND")).toBe(404);
    expect(httpStatusFor("ERR_ALREADY_EXISTS")).toBe(409);
    expect(httpStatusFor("ERR_SIZE_LIMIT")).toBe(413);
    expect(httpStatusFor("ERR_INTEGRITY_MISMATCH")).toBe(422);
    expect(httpStatusFor("ERR_AUDIT_LOCKED")).toBe(423);
    expect(httpStatusFor("ERR_RATE_LIMITED")).toBe(429);
    expect(httpStatusFor("ERR_SERVER_BUSY")).toBe(503);
  });
});

describe("problem details", () => {
  it("carry the code, the message and the details, and a client rethrows the same error", () => {
    const error = new CustodyError("ERR_ALREADY_EXISTS", "item a is already in case C", {
      details: { id: "a" },
    });
    const problem = problemFromError(error, "req-1");
    expect(problemDetailsSchema.parse(problem)).toEqual(problem);
    expect(problem).toMatchObject({
      type: "urn:custody:error:ERR_ALREADY_EXISTS",
      status: 409,
      code: "ERR_ALREADY_EXISTS",
      detail: "item a is already in case C",
      requestId: "req-1",
      details: { id: "a" },
    });
    const again = errorFromProblem(JSON.parse(JSON.stringify(problem)));
    expect(again).toBeInstanceOf(CustodyError);
    expect(again.code).toBe("ERR_ALREADY_EXISTS");
    expect(again.message).toBe(error.message);
    expect(again.details).toMatchObject({ id: "a", requestId: "req-1" });
  });

  it("never tell what an unexpected error said (paths, secrets)", () => {
    const problem = problemFromError(new Error("EACCES /srv/vault/pki/ca.key"), "req-2");
    expect(problem.code).toBe("ERR_INTERNAL");
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain("ca.key");
  });

  it("turn a non-problem answer into ERR_BACKEND_UNAVAILABLE", () => {
    expect(parseProblem("<html>bad gateway</html>", 502).code).toBe("ERR_BACKEND_UNAVAILABLE");
    expect(parseProblem({ code: "ERR_NOT_A_CODE" }, 400).code).toBe("ERR_BACKEND_UNAVAILABLE");
  });
});
