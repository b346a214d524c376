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
