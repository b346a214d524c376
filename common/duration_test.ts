import assert from "node:assert/strict";
import { DurationParseError, formatDuration, parseDuration, parseHumantime } from "./duration.ts";

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

function assertParseError(parse: (text: string) => number, text: string, detail: RegExp) {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof DurationParseError, `expected DurationParseError for "${text}"`);
      assert.equal(error.name, "DurationParseError");
      assert.match(error.message, detail);
      return true;
    },
  );
}

// --- clock form ---

Deno.test("parseDuration accepts the clock form SS", () => {
  assert.equal(parseDuration("30"), 30 * S);
  assert.equal(parseDuration("90"), 90 * S);
  assert.equal(parseDuration("0"), 0);
});

Deno.test("parseDuration accepts the clock form MM:SS", () => {
  assert.equal(parseDuration("00:30"), 30 * S);
  assert.equal(parseDuration("1:30"), 90 * S);
});

Deno.test("parseDuration accepts the clock form HH:MM:SS", () => {
  assert.equal(parseDuration("00:02:30"), 150 * S);
  assert.equal(parseDuration("01:00:00"), H);
  assert.equal(parseDuration("02:05:10"), 7510 * S);
});

Deno.test("parseDuration does not range-check clock fields", () => {
  assert.equal(parseDuration("0:90"), 90 * S);
  assert.equal(parseDuration("100:00:00"), 100 * H);
  assert.equal(parseDuration("0:0:3600"), H);
});

Deno.test("parseDuration accepts underscores between digits of clock fields", () => {
  assert.equal(parseDuration("1_000"), 1000 * S);
  assert.equal(parseDuration("1_0:0_0"), 600 * S);
  assert.equal(parseDuration("1__0"), 10 * S);
});

Deno.test("parseDuration rejects underscores at the edge of clock fields", () => {
  assertParseError(parseDuration, "_1:00", /invalid clock field "_1"/);
  assertParseError(parseDuration, "1_:00", /invalid clock field "1_"/);
});

Deno.test("parseDuration rejects more than three clock fields", () => {
  assertParseError(parseDuration, "1:2:3:4", /at most three fields/);
});

Deno.test("parseDuration rejects a fraction in the clock form", () => {
  assertParseError(parseDuration, "1.5:00", /invalid clock field "1\.5"/);
  assertParseError(parseDuration, "1:30.5", /invalid clock field "30\.5"/);
});

Deno.test("parseDuration rejects a sign in the clock form", () => {
  assertParseError(parseDuration, "-1:00", /invalid clock field "-1"/);
  assertParseError(parseDuration, "+1:00", /invalid clock field "\+1"/);
});

Deno.test("parseDuration rejects an empty clock field", () => {
  assertParseError(parseDuration, "1::00", /empty clock field/);
  assertParseError(parseDuration, ":30", /empty clock field/);
  assertParseError(parseDuration, "30:", /empty clock field/);
});

Deno.test("parseDuration rejects spaces around or inside the clock form", () => {
  assertParseError(parseDuration, " 30", /missing time unit after "30"/);
  assertParseError(parseDuration, "30 ", /missing time unit after "30"/);
  assertParseError(parseDuration, " 1:30", /invalid clock field " 1"/);
  assertParseError(parseDuration, "1: 30", /invalid clock field " 30"/);
});

Deno.test("parseDuration rejects an empty string", () => {
  assertParseError(parseDuration, "", /^empty duration$/);
});

Deno.test("parseDuration rejects clock values too large for a millisecond number", () => {
  assertParseError(parseDuration, "9".repeat(30), /too large/);
});

// --- humantime form through parseDuration ---

Deno.test("parseDuration falls back to humantime for the examples of spec 7.2", () => {
  const examples: [string, number][] = [
    ["30s", 30 * S],
    ["1m30s", 90 * S],
    ["1min 30s", 90 * S],
    ["1.5m", 90 * S],
    ["2min 30s", 150 * S],
    ["2m30s", 150 * S],
    ["1h", H],
    ["60m", H],
    ["1 hour", H],
    ["2h5m10s", 7510 * S],
    ["2 hours 5 minutes 10 seconds", 7510 * S],
    ["15days 2min 2s", 1_296_122 * S],
  ];
  for (const [text, ms] of examples) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration reports humantime errors for text without a colon", () => {
  assertParseError(parseDuration, "5x", /unknown time unit "x"/);
  assertParseError(parseDuration, "-5s", /expected a number at position 0/);
});

// --- humantime form ---

