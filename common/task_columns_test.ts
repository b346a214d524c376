import assert from "node:assert/strict";
import { decodeMsgpack, encodeMsgpack } from "./msgpack.ts";
import type { TaskView } from "./job_types.ts";
import { expandTaskColumns, TaskColumnsBuilder } from "./task_columns.ts";

const TASKS: TaskView[] = [
  {
    id: 9,
    state: "failed",
    instanceId: 2,
    workerId: 3,
    nodeIds: null,
    startedMs: 1_700_000_000_123.5,
    finishedMs: 1_700_000_000_200,
    error: "exit 1",
  },
  {
    id: 1,
    state: "running",
    instanceId: 0,
    workerId: 4,
    nodeIds: [4, 5],
    startedMs: 1_700_000_000_000,
    finishedMs: null,
    error: null,
  },
  {
    id: 4_000_000_000,
    state: "waiting",
    instanceId: 0,
    workerId: null,
    nodeIds: null,
    startedMs: null,
    finishedMs: null,
    error: null,
  },
];

function columnsOf(tasks: TaskView[]) {
  const builder = new TaskColumnsBuilder(tasks.length + 2);
  for (const t of tasks) {
    builder.add(
      t.id,
      t.state,
      t.instanceId,
      t.workerId,
      t.nodeIds,
      t.startedMs,
      t.finishedMs,
      t.error,
    );
  }
  return builder.finish();
}

Deno.test("task columns survive msgpack and come back as the same tasks, sorted by id", () => {
  const wire = decodeMsgpack(encodeMsgpack(columnsOf(TASKS))) as ReturnType<typeof columnsOf>;
  assert.deepEqual(expandTaskColumns(wire), [...TASKS].sort((a, b) => a.id - b.id));
});

Deno.test("task columns cost a few bytes a task on the wire", () => {
  const tasks = Array.from({ length: 10_000 }, (_, id): TaskView => ({
    id,
    state: "finished",
    instanceId: 0,
    workerId: 1 + (id % 8),
    nodeIds: null,
    startedMs: 1_700_000_000_000 + id,
    finishedMs: 1_700_000_000_010 + id,
    error: null,
  }));
  const bytes = encodeMsgpack(columnsOf(tasks)).length;
  assert.ok(bytes < 26 * tasks.length, `${bytes} bytes`);
  assert.deepEqual(
    expandTaskColumns(decodeMsgpack(encodeMsgpack(columnsOf(tasks))) as never),
    tasks,
  );
});
