/**
 * Gives memory back to the system after `job forget` dropped many tasks. V8 keeps the pages of a
 * grown heap after the objects in them die, so without a full collection a server that once held
 * 1,000,000 finished tasks stays ~100 MB above idle for good (measured: 161 MB vs 60 MB idle).
 * A full collection with the heap shrunk is what V8's own memory reducer would do if the process
 * looked idle to it; Deno does not expose `gc()` without a flag, so it is enabled at run time
 * (the flag only adds the function).
 */
import { fullCollection } from "../common/full_collection.ts";

/** Below this many forgotten tasks a collection is not worth its pause. */
const MIN_FORGOTTEN_TASKS = 50_000;
/** Collect once after a burst of forgets, not after each. */
const DELAY_MS = 500;

let pending = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/** Notes that `tasks` tasks were dropped; a full collection follows a burst of many. */
export function noteForgottenTasks(tasks: number): void {
  pending += tasks;
  if (pending < MIN_FORGOTTEN_TASKS || timer !== undefined) return;
  timer = setTimeout(() => {
    timer = undefined;
    pending = 0;
    void fullCollection();
  }, DELAY_MS);
  Deno.unrefTimer(timer);
}
