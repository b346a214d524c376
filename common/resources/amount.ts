// Resource amounts (resources spec §1.3): fixed point with 4 decimal places, held as an integer
// number of 1/10000 units so that sums of fractional requests never drift.

import { HqError } from "../errors.ts";

/** 1/10000 units in one whole unit. */
export const AMOUNT_FRACTIONS = 10_000;

const FRACTION_DIGITS = 4;
const MAX_U32 = 0xffff_ffff;

// `_` separates digits (`1_000`); it may neither start nor end the integer.
const U32_TEXT = /^[0-9]+(?:_[0-9]+)*$/;
const AMOUNT_TEXT = /^([0-9]+(?:_[0-9]+)*)(?:\.([0-9]+))?$/;

/** Text is not an amount or integer of the resource grammar; `message` is the spec's note. */
export class AmountParseError extends HqError {}

/** Parses a `u32` with optional `_` separators (`1_000`). */
export function parseU32(text: string): number {
  if (!U32_TEXT.test(text)) throw new AmountParseError(`Invalid unsigned integer "${text}"`);
  const value = Number(text.replaceAll("_", ""));
  if (value > MAX_U32) throw new AmountParseError("Cannot parse as 4-byte unsigned integer");
  return value;
}

/** Parses `2`, `0.5` or `1_000.25` into 1/10000 units: `parseAmount("1.25")` is `12500`. */
export function parseAmount(text: string): number {
  const match = AMOUNT_TEXT.exec(text);
  if (match === null) throw new AmountParseError(`Invalid amount "${text}"`);
  const whole = parseU32(match[1]);
  const fraction = match[2] ?? "";
  if (fraction.length > FRACTION_DIGITS) {
    throw new AmountParseError("Resource precision exceeded");
  }
  return whole * AMOUNT_FRACTIONS + Number(fraction.padEnd(FRACTION_DIGITS, "0"));
}

/** Renders 1/10000 units with trailing zeros trimmed: `12500` → `"1.25"`, `20000` → `"2"`. */
export function formatAmount(units: number): string {
  if (!Number.isSafeInteger(units) || units < 0) {
    throw new RangeError(`Amount must be a non-negative integer of 1/10000 units, got ${units}`);
  }
  const whole = Math.floor(units / AMOUNT_FRACTIONS);
  const fraction = units % AMOUNT_FRACTIONS;
  if (fraction === 0) return String(whole);
  const digits = String(fraction).padStart(FRACTION_DIGITS, "0").replace(/0+$/, "");
  return `${whole}.${digits}`;
}
