import assert from "node:assert/strict";
import type { ResourceDescriptorItem } from "../../common/resources/resource_descriptor.ts";
import { seededRandom } from "../../common/seeded_random.ts";
import {
  computeDemand,
  type DemandQueue,
  type QueueDemand,
  type WaitingNeed,
  type WaitingShape,
  waitingShapeLabel,
} from "./demand.ts";

const HOUR_MS = 3_600_000;

interface ShapeOptions {
  priority?: number;
  timeRequestMs?: number;
}

/** Needs from text: `cpus=1,gpus=2`, `cpus=all`. */
function needs(text: string): WaitingNeed[] {
  return text.split(",").map((entry) => {
    const [resource, amount] = entry.split("=");
    return amount === "all"
      ? { resource, amount: 0, all: true }
      : { resource, amount: Math.round(Number(amount) * 10_000), all: false };
  });
}

/** `count` single-node tasks; variants separated by ` or `, e.g. `gpus=1 or cpus=4`. */
function tasks(request: string, count: number, options: ShapeOptions = {}): WaitingShape {
  const variants = request.split(" or ").map((text) => ({
    needs: needs(text),
    timeRequestMs: options.timeRequestMs ?? 0,
  }));
  return {
    priority: options.priority ?? 0,
    nodes: 0,
    count,
    variants,
    label: waitingShapeLabel(0, variants),
  };
}

function multiNodeTasks(nodes: number, count: number, options: ShapeOptions = {}): WaitingShape {
  const variants = [{ needs: [], timeRequestMs: options.timeRequestMs ?? 0 }];
  return {
    priority: options.priority ?? 0,
    nodes,
    count,
    variants,
    label: waitingShapeLabel(nodes, variants),
  };
}

/** Items of a worker: `cpus` a range, `mem` a sum (in whole units), anything else a list. */
function items(resources: Record<string, number>): ResourceDescriptorItem[] {
  return Object.entries(resources).map(([name, size]): ResourceDescriptorItem => {
    if (name === "cpus") return { name, kind: "range", start: 0, end: size - 1 };
    if (name === "mem") return { name, kind: "sum", size: size * 10_000 };
    return { name, kind: "list", values: Array.from({ length: size }, (_, i) => String(i)) };
  });
}

type Shape = DemandQueue["workerShape"];
const exact = (resources: Record<string, number>): Shape => ({
  kind: "exact",
  resources: items(resources),
});
const partial = (resources: Record<string, number>): Shape => ({
  kind: "partial",
  resources: items(resources),
});
const probing: Shape = { kind: "probing", resources: [] };

function queue(
  queueId: number,
  workerShape: Shape,
  options: Partial<Omit<DemandQueue, "queueId" | "workerShape">> = {},
): DemandQueue {
  return {
    queueId,
    workerShape,
    imaginaryWorkers: 4,
    timeLimitMs: HOUR_MS,
    minUtilization: 0,
    maxWorkersPerAlloc: 1,
    ...options,
  };
}

const KNOWN = ["cpus", "gpus", "mem"];

function demand(shapes: WaitingShape[], queues: DemandQueue[], known = KNOWN): QueueDemand[] {
  return computeDemand(shapes, queues, known);
}

/** Single-node demand per queue, in the order given. */
function singleNode(shapes: WaitingShape[], queues: DemandQueue[], known = KNOWN): number[] {
  return demand(shapes, queues, known).map((result) => result.singleNode);
}

// -------------------------------------------------------------------------------------------------
// Labels

Deno.test("waitingShapeLabel writes names and amounts, variants and node counts", () => {
  assert.equal(waitingShapeLabel(0, [{ needs: needs("cpus=16") }]), "cpus=16");
  assert.equal(
    waitingShapeLabel(0, [{ needs: needs("cpus=1,gpus/nvidia=2") }]),
    "cpus=1,gpus/nvidia=2",
  );
  assert.equal(waitingShapeLabel(0, [{ needs: needs("cpus=0.25,mem=all") }]), "cpus=0.25,mem=all");
  assert.equal(
    waitingShapeLabel(0, [{ needs: needs("gpus=1") }, { needs: needs("cpus=4") }]),
    "gpus=1 or cpus=4",
  );
  assert.equal(waitingShapeLabel(2, [{ needs: [] }]), "nodes=2");
});

