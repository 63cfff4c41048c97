import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { escapeControls, jsonLine, renderRows, writeRedirect } from "../src/commands/live-output.js";

const work = mkdtempSync(join(tmpdir(), "custody-live-output-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A process name that clears the screen, writes the clipboard (OSC 52), hides a line with cursor-up,
// uses the 8-bit CSI and reverses the text direction.
const HOSTILE = "evil\u001b[2J\u001b]52;c;cm0gLXJmIC8=\u0007\u001b[1A\u009b31m\u202egnp.exe\r\n";

describe("live console output", () => {
  it("prints device text with every control character escaped, in tables and JSON", () => {
    const rows = [{ pid: 1, ppid: 0, user: "root", name: HOSTILE, startTime: "t", commandLine: HOSTILE }];
    const table = renderRows("processes", rows, "table");
    const json = renderRows("processes", rows, "json");
    for (const text of [table, json, escapeControls(HOSTILE), jsonLine({ name: HOSTILE })]) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters
      expect(text.replaceAll("\n", "")).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/u);
    }
    expect(escapeControls(HOSTILE)).toContain("\\e]52;c;");
    expect(JSON.parse(json)).toEqual(rows[0]);
  });

  it("writes `> file` output on this machine, never over an existing file", async () => {
    const written = await writeRedirect(work, "out.txt", "pid\n1");
    expect(readFileSync(written, "utf8")).toBe("pid\n1\n");
    writeFileSync(join(work, "kept.txt"), "mine");
    await expect(writeRedirect(work, "kept.txt", "theirs")).rejects.toMatchObject({
      code: "ERR_ALREADY_EXISTS",
    });
    expect(readFileSync(join(work, "kept.txt"), "utf8")).toBe("mine");
  });
});
