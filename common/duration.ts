// Duration syntax of spec §7: the clock form `[[HH:]MM:]SS`, the humantime form (`2h 30m`, `1.5h`)
// and the humantime rendering used in cli output and log messages.
//
// Loaded by every CLI start, so this module has no imports. Arithmetic runs on BigInt nanoseconds:
// a float would turn `0.1s + 0.2s` into 300000000.00000006 ns and lose sub-millisecond components
// of long durations when formatting.

/**
 * A duration string could not be parsed; `message` is the detail (e.g. `unknown time unit "x"`).
 */
export class DurationParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DurationParseError";
  }
}

const NS_PER_US = 1_000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const S_PER_MINUTE = 60n;
const S_PER_HOUR = 3_600n;
const S_PER_DAY = 86_400n;
// 30.44 and 365.25 days, the definitions of HyperQueue's humantime crate.
const S_PER_MONTH = 2_630_016n;
const S_PER_YEAR = 31_557_600n;

/** Results beyond this would lose whole milliseconds once converted to a JS number. */
const MAX_NS = BigInt(Number.MAX_SAFE_INTEGER) * NS_PER_MS;

const UNIT_NS: ReadonlyMap<string, bigint> = new Map<string, bigint>([
  ...spellings(["ns", "nsec", "nanos"], 1n),
  ...spellings(["us", "µs", "usec"], NS_PER_US),
  ...spellings(["ms", "msec", "millis"], NS_PER_MS),
  ...spellings(["s", "sec", "secs", "second", "seconds"], NS_PER_S),
  ...spellings(["m", "min", "mins", "minute", "minutes"], S_PER_MINUTE * NS_PER_S),
  ...spellings(["h", "hr", "hrs", "hour", "hours"], S_PER_HOUR * NS_PER_S),
  ...spellings(["d", "day", "days"], S_PER_DAY * NS_PER_S),
  ...spellings(["w", "wk", "wks", "week", "weeks"], 7n * S_PER_DAY * NS_PER_S),
  ...spellings(["M", "month", "months"], S_PER_MONTH * NS_PER_S),
  ...spellings(["y", "yr", "yrs", "year", "years"], S_PER_YEAR * NS_PER_S),
]);

function spellings(names: string[], ns: bigint): [string, bigint][] {
  return names.map((name) => [name, ns]);
}

const SUPPORTED_UNITS = "ns, us, ms, s, m, h, d, w, M, y";

// `_` only between digits, so `1_000` is a number while `_1`, `1_` and `_` are not.
const CLOCK_FIELD = /^[0-9]+(?:_+[0-9]+)*$/;

/**
 * Clock form `[[HH:]MM:]SS` first, then humantime. Returns milliseconds (may be fractional for
 * us/ns).
 */
export function parseDuration(text: string): number {
  const fields = text.split(":");
  if (fields.length === 1 && !CLOCK_FIELD.test(text)) return parseHumantime(text);
  // From here on the text can only mean the clock form, so its errors beat humantime's.
  if (fields.length > 3) {
    throw new DurationParseError(
      `clock form has at most three fields ([[HH:]MM:]SS), got ${fields.length}`,
    );
  }
  let seconds = 0n;
  for (const field of fields) {
    if (!CLOCK_FIELD.test(field)) {
      throw new DurationParseError(
        field === ""
          ? `empty clock field in "${text}", expected [[HH:]MM:]SS`
          : `invalid clock field "${field}", expected an unsigned integer ([[HH:]MM:]SS)`,
      );
    }
    seconds = seconds * 60n + BigInt(field.replaceAll("_", ""));
  }
  return nsToMs(checkRange(seconds * NS_PER_S));
}

