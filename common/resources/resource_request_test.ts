import assert from "node:assert/strict";
import { HqError } from "../errors.ts";
import {
  assembleTaskRequest,
  DEFAULT_CPU_REQUEST,
  envNameOf,
  formatRequest,
  parseRequestText,
  parseResourceRequestArg,
  requestJson,
  ResourceRequestError,
} from "./resource_request.ts";
import type { ResourceRequestEntry } from "./resource_request.ts";

function assertRequestError(
  run: () => unknown,
  expected: { message?: string; report?: RegExp; input?: string; offset?: number },
) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ResourceRequestError, `expected a request error: ${error}`);
    assert.ok(error instanceof HqError);
    assert.ok(!error.message.includes("\n"), "the message is one line");
    if (expected.message !== undefined) assert.equal(error.message, expected.message);
    if (expected.report !== undefined) {
      assert.match(error.message, /^Invalid resource request ".*": /);
      assert.match(error.message, expected.report);
    }
    if (expected.input !== undefined) assert.equal(error.input, expected.input);
    if (expected.offset !== undefined) assert.equal(error.offset, expected.offset);
    return true;
  });
}

function assertTextError(text: string, expected: Parameters<typeof assertRequestError>[1]) {
  assertRequestError(() => parseRequestText(text), { input: text, ...expected });
}

// --- parseRequestText: grammar ---

Deno.test("parseRequestText reads a bare amount with the default compact policy", () => {
  assert.deepEqual(parseRequestText("8"), { amount: 80_000, policy: "compact" });
  assert.deepEqual(parseRequestText("1"), { amount: 10_000, policy: "compact" });
});

Deno.test("parseRequestText reads every policy", () => {
  assert.deepEqual(parseRequestText("2 compact"), { amount: 20_000, policy: "compact" });
  assert.deepEqual(parseRequestText("2 compact!"), { amount: 20_000, policy: "compact!" });
  assert.deepEqual(parseRequestText("2 tight"), { amount: 20_000, policy: "tight" });
  assert.deepEqual(parseRequestText("2 tight!"), { amount: 20_000, policy: "tight!" });
  assert.deepEqual(parseRequestText("2 scatter"), { amount: 20_000, policy: "scatter" });
});

Deno.test("parseRequestText reads all, which takes no amount", () => {
  assert.deepEqual(parseRequestText("all"), { amount: 0, policy: "all" });
  assert.deepEqual(parseRequestText("  all \t"), { amount: 0, policy: "all" });
});

Deno.test("parseRequestText needs no whitespace between amount and policy", () => {
  assert.deepEqual(parseRequestText("8compact!"), { amount: 80_000, policy: "compact!" });
  assert.deepEqual(parseRequestText("0.5scatter"), { amount: 5_000, policy: "scatter" });
  assert.deepEqual(parseRequestText("3tight"), { amount: 30_000, policy: "tight" });
});

Deno.test("parseRequestText tolerates surrounding and repeated whitespace", () => {
  assert.deepEqual(parseRequestText(" 8 "), { amount: 80_000, policy: "compact" });
  assert.deepEqual(parseRequestText("\t4   tight! \n"), { amount: 40_000, policy: "tight!" });
});

Deno.test("parseRequestText reads fractions up to four decimals", () => {
  assert.deepEqual(parseRequestText("0.5"), { amount: 5_000, policy: "compact" });
  assert.deepEqual(parseRequestText("1.25 tight"), { amount: 12_500, policy: "tight" });
  assert.deepEqual(parseRequestText("0.0001"), { amount: 1, policy: "compact" });
  assert.deepEqual(parseRequestText("2.1000"), { amount: 21_000, policy: "compact" });
});