// -------------------------------------------------------------------------------------------------
// Worker shapes

Deno.test("computeDemand: an exact queue asks for as many workers as the tasks fill", () => {
  assert.deepEqual(singleNode([tasks("cpus=1", 10)], [queue(1, exact({ cpus: 8 }))]), [2]);
  assert.deepEqual(singleNode([tasks("cpus=1", 16)], [queue(1, exact({ cpus: 8 }))]), [2]);
  assert.deepEqual(singleNode([tasks("cpus=1", 17)], [queue(1, exact({ cpus: 8 }))]), [3]);
  assert.deepEqual(singleNode([tasks("cpus=3", 5)], [queue(1, exact({ cpus: 8 }))]), [3]);
});

Deno.test("computeDemand: a queue asks for no more than its imaginary workers", () => {
  const [result] = demand([tasks("cpus=1", 1_000)], [queue(1, exact({ cpus: 8 }))]);
  assert.deepEqual(result, { queueId: 1, singleNode: 4, multiNode: null, unfit: null });
  assert.deepEqual(
    singleNode([tasks("cpus=1", 1_000)], [queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 30 })]),
    [30],
  );
});

Deno.test("computeDemand: a probing queue asks for one worker, however many tasks wait", () => {
  assert.deepEqual(singleNode([tasks("cpus=16", 1_000_000)], [queue(1, probing)]), [1]);
  assert.deepEqual(
    singleNode([tasks("cpus=1", 5), tasks("cpus=2,gpus=4", 7), tasks("cpus=all", 3)], [
      queue(1, probing),
    ]),
    [1],
  );
});

Deno.test("computeDemand: a probing queue takes every task, so later queues get none", () => {
  const results = demand([tasks("cpus=1", 100)], [
    queue(1, probing),
    queue(2, exact({ cpus: 8 })),
  ]);
  assert.deepEqual(results.map((result) => result.singleNode), [1, 0]);
  assert.equal(results[1].unfit, null, "nothing waits for queue 2: no reason to give");
});

Deno.test("computeDemand: a partial queue counts its given resources and assumes other known ones unlimited", () => {
  const shapes = [tasks("cpus=1,gpus=1", 10)];
  // gpus is known to the server: unlimited on the queue's workers, so the 8 CPUs limit.
  assert.deepEqual(singleNode(shapes, [queue(1, partial({ cpus: 8 }))]), [2]);
  // --resource gpus=2 given: two per worker.
  assert.deepEqual(singleNode(shapes, [queue(1, partial({ cpus: 8, gpus: 2 }))]), [4]);
  // No --cpus given: CPUs are unlimited too, only the GPUs limit.
  assert.deepEqual(singleNode(shapes, [queue(1, partial({ gpus: 5 }))]), [2]);
});

Deno.test("computeDemand: a partial queue's workers lack a resource the server does not know", () => {
  const [result] = demand([tasks("cpus=1,fpga=1", 3)], [queue(1, partial({ cpus: 8 }))]);
  assert.equal(result.singleNode, 0);
  assert.deepEqual(result.unfit, {
    label: "cpus=1,fpga=1",
    why: "needs fpga=1, the queue's workers have no fpga",
  });
});

Deno.test("computeDemand: an exact queue's workers have only what the real worker had", () => {
  const [result] = demand([tasks("cpus=1,gpus/nvidia=1", 3)], [queue(1, exact({ cpus: 8 }))], [
    "cpus",
    "gpus/nvidia",
  ]);
  assert.deepEqual(result, {
    queueId: 1,
    singleNode: 0,
    multiNode: null,
    unfit: {
      label: "cpus=1,gpus/nvidia=1",
      why: "needs gpus/nvidia=1, the queue's workers have no gpus/nvidia",
    },
  });
});

