import assert from "node:assert/strict";
import { AmountParseError, formatAmount, parseAmount, parseU32 } from "./amount.ts";

function assertAmountError(text: string, message: string | RegExp) {
  assert.throws(() => parseAmount(text), (error: unknown) => {
    assert.ok(error instanceof AmountParseError, `expected AmountParseError for "${text}"`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("parseAmount reads whole numbers as 10000 units each", () => {
  assert.equal(parseAmount("0"), 0);
  assert.equal(parseAmount("1"), 10_000);
  assert.equal(parseAmount("4096"), 40_960_000);
});

Deno.test("parseAmount reads up to four decimals", () => {
  assert.equal(parseAmount("1.25"), 12_500);
  assert.equal(parseAmount("0.5"), 5_000);
  assert.equal(parseAmount("0.0001"), 1);
  assert.equal(parseAmount("2.1000"), 21_000);
});

Deno.test("parseAmount accepts _ between digits of the integer part", () => {
  assert.equal(parseAmount("1_000"), 10_000_000);
  assert.equal(parseAmount("1_000.5"), 10_005_000);
});

Deno.test("parseAmount rejects a fifth decimal as precision exceeded", () => {
  assertAmountError("0.12345", "Resource precision exceeded");
  assertAmountError("1.00000", "Resource precision exceeded");
});

Deno.test("parseAmount rejects integer parts beyond u32", () => {
  assert.equal(parseAmount("4294967295.9999"), 42_949_672_959_999);
  assertAmountError("4294967296", "Cannot parse as 4-byte unsigned integer");
  assertAmountError("99999999999", "Cannot parse as 4-byte unsigned integer");
});

Deno.test("parseAmount rejects text that is not a decimal number", () => {
  for (const text of ["", "abc", "-1", "1.", ".5", "_1", "1_", "1__0", " 1", "1e3", "1.2.3"]) {
    assertAmountError(text, /^Invalid amount "/);
  }
});

Deno.test("parseU32 reads unsigned 32-bit integers with separators", () => {
  assert.equal(parseU32("0"), 0);
  assert.equal(parseU32("00"), 0);
  assert.equal(parseU32("4_294_967_295"), 4_294_967_295);
  assert.throws(() => parseU32("4294967296"), /Cannot parse as 4-byte unsigned integer/);
  assert.throws(() => parseU32("1.5"), AmountParseError);
});

Deno.test("formatAmount trims trailing zeros of the fraction", () => {
  assert.equal(formatAmount(0), "0");
  assert.equal(formatAmount(20_000), "2");
  assert.equal(formatAmount(5_000), "0.5");
  assert.equal(formatAmount(12_500), "1.25");
  assert.equal(formatAmount(1), "0.0001");
  assert.equal(formatAmount(320_000_000), "32000");
  assert.equal(formatAmount(42_949_672_959_999), "4294967295.9999");
});

Deno.test("formatAmount and parseAmount round-trip", () => {
  for (const units of [0, 1, 10, 999, 10_000, 12_345, 1_000_001]) {
    assert.equal(parseAmount(formatAmount(units)), units);
  }
});

Deno.test("formatAmount rejects values that are not unit counts", () => {
  assert.throws(() => formatAmount(-1), RangeError);
  assert.throws(() => formatAmount(0.5), RangeError);
});
