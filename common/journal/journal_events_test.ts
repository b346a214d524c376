import assert from "node:assert/strict";
import { decodeMsgpack, encodeMsgpack } from "../msgpack.ts";
import { decodeJournalRecord, encodeJournalRecord, type JournalEvent } from "./journal_events.ts";

const TIME = Date.UTC(2026, 10, 26, 8, 0, 0, 123);

Deno.test("journal records round-trip, task starts and finishes in their compact form", () => {
  const events: JournalEvent[] = [
    { type: "task-started", jobId: 7, taskId: 70_000, instanceId: 2, workerIds: [3], variant: 0 },
    { type: "task-started", jobId: 7, taskId: 1, instanceId: 0, workerIds: [3, 4], variant: 0 },
    { type: "task-started", jobId: 7, taskId: 1, instanceId: 0, workerIds: [3], variant: 2 },
    { type: "task-finished", jobId: 7, taskId: 70_000 },
    { type: "task-failed", jobId: 7, taskId: 5, error: "exit 1" },
    { type: "job-completed", jobId: 7 },
    { type: "tasks-canceled", tasks: [[7, 1], [7, 2]] },
  ];
  for (const event of events) {
    const payload = encodeJournalRecord(TIME, event);
    assert.deepEqual(decodeJournalRecord(payload), { timeMs: TIME, event });
  }
  assert.ok(encodeJournalRecord(TIME, events[0]).length <= 20, "a start costs ~20 bytes");
  assert.ok(encodeJournalRecord(TIME, events[3]).length <= 18, "a finish ~17");
});

Deno.test("payloads that are not our records decode to null", () => {
  for (const value of [42, [TIME], [TIME, "x"], [TIME, 9, 1, 2], [TIME, 2, 1], ["t", {}]]) {
    assert.equal(decodeJournalRecord(encodeMsgpack(value)), null, JSON.stringify(value));
  }
  assert.equal(decodeJournalRecord(new Uint8Array([0xc1])), null);
});

Deno.test("compact records are plain msgpack arrays, whatever the size of their numbers", () => {
  for (const n of [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
    const event: JournalEvent = { type: "task-finished", jobId: n, taskId: n };
    const payload = encodeJournalRecord(TIME, event);
    assert.deepEqual(decodeMsgpack(payload), [TIME, 2, n, n], `${n}`);
    assert.deepEqual(decodeJournalRecord(payload), { timeMs: TIME, event });
  }
  const fractional = encodeJournalRecord(1.5, { type: "task-finished", jobId: 1, taskId: 2 });
  assert.equal(decodeJournalRecord(fractional)!.timeMs, 1.5);
});