Deno.test("computeDemand: a task larger than the queue's workers does not fit them", () => {
  const [result] = demand([tasks("cpus=16", 3)], [queue(1, exact({ cpus: 8 }))]);
  assert.equal(result.singleNode, 0);
  assert.deepEqual(result.unfit, {
    label: "cpus=16",
    why: "needs cpus=16, the queue's workers have 8",
  });
});

Deno.test("computeDemand: a sum pool (mem) limits by amount", () => {
  const shapes = [tasks("cpus=1,mem=1.5", 10)];
  // 4 units of mem: two tasks of 1.5 per worker.
  assert.deepEqual(singleNode(shapes, [queue(1, exact({ cpus: 8, mem: 4 }))]), [4]);
  assert.deepEqual(
    singleNode(shapes, [queue(1, exact({ cpus: 8, mem: 4 }), { imaginaryWorkers: 10 })]),
    [5],
  );
});

Deno.test("computeDemand: fractional CPU requests pack by amount", () => {
  assert.deepEqual(singleNode([tasks("cpus=0.5", 33)], [queue(1, exact({ cpus: 8 }))]), [3]);
});

Deno.test("computeDemand: `all` takes a whole worker, or nothing of an unlimited pool", () => {
  assert.deepEqual(
    singleNode([tasks("cpus=all", 5)], [queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 10 })]),
    [5],
  );
  // After a 1-CPU task the pool is no longer whole: the `all` task needs a worker of its own.
  assert.deepEqual(
    singleNode([tasks("cpus=1", 1), tasks("cpus=all", 1)], [queue(1, exact({ cpus: 8 }))]),
    [2],
  );
  assert.deepEqual(singleNode([tasks("cpus=all", 5)], [queue(1, probing)]), [1]);
  assert.deepEqual(
    singleNode([tasks("cpus=1,gpus=all", 5)], [queue(1, partial({ cpus: 8 }))]),
    [1],
  );
  const [result] = demand([tasks("cpus=1,gpus=all", 5)], [queue(1, exact({ cpus: 8 }))]);
  assert.deepEqual(result.unfit, {
    label: "cpus=1,gpus=all",
    why: "needs gpus=all, the queue's workers have no gpus",
  });
});

// -------------------------------------------------------------------------------------------------
// Variants

Deno.test("computeDemand: a task takes the first variant that fits each worker", () => {
  const shapes = [tasks("gpus=1 or cpus=4", 5)];
  // No GPUs: the second variant, two per worker.
  assert.deepEqual(singleNode(shapes, [queue(1, exact({ cpus: 8 }))]), [3]);
  // Two GPUs: two of the first variant, then two of the second, per worker.
  assert.deepEqual(singleNode(shapes, [queue(1, exact({ cpus: 8, gpus: 2 }))]), [2]);
  assert.deepEqual(
    singleNode([tasks("gpus=1 or cpus=4", 8)], [queue(1, exact({ cpus: 8, gpus: 2 }))]),
    [2],
  );
  assert.deepEqual(
    singleNode([tasks("gpus=1 or cpus=4", 9)], [queue(1, exact({ cpus: 8, gpus: 2 }))]),
    [3],
  );
});

Deno.test("computeDemand: a variant whose time request is too long is not taken", () => {
  const shape = tasks("cpus=1", 4);
  shape.variants = [
    { needs: needs("cpus=1"), timeRequestMs: 2 * HOUR_MS },
    { needs: needs("cpus=4"), timeRequestMs: 0 },
  ];
  assert.deepEqual(singleNode([shape], [queue(1, exact({ cpus: 8 }))]), [2]);
});

Deno.test("computeDemand: with no variant fitting, the reason is the first variant's", () => {
  const [result] = demand([tasks("gpus=1 or cpus=16", 2)], [queue(1, exact({ cpus: 8 }))]);
  assert.deepEqual(result.unfit, {
    label: "gpus=1 or cpus=16",
    why: "needs gpus=1, the queue's workers have no gpus",
  });
});

