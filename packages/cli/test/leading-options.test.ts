import { describe, expect, it } from "vitest";
import { optionsAfterCommand } from "../src/cli.js";

describe("options before the command", () => {
  it("moves leading --server, --identity, --vault, --ca and --json after the command words", () => {
    expect(
      optionsAfterCommand(["--server", "https://h:1", "--identity", "me.pem", "list", "--case", "A"]),
    ).toEqual(["list", "--case", "A", "--server", "https://h:1", "--identity", "me.pem"]);
    expect(optionsAfterCommand(["--vault=/v", "--json", "show", "abc"])).toEqual([
      "show",
      "abc",
      "--vault=/v",
      "--json",
    ]);
  });

  it("leaves everything else where it stands (an unknown leading option stays for the parser to refuse)", () => {
    expect(optionsAfterCommand(["list", "--server", "u"])).toEqual(["list", "--server", "u"]);
    expect(optionsAfterCommand(["--bogus", "list"])).toEqual(["--bogus", "list"]);
    expect(optionsAfterCommand(["--server"])).toEqual(["--server"]);
  });
});
