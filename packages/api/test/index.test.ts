import * as api from "@custody/api";
import { describe, expect, it } from "vitest";

describe("@custody/api public surface", () => {
  it("exports the schemas, the route table, problem details and the status map, and no server code", () => {
    expect(Object.keys(api)).toEqual(
      expect.arrayContaining([
        "ROUTES",
        "API_BASE_PATH",
        "routePath",
        "problemFromError",
        "errorFromProblem",
        "HTTP_STATUS_BY_CODE",
        "openApiDocument",
      ]),
    );
    expect(Object.keys(api).some((name) => /server|listen|fastify/i.test(name))).toBe(false);
  });
});
