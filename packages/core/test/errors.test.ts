import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError, ERROR_CODES, isCustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { describe, expect, it } from "vitest";

async function systemError(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

describe("CustodyError", () => {
  it("carries a stable code, details and cause, and serializes without the cause", () => {
    const cause = new Error("low level");
    const error = new CustodyError("ERR_NOT_FOUND", "item x not found", { cause, details: { key: "x" } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(CustodyError);
    expect(error.name).toBe("CustodyError");
    expect(error.code).toBe("ERR_NOT_FOUND");
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ key: "x" });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: "ERR_NOT_FOUND",
      message: "item x not found",
      details: { key: "x" },
    });
    expect(new CustodyError("ERR_IO", "no cause").cause).toBeUndefined();
    expect(new CustodyError("ERR_IO", "no details").details).toEqual({});
  });

  it("has unique, well-formed codes", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
    for (const needed of [
      "ERR_NOT_FOUND",
      "ERR_ALREADY_EXISTS",
      "ERR_INTEGRITY_MISMATCH",
      "ERR_ACCESS_DENIED",
    ]) {
      expect(ERROR_CODES).toContain(needed);
    }
    expect(ERROR_CODES).toContain("ERR_BACKEND_UNAVAILABLE");
  });

  it("isCustodyError checks the class and, optionally, the code", () => {
    const error = new CustodyError("ERR_IO", "x");
    expect(isCustodyError(error)).toBe(true);
    expect(isCustodyError(error, "ERR_IO")).toBe(true);
    expect(isCustodyError(error, "ERR_NOT_FOUND")).toBe(false);
    expect(isCustodyError(new Error("x"))).toBe(false);
    expect(isCustodyError({ code: "ERR_IO", message: "look-alike" })).toBe(false);
    expect(isCustodyError(undefined)).toBe(false);
  });
});

describe("toCustodyError", () => {
  it("maps real system errors by errno", async () => {
    const missing = await systemError(() => open(join(tmpdir(), "custody-no-such-file-xyz")));
    const notFound = toCustodyError(missing, "ERR_IO", "opening the item");
    expect(notFound.code).toBe("ERR_NOT_FOUND");
    expect(notFound.cause).toBe(missing);
    expect(notFound.message).toMatch(/^opening the item: ENOENT/);
    const notDir = await systemError(() => open(join("/etc/passwd", "child")));
    expect(toCustodyError(notDir, "ERR_IO", "x").code).toBe("ERR_NOT_FOUND");
    const exists = await systemError(() => open(tmpdir(), "wx"));
    expect(toCustodyError(exists, "ERR_IO", "x").code).toBe("ERR_ALREADY_EXISTS");
  });

  it("maps every listed errno and aborts", () => {
    const table: [string, string][] = [
      ["ENOENT", "ERR_NOT_FOUND"],
      ["ENOTDIR", "ERR_NOT_FOUND"],
      ["EEXIST", "ERR_ALREADY_EXISTS"],
      ["EACCES", "ERR_PERMISSION"],
      ["EPERM", "ERR_PERMISSION"],
      ["EROFS", "ERR_PERMISSION"],
      ["ETIMEDOUT", "ERR_TIMEOUT"],
      ["ECONNREFUSED", "ERR_BACKEND_UNAVAILABLE"],
      ["ECONNRESET", "ERR_BACKEND_UNAVAILABLE"],
      ["ABORT_ERR", "ERR_ABORTED"],
      ["EIO", "ERR_IO"],
    ];
    for (const [errno, code] of table) {
      expect(toCustodyError(Object.assign(new Error(errno), { code: errno }), "ERR_IO", "x").code).toBe(code);
    }
    const abort = new DOMException("stopped", "AbortError");
    expect(toCustodyError(abort, "ERR_INTERNAL", "x").code).toBe("ERR_ABORTED");
  });

  it("passes a CustodyError through, so wrapping twice never hides the first code", () => {
    const first = new CustodyError("ERR_INTEGRITY_MISMATCH", "bytes changed");
    expect(toCustodyError(first, "ERR_IO", "outer")).toBe(first);
    expect(toCustodyError(toCustodyError(first, "ERR_IO", "a"), "ERR_INTERNAL", "b")).toBe(first);
  });

  it("uses the fallback for anything else, including non-errors", () => {
    expect(toCustodyError(new Error("weird"), "ERR_INTERNAL", "doing y")).toMatchObject({
      code: "ERR_INTERNAL",
      message: "doing y: weird",
    });
    for (const odd of ["a string", 42, null, undefined, { code: 7 }, { code: "NOT_AN_ERRNO" }]) {
      const error = toCustodyError(odd, "ERR_IO", "z");
      expect(error.code).toBe("ERR_IO");
      expect(error.cause).toBe(odd);
    }
  });
});

describe("throwIfAborted", () => {
  it("throws ERR_ABORTED with the reason once the signal fired, and nothing before", () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal)).not.toThrow();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    controller.abort(new Error("user pressed stop"));
    try {
      throwIfAborted(controller.signal);
      expect.unreachable();
    } catch (error) {
      expect(isCustodyError(error, "ERR_ABORTED")).toBe(true);
      expect((error as Error).cause).toEqual(new Error("user pressed stop"));
    }
  });
});