// -------------------------------------------------------------------------------------------------
// Time requests

Deno.test("computeDemand: a task's time request must not exceed the queue's time limit", () => {
  const equal = demand([tasks("cpus=1", 3, { timeRequestMs: HOUR_MS })], [queue(1, probing)]);
  assert.equal(equal[0].singleNode, 1);
  const [longer] = demand(
    [tasks("cpus=1", 3, { timeRequestMs: 2 * HOUR_MS })],
    [queue(1, probing, { timeLimitMs: HOUR_MS })],
  );
  assert.deepEqual(longer, {
    queueId: 1,
    singleNode: 0,
    multiNode: null,
    unfit: { label: "cpus=1", why: "time request 2h exceeds the queue's time limit 1h" },
  });
});

Deno.test("computeDemand: tasks too long for one queue go to a later one with a longer limit", () => {
  const results = demand([tasks("cpus=1", 3, { timeRequestMs: 2 * HOUR_MS })], [
    queue(1, probing),
    queue(2, exact({ cpus: 2 }), { timeLimitMs: 3 * HOUR_MS }),
  ]);
  assert.deepEqual(results.map((result) => result.singleNode), [0, 2]);
  assert.equal(results[0].unfit?.why, "time request 2h exceeds the queue's time limit 1h");
  assert.equal(results[1].unfit, null);
});

// -------------------------------------------------------------------------------------------------
// Priorities and several queues

Deno.test("computeDemand: queues are served in ascending id order; results keep the given order", () => {
  const results = demand([tasks("cpus=1", 20)], [
    queue(7, exact({ cpus: 8 }), { imaginaryWorkers: 10 }),
    queue(3, exact({ cpus: 4 }), { imaginaryWorkers: 2 }),
  ]);
  // Queue 3 first: 2 workers × 4 CPUs take 8 tasks; queue 7 takes the other 12 on 2 workers.
  assert.deepEqual(results.map(({ queueId, singleNode }) => ({ queueId, singleNode })), [
    { queueId: 7, singleNode: 2 },
    { queueId: 3, singleNode: 2 },
  ]);
});

Deno.test("computeDemand: what one queue cannot place is offered to the next", () => {
  const results = demand([tasks("cpus=1", 100)], [
    queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 2 }),
    queue(2, exact({ cpus: 16 }), { imaginaryWorkers: 3 }),
    queue(3, exact({ cpus: 32 }), { imaginaryWorkers: 10 }),
  ]);
  // 16 on queue 1, 48 on queue 2, 36 on queue 3 (2 workers).
  assert.deepEqual(results.map((result) => result.singleNode), [2, 3, 2]);
});

Deno.test("computeDemand: tasks a queue cannot run pass to the queues that can", () => {
  const results = demand([tasks("cpus=1,gpus=1", 6), tasks("cpus=1", 6)], [
    queue(1, exact({ cpus: 4 })),
    queue(2, exact({ cpus: 4, gpus: 2 })),
  ]);
  // Queue 1 takes the CPU-only tasks (2 workers); queue 2 the GPU ones, 2 per worker.
  assert.deepEqual(results.map((result) => result.singleNode), [2, 3]);
  assert.equal(results[0].unfit, null, "queue 1 placed tasks");
});

Deno.test("computeDemand: higher priority is placed first", () => {
  const results = demand(
    [tasks("cpus=2", 4, { priority: 0 }), tasks("cpus=1", 8, { priority: 10 })],
    [queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 1 }), queue(2, exact({ cpus: 8 }))],
  );
  // The priority-10 tasks fill queue 1's only worker; the others go to queue 2 (one worker).
  assert.deepEqual(results.map((result) => result.singleNode), [1, 1]);
});

