import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expiresInMs, readSteps } from "../src/commands/actions.js";

const dir = mkdtempSync(join(tmpdir(), "custody-actions-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

describe("custody actions: its arguments", () => {
  it("reads --expires as a duration in s, m, h or d, and refuses anything else", () => {
    expect(expiresInMs(undefined)).toBeUndefined();
    expect(expiresInMs("90s")).toBe(90_000);
    expect(expiresInMs("30m")).toBe(1_800_000);
    expect(expiresInMs("12h")).toBe(43_200_000);
    expect(expiresInMs("3d")).toBe(259_200_000);
    for (const bad of ["", "3", "0s", "-1d", "1w", "1.5h", "3 d", "99999999d"]) {
      expect(() => expiresInMs(bad), bad).toThrow(expect.objectContaining({ code: "ERR_USAGE" }));
    }
  });

  it("reads a steps file as {steps: [{line}]} or the array alone, and refuses what is not one", async () => {
    const lines = ["putfile a.sh", "run a.sh", "getfile /tmp/x -auto"];
    expect(
      await readSteps(file("object.json", JSON.stringify({ steps: lines.map((line) => ({ line })) }))),
    ).toEqual(lines);
    expect(await readSteps(file("array.json", JSON.stringify(lines)))).toEqual(lines);
    const bad = {
      "not.json": "{steps:",
      "empty.json": "[]",
      "null.json": "null",
      "noline.json": JSON.stringify([{ command: "run" }]),
      "blank.json": JSON.stringify([""]),
      "number.json": JSON.stringify({ steps: [{ line: 7 }] }),
    };
    for (const [name, text] of Object.entries(bad)) {
      await expect(readSteps(file(name, text)), name).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    }
    await expect(readSteps(file("big.json", " ".repeat(65 * 1024)))).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
    });
    await expect(readSteps(join(dir, "absent.json"))).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
    await expect(readSteps(dir)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  });
});
