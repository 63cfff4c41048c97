import {
  bindArguments,
  COMMANDS,
  MAX_ARGS,
  parseCommandLine,
  renderCommandLine,
  renderTable,
} from "@custody/agent/protocol";
import { CustodyError } from "@custody/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
  throw new Error("expected a refusal");
}

describe("parseCommandLine", () => {
  test("positional, -name value, switches, output, redirect, background", () => {
    expect(parseCommandLine("getfile -auto C:\\Users\\a")).toMatchObject({
      name: "getfile",
      flags: { auto: true },
      positional: ["C:\\Users\\a"],
    });
    expect(parseCommandLine('getfile "C:\\Users\\a b\\x.txt" -auto > out.txt &')).toEqual({
      name: "getfile",
      positional: ["C:\\Users\\a b\\x.txt"],
      flags: { auto: true },
      redirect: "out.txt",
      background: true,
    });
    expect(parseCommandLine("findfile -root /etc *.conf -max_results 5 -output json")).toEqual({
      name: "findfile",
      positional: ["*.conf"],
      flags: { root: "/etc", max_results: "5" },
      output: "json",
      background: false,
    });
    expect(parseCommandLine('PROCESSES -name "say ""hi"""').flags).toEqual({ name: 'say "hi"' });
    expect(parseCommandLine('cd "-odd dir"').positional).toEqual(["-odd dir"]);
    expect(bindArguments("findfile", ["*.log"], { root: "/var" })).toEqual({ name: "*.log", root: "/var" });
  });

  test.each([
    ["", "ERR_USAGE"],
    ["   ", "ERR_USAGE"],
    ["rm -rf /", "ERR_UNKNOWN_COMMAND"],
    ["__proto__", "ERR_USAGE"],
    ["constructor", "ERR_UNKNOWN_COMMAND"],
    ["toString", "ERR_UNKNOWN_COMMAND"],
    ['"dir"', "ERR_USAGE"],
    ["dir /tmp\u0000/etc", "ERR_USAGE"],
    ["dir /tmp\n/etc", "ERR_USAGE"],
    ["dir /tmp\u001b[2J", "ERR_USAGE"],
    ["dir \u202e/pmt", "ERR_USAGE"],
    ["dir \ud800", "ERR_USAGE"],
    ['dir "unterminated', "ERR_USAGE"],
    ['dir "a"b', "ERR_USAGE"],
    ['dir a"b', "ERR_USAGE"],
    ["dir /tmp > ", "ERR_USAGE"],
    ["dir > a b", "ERR_USAGE"],
    ["dir /tmp | sh", "ERR_USAGE"],
    ["dir & /tmp", "ERR_USAGE"],
    ["dir -output xml", "ERR_USAGE"],
    ["dir -output json -output table", "ERR_USAGE"],
    ["dir -nosuch", "ERR_USAGE"],
    ["dir a b", "ERR_USAGE"],
    ["cd", "ERR_USAGE"],
    ["getfile /x -auto yes", "ERR_USAGE"],
    ["getfile -path", "ERR_USAGE"],
    ["getfile /a -path /b", "ERR_USAGE"],
    ["processes -pid 1 -pid 2", "ERR_USAGE"],
    ["processes -Ü 1", "ERR_USAGE"],
    [`dir ${"a".repeat(8 * 1024)}`, "ERR_SIZE_LIMIT"],
    [`dir ${"a ".repeat(MAX_ARGS + 1)}`, "ERR_SIZE_LIMIT"],
  ])("%j is refused with %s", (line, expected) => {
    expect(code(() => parseCommandLine(line))).toBe(expected);
  });

  test("render then parse gives back what was parsed (property)", () => {
    const value = fc.string({
      unit: fc.constantFrom("a", "b", " ", '"', "\\", "-", ">", "&", "é", "*", "/"),
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        value,
        fc.option(value, { nil: undefined }),
        fc.boolean(),
        fc.constantFrom(undefined, "json", "table"),
        fc.boolean(),
        (path, redirect, auto, output, background) => {
          const parsed = {
            name: "getfile",
            positional: [path],
            flags: auto ? { auto: true as const } : {},
            ...(output === undefined ? {} : { output: output as "json" | "table" }),
            ...(redirect === undefined || redirect === "" ? {} : { redirect }),
            background,
          };
          expect(parseCommandLine(renderCommandLine(parsed))).toEqual(parsed);
        },
      ),
    );
  });

  test("arbitrary input either parses or fails with a coded error", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (tail) => {
        try {
          parseCommandLine(`dir ${tail}`);
        } catch (error) {
          expect(error).toBeInstanceOf(CustodyError);
        }
      }),
    );
  });
});

describe("registry", () => {
  test("holds every command of this release with its tier and timeout", () => {
    expect(Object.keys(COMMANDS).sort()).toEqual(
      [
        "cd",
        "connections",
        "dir",
        "drivers",
        "fg",
        "fileinfo",
        "findfile",
        "getfile",
        "help",
        "jobs",
        "persistence",
        "processes",
        "registry",
        "scheduledtasks",
        "services",
        "status",
        "trace",
        "library",
        "run",
        "putfile",
        "remediate",
        "undo",
        "analyze",
        "collect",
        "isolate",
        "release",
      ].sort(),
    );
    expect(COMMANDS.getfile).toMatchObject({
      tier: "advanced",
      action: "live.advanced",
      prerequisite: "fileinfo",
      timeoutMs: 1_800_000,
    });
    expect(COMMANDS.findfile?.timeoutMs).toBe(1_800_000);
    expect(COMMANDS.dir?.timeoutMs).toBe(600_000);
    expect(COMMANDS.registry?.platforms).toEqual(["win32"]);
    for (const spec of Object.values(COMMANDS)) expect(spec.columns.length).toBeGreaterThan(0);
  });
});

describe("renderTable", () => {
  test("aligns columns and escapes what a device could use to drive the terminal", () => {
    const table = renderTable(
      [
        { pid: 1, name: "init" },
        { pid: 1234, name: "evil\u001b[2J\u202e" },
      ],
      ["pid", "name"],
    );
    expect(table.split("\n")).toEqual([
      "pid   name",
      "----  -------------------",
      "1     init",
      "1234  evil\\u001b[2J\\u202e",
    ]);
    expect(renderTable([{ a: "x".repeat(100) }], ["a"]).split("\n")[2]).toHaveLength(60);
  });
});