Deno.test("computeDemand: lower priorities get no room on a queue where higher ones still wait", () => {
  // Two workers of 8 CPUs: two of the three 5-CPU tasks fit, 3 CPUs stay free on each, but a
  // real worker would keep them for the waiting 5-CPU task, not give them to priority 0.
  const results = demand(
    [tasks("cpus=5", 3, { priority: 1 }), tasks("cpus=1", 10, { priority: 0 })],
    [queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 2 }), queue(2, exact({ cpus: 4 }))],
  );
  // Queue 2 (4 CPUs) cannot run the 5-CPU task; it takes the ten 1-CPU tasks on 3 workers.
  assert.deepEqual(results.map((result) => result.singleNode), [2, 3]);
});

Deno.test("computeDemand: a higher priority the queue cannot run does not hold lower ones back", () => {
  const results = demand(
    [tasks("cpus=1,gpus=1", 3, { priority: 1 }), tasks("cpus=1", 10, { priority: 0 })],
    [queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 2 })],
  );
  assert.deepEqual(results.map((result) => result.singleNode), [2]);
});

Deno.test("computeDemand: tasks of one priority fill the gaps others left, first fit in worker order", () => {
  // Worker 1 gets the 6-CPU task and keeps 2 CPUs: one 2-CPU task joins it, the next go to
  // worker 2 (4 of them), and the last 2 pass to queue 2.
  const results = demand([tasks("cpus=6", 1), tasks("cpus=2", 7)], [
    queue(1, exact({ cpus: 8 }), { imaginaryWorkers: 2 }),
    queue(2, exact({ cpus: 2 })),
  ]);
  assert.deepEqual(results.map((result) => result.singleNode), [2, 2]);
});

Deno.test("computeDemand: gives nothing and no reason when the tasks are taken by earlier queues", () => {
  const results = demand([tasks("cpus=1", 4)], [
    queue(1, exact({ cpus: 8 })),
    queue(2, exact({ cpus: 8 })),
  ]);
  assert.deepEqual(results[1], { queueId: 2, singleNode: 0, multiNode: null, unfit: null });
});

Deno.test("computeDemand: gives nothing and no reason when nothing waits", () => {
  assert.deepEqual(demand([], [queue(1, probing)]), [
    { queueId: 1, singleNode: 0, multiNode: null, unfit: null },
  ]);
  assert.deepEqual(demand([tasks("cpus=1", 0)], [queue(1, probing)])[0].unfit, null);
});

Deno.test("computeDemand: a queue without imaginary workers asks for none", () => {
  assert.deepEqual(singleNode([tasks("cpus=1", 4)], [queue(1, probing, { imaginaryWorkers: 0 })]), [
    0,
  ]);
});

Deno.test("computeDemand: names the first waiting request that does not fit, in priority order", () => {
  const [result] = demand(
    [tasks("cpus=32", 1, { priority: 0 }), tasks("cpus=1,gpus=1", 1, { priority: 3 })],
    [queue(1, exact({ cpus: 8 }))],
  );
  assert.deepEqual(result.unfit, {
    label: "cpus=1,gpus=1",
    why: "needs gpus=1, the queue's workers have no gpus",
  });
});

// -------------------------------------------------------------------------------------------------
// Min utilization

Deno.test("computeDemand: a worker below min utilization is not counted", () => {
  const shapes = [tasks("cpus=1", 3)];
  const [result] = demand(shapes, [queue(1, exact({ cpus: 8 }), { minUtilization: 0.5 })]);
  assert.deepEqual(result, {
    queueId: 1,
    singleNode: 0,
    multiNode: null,
    unfit: {
      label: "cpus=1",
      why: "min utilization 0.5 not reached: the waiting tasks would use 3 of a worker's 8 cpus",
    },
  });
  // Exactly at the threshold is enough.
  assert.deepEqual(
    singleNode([tasks("cpus=1", 4)], [queue(1, exact({ cpus: 8 }), { minUtilization: 0.5 })]),
    [1],
  );
});