Deno.test("parseHumantime accepts every spelling of each unit", () => {
  const spellings: [string[], number][] = [
    [["ns", "nsec", "nanos"], 1e-6],
    [["us", "µs", "usec"], 1e-3],
    [["ms", "msec", "millis"], 1],
    [["s", "sec", "secs", "second", "seconds"], S],
    [["m", "min", "mins", "minute", "minutes"], MIN],
    [["h", "hr", "hrs", "hour", "hours"], H],
    [["d", "day", "days"], DAY],
    [["w", "wk", "wks", "week", "weeks"], 7 * DAY],
    [["M", "month", "months"], 2_630_016 * S],
    [["y", "yr", "yrs", "year", "years"], 31_557_600 * S],
  ];
  for (const [units, ms] of spellings) {
    for (const unit of units) {
      assert.equal(parseHumantime(`1${unit}`), ms, `1${unit}`);
      assert.equal(parseHumantime(`3 ${unit}`), 3 * ms, `3 ${unit}`);
    }
  }
});

Deno.test("parseHumantime defines a month as 30.44 days and a year as 365.25 days", () => {
  assert.equal(parseHumantime("1M"), 30.44 * DAY);
  assert.equal(parseHumantime("1y"), 365.25 * DAY);
});

Deno.test("parseHumantime units are case-sensitive", () => {
  assert.equal(parseHumantime("1m"), MIN);
  assert.equal(parseHumantime("1M"), 2_630_016 * S);
  for (const text of ["1S", "1H", "1Hours", "1D", "1W", "1Y", "1MS", "1Min"]) {
    assertParseError(parseHumantime, text, /unknown time unit/);
  }
});

Deno.test("parseHumantime rejects unit spellings missing from the spec table", () => {
  for (const unit of ["sek", "msecs", "nano", "usecs", "weekss", "mo", "yrss", "μs"]) {
    assertParseError(parseHumantime, `1${unit}`, /unknown time unit/);
  }
});

Deno.test("parseHumantime accepts items with and without whitespace between them", () => {
  assert.equal(parseHumantime("2h30m"), 150 * MIN);
  assert.equal(parseHumantime("2h 30m"), 150 * MIN);
  assert.equal(parseHumantime("2 hours 30 minutes"), 150 * MIN);
  assert.equal(parseHumantime("2h\t 30 \n m"), 150 * MIN);
});

Deno.test("parseHumantime adds repeated items", () => {
  assert.equal(parseHumantime("1h 1h"), 2 * H);
  assert.equal(parseHumantime("1s1s1s"), 3 * S);
});

Deno.test("parseHumantime accepts decimal fractions", () => {
  assert.equal(parseHumantime("1.5h"), 90 * MIN);
  assert.equal(parseHumantime("0.25s"), 250);
  assert.equal(parseHumantime("1.5m"), 90 * S);
  assert.equal(parseHumantime("0.5ms"), 0.5);
  assert.equal(parseHumantime("1.5us"), 0.0015);
  assert.equal(parseHumantime("2.000ns"), 2e-6);
});

Deno.test("parseHumantime sums fractions exactly", () => {
  assert.equal(parseHumantime("0.1s 0.2s"), 300);
  assert.equal(parseHumantime("0.000000001s"), 1e-6);
});

Deno.test("parseHumantime accepts the single token 0 as zero", () => {
  assert.equal(parseHumantime("0"), 0);
  assert.equal(parseHumantime("0s"), 0);
  assert.equal(parseHumantime("0.0h"), 0);
});

Deno.test("parseHumantime rejects a bare number other than the single token 0", () => {
  assertParseError(parseHumantime, "30", /missing time unit after "30", for example "30s"/);
  assertParseError(parseHumantime, "00", /missing time unit after "00"/);
  assertParseError(parseHumantime, "1.5", /missing time unit after "1\.5"/);
  assertParseError(parseHumantime, "1h 30", /missing time unit after "30"/);
});

Deno.test("parseHumantime rejects the clock form", () => {
  assertParseError(parseHumantime, "1:30", /expected a time unit at position 1, found ":"/);
});

Deno.test("parseHumantime rejects empty and blank input", () => {
  assertParseError(parseHumantime, "", /^empty duration$/);
  assertParseError(parseHumantime, "   ", /^empty duration$/);
});

Deno.test("parseHumantime tolerates whitespace around the whole value", () => {
  assert.equal(parseHumantime(" 30s"), 30 * S);
  assert.equal(parseHumantime("30s "), 30 * S);
});

Deno.test("parseHumantime rejects signs", () => {
  assertParseError(parseHumantime, "-5s", /expected a number at position 0, found "-"/);
  assertParseError(parseHumantime, "+5s", /expected a number at position 0, found "\+"/);
  assertParseError(parseHumantime, "1h -5m", /expected a number at position 3, found "-"/);
});

