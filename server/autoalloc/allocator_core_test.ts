import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { queueParams as params } from "../../common/_test_queue_params.ts";
import type { ResourceDescriptor } from "../../common/resources/resource_descriptor.ts";
import { AllocatorCore, type AllocatorOutput } from "./allocator_core.ts";
import type { WaitingShape } from "./demand.ts";

function cpuTasks(count: number, cpus = 1, extra: Partial<WaitingShape> = {}): WaitingShape {
  return {
    priority: 0,
    nodes: 0,
    count,
    variants: [{
      needs: [{ resource: "cpus", amount: cpus * 10_000, all: false }],
      timeRequestMs: 0,
    }],
    label: `cpus=${cpus}`,
    ...extra,
  };
}

function cpus(n: number): ResourceDescriptor {
  return {
    resources: [{ name: "cpus", kind: "range", start: 0, end: n - 1 }],
    coupling: { weights: [] },
  };
}

function records(outputs: AllocatorOutput[]): string[] {
  return outputs.flatMap((output) => output.type === "record" ? [output.event.type] : []);
}

Deno.test("a probing queue asks for one worker at a time, and never twice for one task", () => {
  const core = new AllocatorCore();
  const queueId = core.addQueue(params());
  assertEquals(queueId, 1);
  assertEquals(records(core.drain()), ["autoalloc-queue-created"]);
  assertEquals(core.plan(0, [cpuTasks(4)], []), [{ queueId: 1, workerCounts: [1] }]);
  core.submitted(1, { allocationId: "10", workerCount: 1, workdir: "/a/001" }, 0);
  assertEquals(records(core.drain()), ["autoalloc-allocation-queued"]);
  core.endPass();
  // The backlog of 1 is full: nothing more, and `alloc info` says why.
  assertEquals(core.plan(1_000, [cpuTasks(4)], []), []);
  assertEquals(core.detail(1)?.stall?.kind, "backlog-full");
});

Deno.test("a queued allocation's capacity covers demand even with a larger backlog", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ backlog: 3, cliResources: cpus(4).resources }));
  // One 1-CPU task: one imaginary 4-CPU worker takes it.
  assertEquals(core.plan(0, [cpuTasks(1)], []), [{ queueId: 1, workerCounts: [1] }]);
  core.submitted(1, { allocationId: "1", workerCount: 1, workdir: "/d" }, 0);
  assertEquals(core.plan(10, [cpuTasks(1)], []), []);
  assertEquals(core.detail(1)?.stall?.kind, "covered");
  // 12 tasks of 1 CPU need three 4-CPU workers; one is queued already.
  assertEquals(core.plan(20, [cpuTasks(12)], []), [{ queueId: 1, workerCounts: [1, 1] }]);
});

Deno.test("allocations run when their first worker connects and end when all are gone", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ maxWorkersPerAlloc: 2 }));
  core.plan(0, [cpuTasks(1, 1, { nodes: 2, label: "nodes=2" })], []);
  core.submitted(1, { allocationId: "7", workerCount: 2, workdir: "/d" }, 0);
  core.drain();
  core.workerConnected(1, "7", cpus(2), 1_000);
  assertEquals(records(core.drain()), ["autoalloc-allocation-started"]);
  core.workerConnected(2, "7", cpus(2), 1_100);
  assertEquals(core.detail(1)?.allocations[0].status, "running");
  assertEquals(core.list()[0].knownWorkerResources, cpus(2));
  core.workerLost(1, "idle-timeout", 100_000, 101_000);
  assertEquals(core.detail(1)?.allocations[0].status, "running");
  core.workerLost(2, "idle-timeout", 100_000, 101_100);
  assertEquals(records(core.drain()), ["autoalloc-allocation-finished"]);
  const [allocation] = core.detail(1)!.allocations;
  assertEquals(allocation.status, "finished");
  assertEquals(allocation.startedMs, 1_000);
  assertEquals(allocation.endedMs, 101_100);
  assertEquals(allocation.unexpected, false);
});

Deno.test("workers that crash early fail the allocation; three failures pause the queue", () => {
  const core = new AllocatorCore();
  core.addQueue(params());
  for (let round = 0; round < 3; round++) {
    const t = round * 7_200_000; // Past every delay of the ladder.
    assertEquals(core.plan(t, [cpuTasks(1)], []).length, 1, `round ${round}`);
    core.submitted(1, { allocationId: `a${round}`, workerCount: 1, workdir: "/d" }, t);
    core.workerConnected(round + 1, `a${round}`, cpus(1), t + 1);
    core.workerLost(round + 1, "connection-lost", 5_000, t + 5_001);
    core.endPass();
  }
  assertEquals(core.detail(1)!.allocations.map((a) => a.status), ["failed", "failed", "failed"]);
  assertEquals(core.list()[0].state, "paused");
  const stall = core.detail(1)!.stall;
  assertEquals(stall?.kind, "auto-paused");
  assertEquals(core.plan(30_000_000, [cpuTasks(1)], []), []);
  // Ours: resume clears the counters, so the queue submits again.
  core.resume(1);
  assertEquals(core.plan(30_000_001, [cpuTasks(1)], []).length, 1);
});

