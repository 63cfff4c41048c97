import * as azure from "@custody/azure";
import { isCustodyError } from "@custody/core";
import { describe, expect, it } from "vitest";

describe("@custody/azure public surface (evidence store)", () => {
  it("exports the store", () => {
    expect(Object.keys(azure)).toEqual(expect.arrayContaining(["AzureBlobEvidenceStore"]));
    expect(typeof azure.AzureBlobEvidenceStore.open).toBe("function");
  });

  it("refuses ambiguous or missing authentication before any network call", async () => {
    const cases = [
      {},
      { containerName: "evidence" },
      { containerName: "evidence", connectionString: "x", accountUrl: "https://a.blob.core.windows.net" },
      { containerName: "evidence", accountUrl: "https://a.blob.core.windows.net" },
      { containerName: "evidence", accountUrl: "ftp://nope", credential: { getToken: async () => null } },
      { containerName: "evidence", connectionString: "not a connection string" },
      { containerName: "evidence", connectionString: "UseDevelopmentStorage=true", blockSizeBytes: 10 },
      { containerName: "evidence", connectionString: "UseDevelopmentStorage=true", concurrency: 0 },
    ];
    for (const options of cases) {
      const error = await azure.AzureBlobEvidenceStore.open(options as never).catch((e: unknown) => e);
      expect(isCustodyError(error, "ERR_INVALID_ARGUMENT"), JSON.stringify(options)).toBe(true);
    }
  });
});