Deno.test("parseRequestText accepts _ after the first digit of each DIGITS", () => {
  assert.deepEqual(parseRequestText("1_000"), { amount: 10_000_000, policy: "compact" });
  assert.deepEqual(parseRequestText("1__0_"), { amount: 100_000, policy: "compact" });
  assert.deepEqual(parseRequestText("1_000.5 scatter"), {
    amount: 10_005_000,
    policy: "scatter",
  });
  // `_` is not a digit: four digits plus separators stay within the precision.
  assert.deepEqual(parseRequestText("0.12_34"), { amount: 1_234, policy: "compact" });
});

// --- parseRequestText: errors ---

Deno.test("parseRequestText rejects a zero amount", () => {
  for (const text of ["0", "0 compact", "0.0000", "0_0", "0compact!"]) {
    assertTextError(text, { message: "Zero resources cannot be requested", offset: 0 });
  }
  assertTextError("  0 scatter ", { message: "Zero resources cannot be requested", offset: 2 });
});

Deno.test("parseRequestText rejects more than four decimals", () => {
  for (const text of ["0.00001", "1.12345 compact", "0.00000", "1.0_0_0_0_0"]) {
    assertTextError(text, { message: "Resource precision exceeded", offset: 0 });
  }
  assertTextError(" 2.000001 foo", { message: "Resource precision exceeded", offset: 1 });
});

Deno.test("parseRequestText reports a missing amount as expecting all", () => {
  assertTextError("", { report: /Unexpected end of input, expected all or an amount$/ });
  assertTextError("   ", { report: /Unexpected end of input, expected all/, offset: 3 });
  assertTextError("compact", {
    report: /Unexpected character 'c' at column 1, expected all or an amount$/,
    offset: 0,
  });
  assertTextError(".5", { report: /character '\.' at column 1, expected all/, offset: 0 });
  assertTextError("_1", { report: /character '_' at column 1, expected all/ });
  assertTextError("-1", { report: /character '-' at column 1, expected all/ });
  assertTextError("ALL", { report: /character 'A' at column 1, expected all/ });
});

Deno.test("parseRequestText reports a grammar error before a zero amount", () => {
  assertTextError("0 foo", { report: /character 'f' at column 3, expected a policy/ });
  assertTextError("0 compact x", { report: /character 'x' at column 11, expected end/ });
});

Deno.test("parseRequestText reports an unknown policy", () => {
  assertTextError("8 foo", {
    report:
      /Unexpected character 'f' at column 3, expected a policy \(compact, compact!, tight, tight!, scatter\) or end of input$/,
    offset: 2,
  });
  assertTextError("8 Compact", { report: /character 'C' at column 3, expected a policy/ });
  assertTextError("8 all", { report: /character 'a' at column 3, expected a policy/ });
  assertTextError("8!", { report: /character '!' at column 2, expected a policy/ });
});

Deno.test("parseRequestText reports text after the request", () => {
  assertTextError("all compact", {
    report: /Unexpected character 'c' at column 5, expected end of input$/,
    offset: 4,
  });
  assertTextError("all!", { report: /character '!' at column 4, expected end of input$/ });
  assertTextError("8 compact x", { report: /character 'x' at column 11, expected end of input/ });
  assertTextError("8 compact !", { report: /character '!' at column 11, expected end/ });
  assertTextError("8 compactx", { report: /character 'x' at column 10, expected end/ });
  assertTextError("2 tight!!", { report: /character '!' at column 9, expected end/ });
});

Deno.test("parseRequestText reports a dot without fraction digits", () => {
  assertTextError("1.", { report: /Unexpected end of input, expected a digit$/, offset: 2 });
  assertTextError("1. compact", { report: /character ' ' at column 3, expected a digit$/ });
  assertTextError("1._5", { report: /character '_' at column 3, expected a digit$/ });
});

Deno.test("parseRequestText reports an amount beyond u32 at its start", () => {
  assertTextError(" 4294967296", {
    report: /: Cannot parse as 4-byte unsigned integer$/,
    offset: 1,
  });
  assert.deepEqual(parseRequestText("4294967295"), {
    amount: 4_294_967_295 * 10_000,
    policy: "compact",
  });
});