/** humantime form only (used by --overview-interval: a bare `30` is invalid, `0` is valid). */
export function parseHumantime(text: string): number {
  if (text === "0") return 0;
  let pos = skipSpace(text, 0);
  if (pos === text.length) throw new DurationParseError("empty duration");
  let totalNs = 0n;
  while (pos < text.length) {
    const numberStart = pos;
    if (!isDigit(text[pos])) {
      throw new DurationParseError(
        `expected a number at position ${pos}, found ${quote(text[pos])}`,
      );
    }
    while (isDigit(text[pos])) pos++;
    const intDigits = text.slice(numberStart, pos);
    let fracDigits = "";
    if (text[pos] === ".") {
      pos++;
      const fracStart = pos;
      while (isDigit(text[pos])) pos++;
      if (pos === fracStart) {
        throw new DurationParseError(`expected digits after the decimal point at position ${pos}`);
      }
      fracDigits = text.slice(fracStart, pos);
    }
    const number = text.slice(numberStart, pos);

    pos = skipSpace(text, pos);
    if (pos === text.length) {
      throw new DurationParseError(
        `missing time unit after "${number}", for example "${number}s"`,
      );
    }
    const unitStart = pos;
    while (isUnitChar(text[pos])) pos++;
    if (pos === unitStart) {
      // HyperQueue's humantime rejects digit separators; say so instead of "expected a unit".
      if (text[pos] === "_") {
        throw new DurationParseError(
          `"_" is only allowed in the clock form, found at position ${pos}`,
        );
      }
      throw new DurationParseError(
        `expected a time unit at position ${pos}, found ${quote(text[pos])}`,
      );
    }
    const unit = text.slice(unitStart, pos);
    const unitNs = UNIT_NS.get(unit);
    if (unitNs === undefined) {
      throw new DurationParseError(
        `unknown time unit "${unit}", supported units: ${SUPPORTED_UNITS}`,
      );
    }

    const fracScale = 10n ** BigInt(fracDigits.length);
    const fracNs = BigInt(fracDigits || "0") * unitNs;
    if (fracNs % fracScale !== 0n) {
      throw new DurationParseError(`fraction below 1 ns in "${number}${unit}"`);
    }
    totalNs = checkRange(totalNs + BigInt(intDigits) * unitNs + fracNs / fracScale);

    // Items may touch (`2h30m`) but anything else after a unit must be whitespace.
    if (pos < text.length && !isDigit(text[pos]) && !isSpace(text[pos])) {
      throw new DurationParseError(`unexpected character ${quote(text[pos])} at position ${pos}`);
    }
    pos = skipSpace(text, pos);
  }
  return nsToMs(totalNs);
}

/**
 * humantime rendering of spec §7.3: `8s`, `5m`, `1h 30m`, `47m 58s`, `1day 2h`, `3days`,
 * `1s 500ms`, `0s`; years/months with 365.25/30.44-day definitions (30 days -> `30days`,
 * 31 days -> `1month 13h 26m 24s`).
 * Negative input gets a leading `-`; NaN and Infinity throw RangeError.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format a duration of ${ms} ms`);
  // Durations computed from clocks (e.g. a deadline minus now) can come out negative; a log line
  // should show that rather than throw.
  if (ms < 0) return `-${formatDuration(-ms)}`;

  // Splitting off whole milliseconds keeps the ns digits exact for durations past 2^53 ns.
  let wholeMs = Math.floor(ms);
  let subMsNs = Math.round((ms - wholeMs) * 1e6);
  if (subMsNs === 1_000_000) {
    wholeMs += 1;
    subMsNs = 0;
  }
  const totalNs = BigInt(wholeMs) * NS_PER_MS + BigInt(subMsNs);

  const totalS = totalNs / NS_PER_S;
  const nanos = totalNs % NS_PER_S;
  const parts: string[] = [];
  const push = (value: bigint, suffix: string) => {
    if (value !== 0n) parts.push(`${value}${suffix}`);
  };
  const pushPlural = (value: bigint, name: string) => {
    if (value !== 0n) parts.push(`${value}${name}${value > 1n ? "s" : ""}`);
  };
  pushPlural(totalS / S_PER_YEAR, "year");
  const yearRestS = totalS % S_PER_YEAR;
  pushPlural(yearRestS / S_PER_MONTH, "month");
  const monthRestS = yearRestS % S_PER_MONTH;
  pushPlural(monthRestS / S_PER_DAY, "day");
  const dayRestS = monthRestS % S_PER_DAY;
  push(dayRestS / S_PER_HOUR, "h");
  push((dayRestS % S_PER_HOUR) / S_PER_MINUTE, "m");
  push(dayRestS % S_PER_MINUTE, "s");
  push(nanos / NS_PER_MS, "ms");
  push((nanos % NS_PER_MS) / NS_PER_US, "us");
  push(nanos % NS_PER_US, "ns");
  return parts.length === 0 ? "0s" : parts.join(" ");
}

function checkRange(ns: bigint): bigint {
  if (ns > MAX_NS) throw new DurationParseError("duration is too large");
  return ns;
}

function nsToMs(ns: bigint): number {
  return Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && /\s/.test(ch);
}

// Greek mu is grouped with the unit so that `5μs` reports an unknown unit instead of a stray
// character; only the micro sign (U+00B5) spelling is accepted.
function isUnitChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z\u00B5\u03BC]/.test(ch);
}

function skipSpace(text: string, pos: number): number {
  while (isSpace(text[pos])) pos++;
  return pos;
}

function quote(ch: string | undefined): string {
  return ch === undefined ? "end of input" : JSON.stringify(ch);
}
