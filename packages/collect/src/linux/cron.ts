export interface CronEntry {
  schedule: string;
  user: string;
  command: string;
}

/**
 * A crontab. System crontabs (/etc/crontab, /etc/cron.d) carry a user field; per-user spools do not.
 * Environment lines (NAME=value) and comments are skipped.
 */
export function parseCrontab(text: string, options: { systemFormat: boolean; owner?: string }): CronEntry[] {
  const out: CronEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) continue;
    const fields = line.split(/\s+/);
    const special = fields[0]?.startsWith("@") === true;
    const scheduleFields = special ? 1 : 5;
    const userField = options.systemFormat ? 1 : 0;
    if (fields.length < scheduleFields + userField + 1) continue;
    out.push({
      schedule: fields.slice(0, scheduleFields).join(" "),
      user: options.systemFormat ? (fields[scheduleFields] ?? "") : (options.owner ?? ""),
      command: fields.slice(scheduleFields + userField).join(" "),
    });
  }
  return out;
}

/** /etc/anacrontab: period(days or @monthly) delay(min) job-id command. */
export function parseAnacrontab(text: string): CronEntry[] {
  const out: CronEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) continue;
    const fields = line.split(/\s+/);
    if (fields.length < 4) continue;
    out.push({
      schedule: `anacron period=${fields[0]} delay=${fields[1]} id=${fields[2]}`,
      user: "root",
      command: fields.slice(3).join(" "),
    });
  }
  return out;
}