Deno.test("a parser report names the input", () => {
  assertTextError("8 foo", {
    message:
      "Invalid resource request \"8 foo\": Unexpected character 'f' at column 3, expected a policy (compact, compact!, tight, tight!, scatter) or end of input",
  });
});

// --- parseResourceRequestArg ---

Deno.test("parseResourceRequestArg reads NAME=RQ", () => {
  assert.deepEqual(parseResourceRequestArg("gpus=2"), {
    name: "gpus",
    amount: 20_000,
    policy: "compact",
  });
  assert.deepEqual(parseResourceRequestArg("mem=1_000.5 scatter"), {
    name: "mem",
    amount: 10_005_000,
    policy: "scatter",
  });
  assert.deepEqual(parseResourceRequestArg("fpga1=all"), {
    name: "fpga1",
    amount: 0,
    policy: "all",
  });
  assert.deepEqual(parseResourceRequestArg("cpus=8compact!"), {
    name: "cpus",
    amount: 80_000,
    policy: "compact!",
  });
});

Deno.test("parseResourceRequestArg accepts names with / and digits, case-sensitive", () => {
  assert.deepEqual(parseResourceRequestArg("gpus/nvidia=1 tight!"), {
    name: "gpus/nvidia",
    amount: 10_000,
    policy: "tight!",
  });
  assert.equal(parseResourceRequestArg("GPUS=1").name, "GPUS");
  assert.equal(parseResourceRequestArg("a1/b2//=1").name, "a1/b2//");
});

Deno.test("parseResourceRequestArg tolerates whitespace around the name and =", () => {
  assert.deepEqual(parseResourceRequestArg(" gpus = 0.5 "), {
    name: "gpus",
    amount: 5_000,
    policy: "compact",
  });
});

Deno.test("parseResourceRequestArg stops the name at the first invalid char", () => {
  assertRequestError(() => parseResourceRequestArg("a_b=1"), {
    message: `Invalid resource request "a_b=1": Unexpected character '_' at column 2, expected '='`,
    input: "a_b=1",
    offset: 1,
  });
  assertRequestError(() => parseResourceRequestArg("gpus-nvidia=1"), {
    report: /character '-' at column 5, expected '='$/,
    offset: 4,
  });
});

Deno.test("parseResourceRequestArg reports a missing name", () => {
  assertRequestError(() => parseResourceRequestArg("1gpu=1"), {
    report: /Unexpected character '1' at column 1, expected a resource name$/,
    offset: 0,
  });
  assertRequestError(() => parseResourceRequestArg("=1"), {
    report: /character '=' at column 1, expected a resource name$/,
  });
  assertRequestError(() => parseResourceRequestArg(""), {
    report: /Unexpected end of input, expected a resource name$/,
  });
});

Deno.test("parseResourceRequestArg reports a missing = or request", () => {
  assertRequestError(() => parseResourceRequestArg("gpus"), {
    report: /Unexpected end of input, expected '='$/,
    offset: 4,
  });
  assertRequestError(() => parseResourceRequestArg("gpus="), {
    report: /Unexpected end of input, expected all or an amount$/,
    offset: 5,
  });
  assertRequestError(() => parseResourceRequestArg("gpus=x"), {
    report: /character 'x' at column 6, expected all/,
    offset: 5,
  });
});

Deno.test("parseResourceRequestArg reports request errors with offsets in the whole value", () => {
  assertRequestError(() => parseResourceRequestArg("gpus=2 foo"), {
    report: /^Invalid resource request "gpus=2 foo": .* column 8, expected a policy/,
    input: "gpus=2 foo",
    offset: 7,
  });
  assertRequestError(() => parseResourceRequestArg("gpus=all 1"), {
    report: /column 10, expected end of input$/,
  });
});

