import * as server from "@custody/server";
import { describe, expect, it } from "vitest";

describe("@custody/server public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(server).sort()).toEqual(
      [
        "AllowList",
        "DEFAULT_ACTION_LIMITS",
        "DEFAULT_LIMITS",
        "DEFAULT_LIVE_LIMITS",
        "SERVER_FILE",
        "defaultServerNames",
        "startServer",
      ].sort(),
    );
  });

  it("reads CIDR allow-lists and refuses what is not one", () => {
    const allow = new server.AllowList(["10.0.0.0/8", "::1/128"]);
    expect(allow.allows("10.1.2.3")).toBe(true);
    expect(allow.allows("::ffff:10.1.2.3")).toBe(true);
    expect(allow.allows("11.0.0.1")).toBe(false);
    expect(allow.allows("::1")).toBe(true);
    expect(allow.allows(undefined)).toBe(false);
    expect(new server.AllowList([]).allows("192.0.2.1")).toBe(true);
    for (const bad of ["10.0.0.0/33", "example.com/8", "10.0.0.0/x", ""]) {
      expect(() => new server.AllowList([bad]), bad).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
    }
  });
});
