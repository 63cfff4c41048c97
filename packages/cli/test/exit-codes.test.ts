import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CustodyError, ERROR_CODES, toCustodyError } from "@custody/core";
import { describe, expect, it } from "vitest";
import { EXIT, EXIT_CODE_BY_ERROR, EXIT_MEANINGS, exitCodeFor } from "../src/exit-codes.js";
import { presentError } from "../src/failure.js";

describe("exit codes", () => {
  it("give every ERR_ code a documented, non-zero exit code (and nothing else)", () => {
    const documented = new Set(Object.keys(EXIT_MEANINGS).map(Number));
    for (const code of ERROR_CODES) {
      const exit = exitCodeFor(code);
      expect(exit, code).not.toBe(EXIT.ok);
      expect(exit, code).not.toBe(EXIT.closedPipe);
      expect(documented.has(exit), `${code} -> ${exit} is not documented`).toBe(true);
      expect(EXIT_CODE_BY_ERROR[code], code).toBe(exit);
    }
    expect(Object.keys(EXIT_CODE_BY_ERROR).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("are all listed in docs/cli.md with their error codes", () => {
    const docs = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "cli.md"), "utf8");
    for (const code of ERROR_CODES) {
      const row = docs.split("\n").find((line) => line.includes(`\`${code}\``));
      expect(row, code).toMatch(new RegExp(`^\\| ${exitCodeFor(code)} \\|`));
    }
  });

  it("keep the ones scripts rely on", () => {
    expect(exitCodeFor("ERR_ALREADY_EXISTS")).toBe(5);
    expect(exitCodeFor("ERR_STORAGE_FULL")).toBe(7);
    expect(exitCodeFor("ERR_SIGNATURE_INVALID")).toBe(1);
    expect(exitCodeFor("ERR_USAGE")).toBe(2);
    expect(exitCodeFor("ERR_ACCESS_DENIED")).toBe(3);
    expect(exitCodeFor("ERR_NOT_FOUND")).toBe(4);
    expect(exitCodeFor("ERR_BACKEND_UNAVAILABLE")).toBe(6);
    expect(exitCodeFor("ERR_INTERNAL")).toBe(10);
  });
});

function systemError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe("a failure as the user sees it", () => {
  it("is ERR_STORAGE_FULL for ENOSPC and EDQUOT, however deep it was raised", () => {
    for (const errno of ["ENOSPC", "EDQUOT"]) {
      const shown = presentError(systemError(errno, `${errno}: no space left on device, write`));
      expect(shown.code).toBe("ERR_STORAGE_FULL");
      expect(exitCodeFor(shown.code)).toBe(EXIT.storage);
      const wrapped = toCustodyError(systemError(errno, "full"), "ERR_IO", "cannot store the item");
      expect(presentError(wrapped).code).toBe("ERR_STORAGE_FULL");
    }
  });

  it("is ERR_INTERNAL with one short line for anything that is not a CustodyError", () => {
    const thrown = [
      new TypeError("cannot read properties of undefined\n    at somewhere (file.js:1:1)"),
      (() => {
        try {
          JSON.parse("{ not json");
        } catch (error) {
          return error;
        }
      })(),
      "a string",
      new Error("x".repeat(5000)),
    ];
    for (const error of thrown) {
      const shown = presentError(error);
      expect(shown).toBeInstanceOf(CustodyError);
      expect(shown.code).toBe("ERR_INTERNAL");
      expect(shown.message).not.toContain("\n");
      expect(shown.message.length).toBeLessThan(400);
      expect(shown.cause).toBe(error);
    }
  });

  it("keeps a CustodyError as it is", () => {
    const error = new CustodyError("ERR_CERT_REVOKED", "revoked");
    expect(presentError(error)).toBe(error);
  });
});
