import assert from "node:assert/strict";
import {
  parseOpenFileLimits,
  startingOpenFileLimits,
  TaskOpenFileLimit,
} from "./open_file_limit.ts";

const LIMITS = (soft: number | string, hard: number | string) =>
  `Limit                     Soft Limit           Hard Limit           Units     \n` +
  `Max cpu time              unlimited            unlimited            seconds   \n` +
  `Max open files            ${soft}                ${hard}                files     \n`;

Deno.test("the starting soft limit is the parent's when Deno raised this process's", () => {
  const files: Record<string, string> = {
    "/proc/self/limits": LIMITS(4096, 4096),
    "/proc/77/limits": LIMITS(1024, 4096),
    "/proc/78/limits": LIMITS(4096, 4096),
  };
  const read = (path: string) =>
    files[path] ?? (() => {
      throw new Deno.errors.NotFound(path);
    })();
  assert.deepEqual(startingOpenFileLimits(read, 77), {
    soft: 1024n,
    own: { soft: 4096n, hard: 4096n },
  });
  assert.equal(startingOpenFileLimits(read, 78), null); // Not raised: nothing to do.
  assert.equal(startingOpenFileLimits(read, 79), null); // Parent unreadable.
  assert.equal(startingOpenFileLimits(read, 1), null); // Parent gone (or init).
  assert.equal(parseOpenFileLimits(LIMITS("unlimited", "unlimited")), null);
});

Deno.test("spawns lower the worker's limit while in flight, or set the child after when short of descriptors", () => {
  const calls: Array<[number, bigint]> = [];
  const prlimit = (pid: number, limit: Uint8Array) => {
    calls.push([pid, new BigUint64Array(limit.buffer)[0]]);
    return 0;
  };
  let open = 100;
  const limit = new TaskOpenFileLimit(prlimit, 1024n, { soft: 4096n, hard: 4096n }, () => open);
  // Two overlapping spawns: one lowering, one raising back after both.
  assert.equal(limit.beforeSpawn(), true);
  assert.equal(limit.beforeSpawn(), true);
  limit.afterSpawn(true, 10);
  assert.deepEqual(calls, [[0, 1024n]]);
  limit.afterSpawn(true, 11);
  assert.deepEqual(calls, [[0, 1024n], [0, 4096n]]);
  // A worker holding nearly 1024 descriptors is not lowered: the child is set after its spawn.
  calls.length = 0;
  open = 1000;
  const busy = new TaskOpenFileLimit(prlimit, 1024n, { soft: 4096n, hard: 4096n }, () => open);
  assert.equal(busy.beforeSpawn(), false);
  busy.afterSpawn(false, 12);
  busy.afterSpawn(false, null); // A failed spawn: nothing to set.
  assert.deepEqual(calls, [[12, 1024n]]);
});
