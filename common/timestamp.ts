/** Timestamp renderings used in output: RFC 3339 for JSON, `YYYY-MM-DD HH:MM:SS UTC` for tables. */

/** RFC 3339 UTC with `Z`, and 0 or 3 fractional digits as needed (we keep milliseconds). */
export function formatJsonTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2025-03-04T10:12:55.101Z
  return iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
}

/** `2025-03-04 10:12:55 UTC`, as the server info table prints its start date. */
export function formatCliDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** `DD.MM.YYYY HH:MM:SS` in local time (the tables of `task info` and `alloc info`). */
export function formatLocalDateTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getDate())}.${two(d.getMonth() + 1)}.${d.getFullYear()} ${two(d.getHours())}:${
    two(d.getMinutes())
  }:${two(d.getSeconds())}`;
}
