/** `1 h 02 min`, `3 min 05 s`, `12 s` from milliseconds. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, "0")} s`;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${sec} s`;
}

/** An ISO time as the analyst's local date and time; `—` for none. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** The first and last characters of a long digest, the whole one in a title attribute. */
export function shortDigest(hex: string, keep = 12): string {
  return hex.length <= keep * 2 ? hex : `${hex.slice(0, keep)}…${hex.slice(-4)}`;
}
