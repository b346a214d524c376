import assert from "node:assert/strict";
import type { TaskExplanation, WorkerExplanation } from "../task_explanation.ts";
import { explanationJson, explanationLines, explanationRows } from "./explanation_words.ts";

const TASK = { jobId: 3, taskId: 7 };

const fits = { type: "resources", resource: "cpus", requestAmount: 10_000, workerAmount: 20_000 };
const tooBig = { type: "resources", resource: "gpus", requestAmount: 15_000, workerAmount: 10_000 };

function explanation(
  workers: WorkerExplanation[],
  deps: { nTaskDeps: number; nWaitingDeps: number } = { nTaskDeps: 0, nWaitingDeps: 0 },
): TaskExplanation {
  return { ...deps, workers };
}

Deno.test("explanationLines words the dependency counts with HyperQueue's swapped meaning", () => {
  const first = (nTaskDeps: number, nWaitingDeps: number) =>
    explanationLines(TASK, explanation([], { nTaskDeps, nWaitingDeps }))[0];
  assert.equal(first(0, 0), "Task 3@7 is ready to run because it has no dependencies.");
  assert.equal(
    first(2, 2),
    "Task 3@7 is ready to run because its all 2 dependencies are finished.",
  );
  assert.equal(
    first(2, 0),
    "Task 3@7 is not ready to run, because 0/2 dependencies are not finished.",
  );
});

Deno.test("explanationLines lists the workers with an enabled variant as id ranges", () => {
  const worker = (workerId: number, ok: boolean): WorkerExplanation => ({
    workerId,
    variants: [[ok ? fits : tooBig] as WorkerExplanation["variants"][0]],
  });
  const second = (workers: WorkerExplanation[]) => explanationLines(TASK, explanation(workers))[1];
  assert.equal(second([]), "There is no worker where the task can run.");
  assert.equal(second([worker(1, false)]), "There is no worker where the task can run.");
  assert.equal(second([worker(1, false), worker(2, true)]), "The task can run on 1 worker: 2");
  assert.equal(
    second([worker(1, true), worker(2, true), worker(3, true), worker(4, false), worker(5, true)]),
    "The task can run on 4 workers: 1-3,5",
  );
  assert.equal(
    second([worker(1, true), worker(2, false), worker(3, true), worker(5, true)]),
    "The task can run on 3 workers: 1,3,5",
  );
});

Deno.test("explanationRows gives each variant a row and counts enabled variants when there are several", () => {
  const rows = explanationRows(explanation([{
    workerId: 4,
    variants: [
      [{ type: "time", minTimeMs: 90_000, remainingTimeMs: null }, fits, tooBig],
      [{ type: "worker-group", nNodes: 2, groupSize: 3 }],
    ] as WorkerExplanation["variants"],
  }]));
  assert.deepEqual(rows, [
    [
      "4",
      { text: "Yes (1/2)", color: "green" },
      "0",
      "time\ncpus\ngpus",
      "unknown\n2\n1",
      "1m 30s\n1\n1.5",
    ],
    ["", "", "1", "nodes", "group size 3", "2"],
  ]);
});

Deno.test("explanationJson writes durations as seconds and nanoseconds and amounts in 1/10000 units", () => {
  const json = explanationJson(
    TASK,
    explanation([{
      workerId: 1,
      variants: [[
        { type: "time", minTimeMs: 1_500.25, remainingTimeMs: 0 },
        tooBig,
        { type: "worker-group", nNodes: 2, groupSize: 1 },
      ]] as WorkerExplanation["variants"],
    }]),
  );
  assert.deepEqual(json, {
    task_id: { job_id: 3, job_task_id: 7 },
    explanation: {
      n_task_deps: 0,
      n_waiting_deps: 0,
      workers: [{
        worker_id: 1,
        variants: [[
          {
            Time: {
              min_time: { secs: 1, nanos: 500_250_000 },
              remaining_time: { secs: 0, nanos: 0 },
            },
          },
          { Resources: { resource: "gpus", request_amount: 15_000, worker_amount: 10_000 } },
          { WorkerGroup: { n_nodes: 2, group_size: 1 } },
        ]],
      }],
    },
  });
});