Deno.test("parseResourceRequestArg rejects zero and excess precision", () => {
  assertRequestError(() => parseResourceRequestArg("gpus= 0"), {
    message: "Zero resources cannot be requested",
    input: "gpus= 0",
    offset: 6,
  });
  assertRequestError(() => parseResourceRequestArg("mem=0.00001 scatter"), {
    message: "Resource precision exceeded",
    input: "mem=0.00001 scatter",
    offset: 4,
  });
});

// --- assembleTaskRequest ---

Deno.test("assembleTaskRequest defaults to cpus = 1 compact", () => {
  assert.deepEqual(assembleTaskRequest(undefined, []), [
    { name: "cpus", amount: 10_000, policy: "compact" },
  ]);
});

Deno.test("assembleTaskRequest returns a fresh default entry", () => {
  const [entry] = assembleTaskRequest(undefined, []);
  assert.notEqual(entry, DEFAULT_CPU_REQUEST);
  entry.amount = 5;
  assert.equal(DEFAULT_CPU_REQUEST.amount, 10_000);
});

Deno.test("assembleTaskRequest puts the default cpus first, then --resource in order", () => {
  assert.deepEqual(assembleTaskRequest(undefined, ["gpus=2", "mem=0.5 scatter"]), [
    { name: "cpus", amount: 10_000, policy: "compact" },
    { name: "gpus", amount: 20_000, policy: "compact" },
    { name: "mem", amount: 5_000, policy: "scatter" },
  ]);
});

Deno.test("assembleTaskRequest puts an explicit --cpus first", () => {
  assert.deepEqual(assembleTaskRequest("4 tight!", ["gpus/nvidia=1", "mem=all"]), [
    { name: "cpus", amount: 40_000, policy: "tight!" },
    { name: "gpus/nvidia", amount: 10_000, policy: "compact" },
    { name: "mem", amount: 0, policy: "all" },
  ]);
  assert.deepEqual(assembleTaskRequest("all", []), [{ name: "cpus", amount: 0, policy: "all" }]);
});

Deno.test("assembleTaskRequest keeps a --resource cpus entry in its place", () => {
  assert.deepEqual(assembleTaskRequest(undefined, ["gpus=1", "cpus=2 scatter"]), [
    { name: "gpus", amount: 10_000, policy: "compact" },
    { name: "cpus", amount: 20_000, policy: "scatter" },
  ]);
});

Deno.test("assembleTaskRequest rejects --cpus with --resource cpus", () => {
  assertRequestError(() => assembleTaskRequest("2", ["gpus=1", "cpus=2"]), {
    message: "--cpus and --resource cpus=... cannot be combined",
  });
  assertRequestError(() => assembleTaskRequest("all", ["cpus=all"]), {
    message: "--cpus and --resource cpus=... cannot be combined",
  });
  // The combination is reported before a duplicate cpus entry.
  assertRequestError(() => assembleTaskRequest("2", ["cpus=1", "cpus=2"]), {
    message: "--cpus and --resource cpus=... cannot be combined",
  });
});

Deno.test("assembleTaskRequest rejects a name given twice", () => {
  assertRequestError(() => assembleTaskRequest(undefined, ["gpus=1", "mem=2", "gpus=all"]), {
    message: "Resource 'gpus' defined more than once",
  });
  assertRequestError(() => assembleTaskRequest(undefined, ["cpus=1", "cpus=2"]), {
    message: "Resource 'cpus' defined more than once",
  });
  assertRequestError(() => assembleTaskRequest("1", ["gpus/amd=1", "gpus/amd=1"]), {
    message: "Resource 'gpus/amd' defined more than once",
  });
});

Deno.test("assembleTaskRequest treats names case-sensitively", () => {
  assert.deepEqual(assembleTaskRequest("1", ["gpus=1", "GPUS=1", "CPUS=1"]).map((e) => e.name), [
    "cpus",
    "gpus",
    "GPUS",
    "CPUS",
  ]);
});

