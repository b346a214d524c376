import assert from "node:assert/strict";
import { describeError, formatErrorChain, HqError } from "./errors.ts";

Deno.test("formatErrorChain shows a cause once, and not when the message already says it", () => {
  const os = new Error("No such file or directory (os error 2)");
  assert.equal(
    formatErrorChain(new HqError(`Cannot read "x": ${describeError(os)}`, { cause: os })),
    `Cannot read "x": No such file or directory (os error 2)`,
  );
  assert.equal(
    formatErrorChain(new HqError("Invalid server directory", { cause: os })),
    "Invalid server directory\n\nCaused by:\n    No such file or directory (os error 2)",
  );
});
