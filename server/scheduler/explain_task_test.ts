import assert from "node:assert/strict";
import type { ResourceDescriptorItem } from "../../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import { enabledVariantCount, isBlocking } from "../../common/task_explanation.ts";
import { type ExplainedVariant, type ExplainedWorker, explainTask } from "./explain_task.ts";

const NOW_MS = 1_000_000;

function worker(
  id: number,
  resources: ResourceDescriptorItem[],
  options: { endMs?: number | null; group?: string } = {},
): ExplainedWorker {
  return {
    id,
    configuration: {
      resources: { resources, coupling: { weights: [] } },
      group: options.group ?? "default",
    },
    endMs: options.endMs ?? null,
  };
}

const cpus = (count: number): ResourceDescriptorItem => ({
  name: "cpus",
  kind: "range",
  start: 0,
  end: count - 1,
});

function variant(
  resources: ResourceRequestEntry[],
  overrides: Partial<ExplainedVariant> = {},
): ExplainedVariant {
  return { resources, timeRequestMs: 0, nNodes: 0, ...overrides };
}

const request = (
  name: string,
  units: number,
  policy: ResourceRequestEntry["policy"] = "compact",
) => ({
  name,
  amount: policy === "all" ? 0 : units * 10_000,
  policy,
});

Deno.test("explainTask compares each requested amount with the worker's total, blocking where the total is smaller", () => {
  const explanation = explainTask({
    variants: [variant([request("cpus", 1), request("gpus", 2)])],
    workers: [
      worker(2, [cpus(4), { name: "gpus", kind: "list", values: ["0", "1"] }]),
      worker(1, [cpus(4), { name: "gpus", kind: "list", values: ["0"] }]),
    ],
    nowMs: NOW_MS,
  });
  assert.deepEqual(explanation, {
    nTaskDeps: 0,
    nWaitingDeps: 0,
    workers: [
      {
        workerId: 1,
        variants: [[
          { type: "resources", resource: "cpus", requestAmount: 10_000, workerAmount: 40_000 },
          { type: "resources", resource: "gpus", requestAmount: 20_000, workerAmount: 10_000 },
        ]],
      },
      {
        workerId: 2,
        variants: [[
          { type: "resources", resource: "cpus", requestAmount: 10_000, workerAmount: 40_000 },
          { type: "resources", resource: "gpus", requestAmount: 20_000, workerAmount: 20_000 },
        ]],
      },
    ],
  });
  assert.deepEqual(explanation.workers.map(enabledVariantCount), [0, 1]);
});

Deno.test("explainTask counts a missing resource as zero, a sum pool by its size and `all` as one unit", () => {
  const [explained] = explainTask({
    variants: [variant([
      request("fpga", 1),
      { name: "mem", amount: 1_500, policy: "compact" },
      request("gpus", 0, "all"),
    ])],
    workers: [worker(1, [cpus(1), { name: "gpus", kind: "range", start: 0, end: 0 }, {
      name: "mem",
      kind: "sum",
      size: 1_000,
    }])],
    nowMs: NOW_MS,
  }).workers;
  assert.deepEqual(explained.variants[0], [
    { type: "resources", resource: "fpga", requestAmount: 10_000, workerAmount: 0 },
    { type: "resources", resource: "mem", requestAmount: 1_500, workerAmount: 1_000 },
    { type: "resources", resource: "gpus", requestAmount: 10_000, workerAmount: 10_000 },
  ]);
  assert.deepEqual(explained.variants[0].map(isBlocking), [true, true, false]);
});

Deno.test("explainTask checks a time request first, against the remaining time of workers with a time limit only", () => {
  const explanation = explainTask({
    variants: [variant([request("cpus", 1)], { timeRequestMs: 60_000 })],
    workers: [
      worker(1, [cpus(1)], { endMs: NOW_MS + 30_000 }),
      worker(2, [cpus(1)], { endMs: NOW_MS + 90_000 }),
      worker(3, [cpus(1)]),
      worker(4, [cpus(1)], { endMs: NOW_MS - 5 }),
    ],
    nowMs: NOW_MS,
  });
  const times = explanation.workers.map((w) => w.variants[0][0]);
  assert.deepEqual(times, [
    { type: "time", minTimeMs: 60_000, remainingTimeMs: 30_000 },
    { type: "time", minTimeMs: 60_000, remainingTimeMs: 90_000 },
    { type: "time", minTimeMs: 60_000, remainingTimeMs: null },
    { type: "time", minTimeMs: 60_000, remainingTimeMs: 0 },
  ]);
  assert.deepEqual(explanation.workers.map(enabledVariantCount), [0, 1, 1, 0]);
  assert.equal(explanation.workers[0].variants[0].length, 2);
});

Deno.test("explainTask leaves out the time item when the task asks for no time", () => {
  const explanation = explainTask({
    variants: [variant([request("cpus", 1)])],
    workers: [worker(1, [cpus(1)], { endMs: NOW_MS + 1 })],
    nowMs: NOW_MS,
  });
  assert.deepEqual(explanation.workers[0].variants[0].map((item) => item.type), ["resources"]);
});

Deno.test("explainTask checks a multi-node variant by the size of the worker's group, not by resources", () => {
  const explanation = explainTask({
    variants: [variant([request("cpus", 1)], { nNodes: 2 })],
    workers: [
      worker(1, [cpus(1)], { group: "a" }),
      worker(2, [cpus(1)], { group: "b" }),
      worker(3, [cpus(1)], { group: "a" }),
    ],
    nowMs: NOW_MS,
  });
  assert.deepEqual(explanation.workers.map((w) => w.variants[0]), [
    [{ type: "worker-group", nNodes: 2, groupSize: 2 }],
    [{ type: "worker-group", nNodes: 2, groupSize: 1 }],
    [{ type: "worker-group", nNodes: 2, groupSize: 2 }],
  ]);
  assert.deepEqual(explanation.workers.map(enabledVariantCount), [1, 0, 1]);
});

Deno.test("explainTask explains every variant on every worker and passes dependency counts through", () => {
  const explanation = explainTask({
    variants: [variant([request("gpus", 1)]), variant([request("cpus", 8)])],
    workers: [worker(1, [cpus(4)]), worker(2, [cpus(8)])],
    nowMs: NOW_MS,
    nTaskDeps: 3,
    nWaitingDeps: 1,
  });
  assert.equal(explanation.nTaskDeps, 3);
  assert.equal(explanation.nWaitingDeps, 1);
  assert.deepEqual(explanation.workers.map((w) => w.variants.length), [2, 2]);
  assert.deepEqual(explanation.workers.map(enabledVariantCount), [0, 1]);
});

Deno.test("explainTask with no connected worker explains nothing", () => {
  assert.deepEqual(
    explainTask({ variants: [variant([request("cpus", 1)])], workers: [], nowMs: NOW_MS }),
    { nTaskDeps: 0, nWaitingDeps: 0, workers: [] },
  );
});