Deno.test("assembleTaskRequest reports parse errors of --cpus and --resource", () => {
  assertRequestError(() => assembleTaskRequest("0", []), {
    message: "Zero resources cannot be requested",
  });
  assertRequestError(() => assembleTaskRequest("two", []), {
    report: /^Invalid resource request "two": .* expected all or an amount$/,
  });
  assertRequestError(() => assembleTaskRequest(undefined, ["gpus=1", "a_b=1"]), {
    report: /^Invalid resource request "a_b=1": .*'_' at column 2, expected '='$/,
  });
});

// --- formatRequest ---

Deno.test("formatRequest renders amount and policy", () => {
  assert.equal(formatRequest({ amount: 10_000, policy: "compact" }), "1 compact");
  assert.equal(formatRequest({ amount: 5_000, policy: "scatter" }), "0.5 scatter");
  assert.equal(formatRequest({ amount: 20_000, policy: "tight!" }), "2 tight!");
  assert.equal(formatRequest({ amount: 80_000, policy: "compact!" }), "8 compact!");
  assert.equal(formatRequest({ amount: 12_500, policy: "tight" }), "1.25 tight");
  assert.equal(formatRequest({ amount: 1, policy: "compact" }), "0.0001 compact");
  assert.equal(formatRequest({ amount: 10_005_000, policy: "compact" }), "1000.5 compact");
});

Deno.test("formatRequest renders all without an amount", () => {
  assert.equal(formatRequest({ amount: 0, policy: "all" }), "all");
  const entry: ResourceRequestEntry = { name: "mem", amount: 0, policy: "all" };
  assert.equal(formatRequest(entry), "all");
});

Deno.test("formatRequest round-trips through parseRequestText", () => {
  for (const text of ["1 compact", "0.5 scatter", "2 tight!", "all", "0.0001 compact!"]) {
    assert.equal(formatRequest(parseRequestText(text)), text);
  }
  assert.equal(formatRequest(parseRequestText("2.50")), "2.5 compact");
  assert.equal(formatRequest(parseResourceRequestArg("gpus=8compact!")), "8 compact!");
});

// --- requestJson ---

Deno.test("requestJson uses HyperQueue's policy keys and 1/10000 units", () => {
  assert.deepEqual(requestJson({ amount: 10_000, policy: "compact" }), { Compact: 10_000 });
  assert.deepEqual(requestJson({ amount: 20_000, policy: "compact!" }), { ForceCompact: 20_000 });
  assert.deepEqual(requestJson({ amount: 5_000, policy: "tight" }), { Tight: 5_000 });
  assert.deepEqual(requestJson({ amount: 1, policy: "tight!" }), { ForceTight: 1 });
  assert.deepEqual(requestJson({ amount: 30_000, policy: "scatter" }), { Scatter: 30_000 });
  assert.equal(requestJson({ amount: 0, policy: "all" }), "All");
});

Deno.test("requestJson serialises like HyperQueue", () => {
  assert.equal(JSON.stringify(requestJson(DEFAULT_CPU_REQUEST)), '{"Compact":10000}');
  assert.equal(JSON.stringify(requestJson(parseRequestText("all"))), '"All"');
});

// --- envNameOf ---

Deno.test("envNameOf replaces every char outside [A-Za-z0-9] with _", () => {
  assert.equal(envNameOf("cpus"), "cpus");
  assert.equal(envNameOf("gpus/nvidia"), "gpus_nvidia");
  assert.equal(envNameOf("gpus/amd"), "gpus_amd");
  assert.equal(envNameOf("Fpga1"), "Fpga1");
  assert.equal(envNameOf("a//b"), "a__b");
  // Job-file names are not checked, so any char can reach the env name.
  assert.equal(envNameOf("my-res.x y"), "my_res_x_y");
  assert.equal(envNameOf("é"), "_");
  assert.equal(envNameOf("a😀b"), "a_b");
  assert.equal(envNameOf(""), "");
});
