/** Timestamp renderings used in output: RFC 3339 for JSON, `YYYY-MM-DD HH:MM:SS UTC` for tables. */

/** The last minute `formatJsonTimestamp` formatted, and its text up to the seconds. */
let cachedMinute = NaN;
let cachedMinuteText = "";
/** Later years print with six digits and a sign. */
const YEAR_10000_MS = 253_402_300_800_000;

/** RFC 3339 UTC with `Z`, and 0 or 3 fractional digits as needed (we keep milliseconds). */
export function formatJsonTimestamp(ms: number): string {
  // `job info` of a million tasks formats two million times, mostly within a few minutes: only
  // the seconds and milliseconds differ (no leap seconds in JavaScript time).
  if (Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000_MS) {
    const minute = Math.floor(ms / 60_000);
    if (minute !== cachedMinute) {
      const iso = new Date(minute * 60_000).toISOString(); // …T10:12:00.000Z
      cachedMinuteText = iso.slice(0, iso.length - 7);
      cachedMinute = minute;
    }
    const inMinute = ms - minute * 60_000;
    const seconds = Math.floor(inMinute / 1000);
    const millis = inMinute - seconds * 1000;
    const ss = seconds < 10 ? `0${seconds}` : `${seconds}`;
    if (millis === 0) return `${cachedMinuteText}${ss}Z`;
    return `${cachedMinuteText}${ss}.${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
  }
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