Deno.test("computeDemand: only the under-used last worker is dropped; its tasks pass to later queues", () => {
  const options = { minUtilization: 0.5 };
  assert.deepEqual(
    singleNode([tasks("cpus=1", 20)], [queue(1, exact({ cpus: 8 }), options)]),
    [3],
  );
  const results = demand([tasks("cpus=1", 19)], [
    queue(1, exact({ cpus: 8 }), options),
    queue(2, exact({ cpus: 2 })),
  ]);
  // 8 + 8 + 3: the third worker would use 3 of 8; its 3 tasks go to queue 2 (2 workers).
  assert.deepEqual(results.map((result) => result.singleNode), [2, 2]);
});

Deno.test("computeDemand: every under-used worker of a kind returns its tasks", () => {
  // One GPU per worker: each of the 3 tasks gets a worker of its own, each using 1 of 8 CPUs.
  const results = demand([tasks("cpus=1,gpus=1", 3)], [
    queue(1, exact({ cpus: 8, gpus: 1 }), { minUtilization: 0.5 }),
    queue(2, exact({ cpus: 1, gpus: 1 }), { imaginaryWorkers: 5 }),
  ]);
  assert.deepEqual(results.map((result) => result.singleNode), [0, 3]);
});

Deno.test("computeDemand: min utilization is judged on CPUs only", () => {
  // GPU-only tasks use no CPU: a worker with min utilization never gets them.
  const [result] = demand([tasks("gpus=1", 4)], [
    queue(1, exact({ cpus: 8, gpus: 4 }), { minUtilization: 0.1 }),
  ]);
  assert.equal(result.singleNode, 0);
  assert.equal(result.unfit?.why.startsWith("min utilization 0.1 not reached"), true);
});

Deno.test("computeDemand: min utilization cannot be judged without a CPU count", () => {
  assert.deepEqual(
    singleNode([tasks("cpus=1", 1)], [queue(1, probing, { minUtilization: 0.9 })]),
    [1],
  );
  assert.deepEqual(
    singleNode([tasks("cpus=1", 1)], [queue(1, partial({ gpus: 1 }), { minUtilization: 0.9 })]),
    [1],
  );
});

// -------------------------------------------------------------------------------------------------
// Multi-node tasks

Deno.test("computeDemand: multi-node tasks go to the first queue with allocations big enough", () => {
  const results = demand([multiNodeTasks(2, 5)], [
    queue(1, probing, { maxWorkersPerAlloc: 1 }),
    queue(2, probing, { maxWorkersPerAlloc: 4 }),
    queue(3, probing, { maxWorkersPerAlloc: 8 }),
  ]);
  assert.deepEqual(results, [
    {
      queueId: 1,
      singleNode: 0,
      multiNode: null,
      unfit: {
        label: "nodes=2",
        why: "needs nodes=2, the queue's allocations have at most 1 worker(s)",
      },
    },
    { queueId: 2, singleNode: 0, multiNode: { count: 5, perAlloc: 2 }, unfit: null },
    { queueId: 3, singleNode: 0, multiNode: null, unfit: null },
  ]);
});

Deno.test("computeDemand: multi-node tasks need a queue whose time limit covers their time request", () => {
  const results = demand([multiNodeTasks(2, 1, { timeRequestMs: 2 * HOUR_MS })], [
    queue(1, probing, { maxWorkersPerAlloc: 4 }),
    queue(2, probing, { maxWorkersPerAlloc: 4, timeLimitMs: 2 * HOUR_MS }),
  ]);
  assert.deepEqual(results.map((result) => result.multiNode), [null, { count: 1, perAlloc: 2 }]);
  assert.equal(results[0].unfit?.why, "time request 2h exceeds the queue's time limit 1h");
});

Deno.test("computeDemand: a queue asks for one multi-node size per pass, the largest", () => {
  const results = demand(
    [
      multiNodeTasks(2, 5),
      multiNodeTasks(3, 1, { priority: -1 }),
      multiNodeTasks(2, 2, {
        priority: 4,
      }),
    ],
    [queue(1, probing, { maxWorkersPerAlloc: 4 })],
  );
  assert.deepEqual(results[0].multiNode, { count: 1, perAlloc: 3 });
  const same = demand(
    [multiNodeTasks(2, 5), multiNodeTasks(2, 2, { priority: 4 })],
    [queue(1, probing, { maxWorkersPerAlloc: 4 })],
  );
  assert.deepEqual(same[0].multiNode, { count: 7, perAlloc: 2 });
});

