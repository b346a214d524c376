import assert from "node:assert/strict";
import { LongTimeout, MAX_TIMER_MS, timerPeriodMs } from "./long_timeout.ts";

Deno.test("LongTimeout does not fire early for a delay past the runtime's 2^31-1 ms", async () => {
  let fired = false;
  const timeout = new LongTimeout(() => fired = true, 30 * 24 * 3600 * 1000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  timeout.clear();
  assert.equal(fired, false);
});

Deno.test("LongTimeout fires after a short delay and not after clear()", async () => {
  let fired = 0;
  new LongTimeout(() => fired++, 10);
  new LongTimeout(() => fired += 100, 10).clear();
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(fired, 1);
});

Deno.test("timerPeriodMs keeps periods within what setInterval takes", () => {
  assert.equal(timerPeriodMs(30 * 24 * 3600 * 1000), MAX_TIMER_MS);
  assert.equal(timerPeriodMs(8_000), 8_000);
  assert.equal(timerPeriodMs(0), 1);
});
