import * as client from "@custody/client";
import { describe, expect, it } from "vitest";

describe("@custody/client", () => {
  it("exports the client factories and the identity parser, nothing else", () => {
    expect(Object.keys(client).sort()).toEqual(["createLiveClient", "createVaultClient", "parseTlsIdentity"]);
  });
});