Deno.test("failed submissions delay the next ones along the ladder and end in a pause", () => {
  const core = new AllocatorCore({
    rateLimiter: { delaysMs: [0, 100, 200], maxSubmissionFails: 3 },
  });
  core.addQueue(params());
  const error = {
    message: "Exit code: 1\nStderr: qsub: rejected\nStdout: ",
    scriptPath: "/d/001/hq-submit.sh",
  };
  assertEquals(core.plan(0, [cpuTasks(1)], []).length, 1);
  core.submitFailed(1, error);
  core.endPass();
  assertEquals(core.detail(1)?.stall?.lastError, error);
  assertEquals(core.plan(50, [cpuTasks(1)], []), []);
  const stall = core.detail(1)?.stall;
  assertEquals(stall?.kind, "rate-limited");
  assertEquals(stall?.untilMs, 100);
  assertEquals(core.plan(100, [cpuTasks(1)], []).length, 1);
  core.submitFailed(1, error);
  assertEquals(core.plan(250, [cpuTasks(1)], []), []);
  assertEquals(core.plan(300, [cpuTasks(1)], []).length, 1);
  core.submitFailed(1, error);
  core.endPass();
  assertEquals(core.list()[0].state, "paused");
  assertEquals(core.detail(1)?.stall?.kind, "auto-paused");
  assertEquals(core.detail(1)?.stall?.lastError, error);
  const logs = core.drain().filter((o) => o.type === "log").map((o) =>
    (o as { message: string }).message
  );
  assertEquals(logs.some((line) => line.includes("was paused")), true);
});

Deno.test("max worker count caps the workers of queued and running allocations", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ backlog: 5, maxWorkerCount: 2, cliResources: cpus(1).resources }));
  assertEquals(core.plan(0, [cpuTasks(10)], []), [{ queueId: 1, workerCounts: [1, 1] }]);
  core.submitted(1, { allocationId: "1", workerCount: 1, workdir: "/d" }, 0);
  core.submitted(1, { allocationId: "2", workerCount: 1, workdir: "/d" }, 0);
  assertEquals(core.plan(10, [cpuTasks(10)], []), []);
  assertEquals(core.detail(1)?.stall?.kind, "max-worker-count");
});

Deno.test("demand splits into full allocations and a remainder, within the backlog", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ backlog: 2, maxWorkersPerAlloc: 4, cliResources: cpus(1).resources }));
  // 8 imaginary 1-CPU workers; 6 tasks → 6 workers → [4, 2].
  assertEquals(core.plan(0, [cpuTasks(6)], []), [{ queueId: 1, workerCounts: [4, 2] }]);
});

Deno.test("tasks that no queue's workers can run make no allocation, and the queue says why", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ cliResources: cpus(4).resources }));
  assertEquals(core.plan(0, [cpuTasks(3, 16)], []), []);
  const stall = core.detail(1)?.stall;
  assertEquals(stall?.kind, "no-fitting-tasks");
  assertEquals(stall?.message.includes("cpus=16"), true);
  assertEquals(core.plan(10, [], []), []);
  assertEquals(core.detail(1)?.stall?.kind, "no-waiting-tasks");
});

Deno.test("remove refuses running allocations unless forced, and cancels the rest", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ backlog: 2 }));
  core.plan(0, [cpuTasks(1)], []);
  core.submitted(1, { allocationId: "1", workerCount: 1, workdir: "/d1" }, 0);
  core.workerConnected(1, "1", cpus(1), 10);
  core.drain();
  core.plan(20, [cpuTasks(5, 1)], []);
  core.submitted(1, { allocationId: "2", workerCount: 1, workdir: "/d2" }, 20);
  assertEquals(
    core.removeQueue(1, false),
    "Allocation queue has running jobs, so it will not be removed. Use `--force` if you want to remove the queue anyway",
  );
  core.drain();
  assertEquals(core.removeQueue(1, true), null);
  const outputs = core.drain();
  assertEquals(
    outputs.filter((o) => o.type === "cancel").map((o) =>
      (o as { allocationId: string }).allocationId
    ),
    ["1", "2"],
  );
  assertEquals(records(outputs), ["autoalloc-queue-removed"]);
  assertEquals(core.removeQueue(1, true), "Allocation queue not found");
  assertEquals(core.list(), []);
  // Ids are never reused.
  assertEquals(core.addQueue(params()), 2);
});

