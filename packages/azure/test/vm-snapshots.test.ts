import { ComputeVmSnapshots } from "@custody/azure";
import { isCustodyError } from "@custody/core";
import { describe, expect, it } from "vitest";

// The compute calls need an Azure subscription (not in CI); what can be checked offline is checked here.
describe("ComputeVmSnapshots", () => {
  const credential = { getToken: async () => null };
  const good = {
    subscriptionId: "00000000-0000-0000-0000-000000000000",
    resourceGroup: "soc",
    vmName: "web-1",
    credential,
  };

  it("refuses bad names and a missing credential before any network call", () => {
    for (const options of [
      { ...good, vmName: "" },
      { ...good, resourceGroup: "../x" },
      { ...good, subscriptionId: "sub/../../other" },
      { ...good, credential: undefined as never },
    ]) {
      let error: unknown;
      try {
        new ComputeVmSnapshots(options);
      } catch (e) {
        error = e;
      }
      expect(isCustodyError(error, "ERR_INVALID_ARGUMENT"), JSON.stringify(options)).toBe(true);
    }
    expect(new ComputeVmSnapshots(good)).toBeInstanceOf(ComputeVmSnapshots);
  });
});