Deno.test("computeDemand: multi-node and single-node demand are counted side by side", () => {
  const [result] = demand([multiNodeTasks(2, 3), tasks("cpus=1", 9)], [
    queue(1, exact({ cpus: 8 }), { maxWorkersPerAlloc: 2 }),
  ]);
  assert.deepEqual(result, {
    queueId: 1,
    singleNode: 2,
    multiNode: { count: 3, perAlloc: 2 },
    unfit: null,
  });
});

Deno.test("computeDemand: a queue that gets multi-node tasks gives no reason for unfit single-node ones", () => {
  const [result] = demand([multiNodeTasks(2, 1), tasks("cpus=64", 1)], [
    queue(1, exact({ cpus: 8 }), { maxWorkersPerAlloc: 2 }),
  ]);
  assert.equal(result.singleNode, 0);
  assert.deepEqual(result.multiNode, { count: 1, perAlloc: 2 });
  assert.equal(result.unfit, null);
});

// -------------------------------------------------------------------------------------------------
// Cost

Deno.test("computeDemand: costs the same for a billion tasks and a million imaginary workers", () => {
  const shapes = [
    tasks("cpus=1", 400_000_000, { priority: 1 }),
    tasks("cpus=4,mem=2", 300_000_000),
    tasks("cpus=2,gpus=1", 300_000_000, { priority: -1 }),
    multiNodeTasks(4, 1_000),
  ];
  const queues = Array.from(
    { length: 10 },
    (_, i) =>
      queue(i + 1, exact({ cpus: 16 + i, gpus: i % 3, mem: 64 }), {
        imaginaryWorkers: 1_000_000,
        maxWorkersPerAlloc: 8,
      }),
  );
  const start = performance.now();
  const results = demand(shapes, queues);
  const elapsedMs = performance.now() - start;
  assert.deepEqual(results.map((result) => result.singleNode), Array(10).fill(1_000_000));
  assert.deepEqual(results[0].multiNode, { count: 1_000, perAlloc: 4 });
  assert.ok(elapsedMs < 50, `${elapsedMs} ms`);
});

// -------------------------------------------------------------------------------------------------
// Against a task-by-task reference

/**
 * The same rules, one task at a time on explicit workers: what the count arithmetic must agree
 * with on small random inputs.
 */