Deno.test("polls move allocations along and end them unexpectedly", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ backlog: 3, cliResources: cpus(1).resources }));
  core.plan(0, [cpuTasks(3)], []);
  for (const id of ["1", "2", "3"]) {
    core.submitted(1, { allocationId: id, workerCount: 1, workdir: `/d${id}` }, 0);
  }
  assertEquals(core.pollTargets(), [{ queueId: 1, ids: ["1", "2", "3"], cwd: "/d1" }]);
  core.drain();
  core.pollResult(
    1,
    new Map([
      ["1", { kind: "running" as const }],
      ["2", { kind: "finished" as const, failed: true, startedMs: 5, endedMs: 9 }],
      ["3", { kind: "error" as const, message: "boom" }],
    ]),
    10,
  );
  const byId = new Map(core.detail(1)!.allocations.map((a) => [a.id, a]));
  assertEquals(byId.get("1")?.status, "running");
  assertEquals(byId.get("2")?.status, "failed");
  assertEquals(byId.get("2")?.unexpected, true);
  assertEquals(byId.get("3")?.status, "queued");
  for (let i = 0; i < 10; i++) {
    core.pollResult(1, new Map([["3", { kind: "error" as const, message: "boom" }]]), 20 + i);
  }
  // More than 10 errors while queued: finished unexpectedly, failed.
  assertEquals(core.detail(1)!.allocations.find((a) => a.id === "3")?.status, "failed");
  assertEquals(records(core.drain()), [
    "autoalloc-allocation-finished",
    "autoalloc-allocation-finished",
  ]);
});

Deno.test("workers of unknown or finished allocations only warn", () => {
  const core = new AllocatorCore();
  core.addQueue(params());
  core.drain();
  core.workerConnected(1, "999", cpus(1), 0);
  const [output] = core.drain();
  assertEquals(output.type, "log");
  core.plan(0, [cpuTasks(1)], []);
  core.submitted(1, { allocationId: "5", workerCount: 1, workdir: "/d" }, 0);
  core.workerConnected(2, "5", cpus(1), 1);
  core.workerConnected(3, "5", cpus(1), 2); // Beyond the target count.
  const found = core.allocation("5");
  ok(found);
  assertEquals(found.queueId, 1);
  assertEquals(core.drain().filter((o) => o.type === "log").length, 1);
});

Deno.test("restored queues keep their ids and record nothing; ids continue after them", () => {
  const core = new AllocatorCore();
  core.continueQueueIdsFrom(4);
  core.addQueue(params(), { queueId: 2, knownResources: cpus(8) });
  assertEquals(core.drain(), []);
  assertEquals(core.list()[0].id, 2);
  assertEquals(core.list()[0].knownWorkerResources, cpus(8));
  assertEquals(core.addQueue(params()), 4);
});

Deno.test("passes are due when asked for, or after the maximal delay, and only with an active queue", () => {
  const core = new AllocatorCore({ maxScheduleDelayMs: 1_000 });
  assertEquals(core.passDue(0), false);
  core.addQueue(params());
  assertEquals(core.passDue(0), true);
  core.plan(0, [], []);
  assertEquals(core.passDue(500), false);
  assertEquals(core.passDue(1_000), true);
  core.requestPass();
  core.pause(1);
  assertEquals(core.passDue(2_000), false);
});

Deno.test("a running multi-node allocation whose workers are still connecting covers its task", () => {
  const core = new AllocatorCore();
  core.addQueue(params({ maxWorkersPerAlloc: 2, backlog: 1 }));
  const multi = cpuTasks(1, 1, { nodes: 2, label: "nodes=2" });
  assertEquals(core.plan(0, [multi], []), [{ queueId: 1, workerCounts: [2] }]);
  core.submitted(1, { allocationId: "9", workerCount: 2, workdir: "/d" }, 0);
  core.workerConnected(1, "9", cpus(1), 10);
  // Running, one of two workers in: the task still waits, but no second allocation.
  assertEquals(core.plan(20, [multi], []), []);
  core.workerConnected(2, "9", cpus(1), 30);
  core.workerLost(1, "idle-timeout", 100_000, 100_030);
  core.workerLost(2, "idle-timeout", 100_000, 100_030);
  assertEquals(core.plan(200_000, [multi], []), [{ queueId: 1, workerCounts: [2] }]);
});