Deno.test("parseHumantime rejects a decimal point without digits after it", () => {
  assertParseError(parseHumantime, "1.", /expected digits after the decimal point at position 2/);
  assertParseError(parseHumantime, "1.s", /expected digits after the decimal point at position 2/);
});

Deno.test("parseHumantime rejects a decimal point without digits before it", () => {
  assertParseError(parseHumantime, ".5s", /expected a number at position 0, found "\."/);
});

Deno.test("parseHumantime rejects an unknown unit and lists the supported ones", () => {
  assertParseError(
    parseHumantime,
    "5x",
    /^unknown time unit "x", supported units: ns, us, ms, s, m, h, d, w, M, y$/,
  );
});

Deno.test("parseHumantime rejects a fraction below 1 ns", () => {
  assertParseError(parseHumantime, "0.1ns", /fraction below 1 ns in "0\.1ns"/);
  assertParseError(parseHumantime, "1.5ns", /fraction below 1 ns/);
  assertParseError(parseHumantime, "0.0000000001s", /fraction below 1 ns/);
});

Deno.test("parseHumantime rejects underscores in numbers like HyperQueue's humantime", () => {
  assertParseError(parseHumantime, "1_000s", /"_" is only allowed in the clock form/);
  assertParseError(parseDuration, "1_000s", /"_" is only allowed in the clock form/);
});

Deno.test("parseHumantime rejects whitespace inside a number", () => {
  assertParseError(parseHumantime, "1 0s", /expected a time unit at position 2, found "0"/);
});

Deno.test("parseHumantime rejects stray characters after a unit", () => {
  assertParseError(parseHumantime, "5s!", /unexpected character "!" at position 2/);
  assertParseError(parseHumantime, "5s,3m", /unexpected character "," at position 2/);
});

Deno.test("parseHumantime rejects values too large for a millisecond number", () => {
  assertParseError(parseHumantime, "1000000y", /too large/);
  assertParseError(parseHumantime, `${"9".repeat(40)}ns`, /too large/);
});

// --- formatting ---

Deno.test("formatDuration renders the examples of spec 7.3", () => {
  assert.equal(formatDuration(8 * S), "8s");
  assert.equal(formatDuration(5 * MIN), "5m");
  assert.equal(formatDuration(90 * MIN), "1h 30m");
  assert.equal(formatDuration(47 * MIN + 58 * S), "47m 58s");
  assert.equal(formatDuration(DAY + 2 * H), "1day 2h");
  assert.equal(formatDuration(3 * DAY), "3days");
  assert.equal(formatDuration(1500), "1s 500ms");
});

Deno.test("formatDuration renders zero as 0s", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(-0), "0s");
});

Deno.test("formatDuration uses 30.44-day months and 365.25-day years", () => {
  assert.equal(formatDuration(30 * DAY), "30days");
  assert.equal(formatDuration(31 * DAY), "1month 13h 26m 24s");
  assert.equal(formatDuration(2_630_016 * S), "1month");
  assert.equal(formatDuration(2 * 2_630_016 * S), "2months");
  assert.equal(formatDuration(31_557_600 * S), "1year");
  assert.equal(formatDuration(2 * 31_557_600 * S + 2_630_016 * S + DAY), "2years 1month 1day");
});

Deno.test("formatDuration renders sub-millisecond components", () => {
  assert.equal(formatDuration(0.5), "500us");
  assert.equal(formatDuration(1e-6), "1ns");
  assert.equal(formatDuration(1.002003), "1ms 2us 3ns");
  assert.equal(formatDuration(S + 0.000001), "1s 1ns");
});

Deno.test("formatDuration rounds to whole nanoseconds", () => {
  assert.equal(formatDuration(1e-7), "0s");
  assert.equal(formatDuration(0.9999999), "1ms");
});

Deno.test("formatDuration keeps every component of a long duration", () => {
  const ms = 31_557_600 * S + 2_630_016 * S + 2 * DAY + 3 * H + 4 * MIN + 5 * S + 6;
  assert.equal(formatDuration(ms), "1year 1month 2days 3h 4m 5s 6ms");
});

Deno.test("formatDuration prefixes negative durations with a minus sign", () => {
  assert.equal(formatDuration(-1500), "-1s 500ms");
});

Deno.test("formatDuration rejects non-finite input", () => {
  assert.throws(() => formatDuration(NaN), RangeError);
  assert.throws(() => formatDuration(Infinity), RangeError);
});

Deno.test("formatDuration output parses back to the same duration", () => {
  for (const ms of [0, 1, 1500, 90 * MIN, 31 * DAY, 400 * DAY + 0.001001]) {
    assert.equal(parseHumantime(formatDuration(ms)), ms, formatDuration(ms));
  }
});
