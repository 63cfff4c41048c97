import type { ProgressLine } from "./command.js";

const quiet: ProgressLine = { update() {}, done() {} };

/** One line rewritten in place on a terminal (at most ~10 times a second); silent when not a TTY. */
export function createProgressLine(stream: NodeJS.WritableStream, enabled: boolean): ProgressLine {
  if (!enabled) return quiet;
  let last = 0;
  const write = (text: string) => stream.write(`\r\u001b[2K${text}`);
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      write(text);
    },
    done(text) {
      write(text === undefined ? "" : `${text}\n`);
    },
  };
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