function referenceSingleNode(
  shapes: WaitingShape[],
  queues: DemandQueue[],
  known: string[],
): number[] {
  const single = shapes.filter((shape) => shape.nodes === 0)
    .map((shape, order) => ({ shape, order, left: shape.count }))
    .sort((a, b) => b.shape.priority - a.shape.priority || a.order - b.order);
  const byId = new Map<number, number>();
  for (const queue of [...queues].sort((a, b) => a.queueId - b.queueId)) {
    const total = (name: string): number => {
      const { kind, resources } = queue.workerShape;
      if (kind === "probing") return Infinity;
      const item = resources.find((item) => item.name === name);
      if (item) return item.kind === "sum" ? item.size : resourceCount(item) * 10_000;
      return kind === "partial" && known.includes(name) ? Infinity : 0;
    };
    type Variant = WaitingShape["variants"][number];
    const capable = (variant: Variant) =>
      variant.timeRequestMs <= queue.timeLimitMs &&
      variant.needs.every((need) =>
        total(need.resource) > 0 && (need.all || need.amount <= total(need.resource))
      );
    const workers = Array.from({ length: queue.imaginaryWorkers }, () => ({
      remaining: new Map<string, number>(),
      tasks: new Map<number, number>(),
    }));
    const pool = (worker: typeof workers[number], name: string) =>
      worker.remaining.get(name) ?? total(name);
    const fitsNow = (worker: typeof workers[number], variant: Variant) =>
      variant.needs.every((need) => {
        const left = pool(worker, need.resource);
        if (left === Infinity) return true;
        return need.all ? left > 0 && left === total(need.resource) : need.amount <= left;
      });
    let blocked = false;
    for (let i = 0; i < single.length && !blocked;) {
      let end = i;
      while (end < single.length && single[end].shape.priority === single[i].shape.priority) end++;
      for (let s = i; s < end; s++) {
        const entry = single[s];
        const variants = entry.shape.variants.filter(capable);
        if (variants.length === 0) continue;
        while (entry.left > 0) {
          let placed = false;
          for (const worker of workers) {
            const variant = variants.find((variant) => fitsNow(worker, variant));
            if (!variant) continue;
            for (const need of variant.needs) {
              const left = pool(worker, need.resource);
              if (left !== Infinity) {
                worker.remaining.set(need.resource, need.all ? 0 : left - need.amount);
              }
            }
            worker.tasks.set(s, (worker.tasks.get(s) ?? 0) + 1);
            entry.left--;
            placed = true;
            break;
          }
          if (!placed) break;
        }
        if (entry.left > 0) blocked = true;
      }
      i = end;
    }
    let used = 0;
    for (const worker of workers) {
      if (worker.tasks.size === 0) continue;
      const cpus = total("cpus");
      const cpuUsed = cpus - pool(worker, "cpus");
      if (
        queue.minUtilization > 0 && Number.isFinite(cpus) && cpuUsed < queue.minUtilization * cpus
      ) {
        for (const [s, count] of worker.tasks) single[s].left += count;
        continue;
      }
      used++;
    }
    byId.set(queue.queueId, used);
  }
  return queues.map((queue) => byId.get(queue.queueId)!);
}

function resourceCount(item: ResourceDescriptorItem): number {
  switch (item.kind) {
    case "list":
      return item.values.length;
    case "range":
      return item.end - item.start + 1;
    case "groups":
      return item.groups.flat().length;
    case "sum":
      return item.size;
  }
}

Deno.test("computeDemand agrees with placing task by task on 2,000 random inputs", () => {
  for (let seed = 1; seed <= 2_000; seed++) {
    const random = seededRandom(seed);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    const known = ["cpus", "gpus", "mem", "fpga"].filter(() => random() < 0.7);
    const request = () => {
      const parts = [`cpus=${pick(["0.5", "1", "2", "3", "all"])}`];
      if (random() < 0.4) parts.push(`gpus=${pick(["1", "2", "all"])}`);
      if (random() < 0.3) parts.push(`mem=${pick(["1", "2.5"])}`);
      if (random() < 0.1) parts.push("fpga=1");
      return parts.join(",");
    };
    const shapes = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
      const shape = tasks(
        Array.from({ length: 1 + Math.floor(random() * 2) }, request).join(" or "),
        Math.floor(random() * 30),
        { priority: pick([0, 1, 2]) },
      );
      for (const variant of shape.variants) variant.timeRequestMs = pick([0, HOUR_MS, 2 * HOUR_MS]);
      return shape;
    });
    const worker = () => {
      const resources: Record<string, number> = {};
      if (random() < 0.9) resources.cpus = 1 + Math.floor(random() * 8);
      if (random() < 0.5) resources.gpus = 1 + Math.floor(random() * 3);
      if (random() < 0.5) resources.mem = 1 + Math.floor(random() * 8);
      return resources;
    };
    const queues = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) =>
      queue(
        10 - 3 * i + Math.floor(random() * 3),
        pick([() => exact(worker()), () => partial(worker()), () => probing])(),
        {
          imaginaryWorkers: Math.floor(random() * 6),
          timeLimitMs: pick([HOUR_MS, 2 * HOUR_MS]),
          minUtilization: pick([0, 0, 0.5]),
        },
      ));
    assert.deepEqual(
      singleNode(shapes, queues, known),
      referenceSingleNode(shapes, queues, known),
      `seed ${seed}`,
    );
  }
});
