import assert from "node:assert/strict";
import type { TaskTemplate } from "../../common/job_types.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import type { AssignedTask, CoreCommand, CoreEvent } from "./core_events.ts";
import { SchedulerCore } from "./scheduler_core.ts";
import { testTaskTemplate, testWorkerConfiguration } from "./_test_fixtures.ts";

class CoreTestEnv {
  readonly core = new SchedulerCore();
  nowMs = 1_000;
  #nextJob = 1;

  handle(event: CoreEvent): CoreCommand[] {
    this.nowMs += 1;
    return this.core.handle(event, this.nowMs);
  }

  addWorker(workerId: number, cpus: number): void {
    this.handle({
      type: "worker-joined",
      workerId,
      configuration: testWorkerConfiguration(cpus),
    });
  }

  /** One job of `count` tasks (ids 0..count-1); returns its id. */
  submit(count: number, template: Partial<TaskTemplate> = {}): number {
    const jobId = this.#nextJob++;
    this.handle({
      type: "job-created",
      jobId,
      name: "job",
      maxFails: null,
      isOpen: false,
      submit: {
        template: testTaskTemplate("/tmp", template),
        ids: [[0, count - 1, 1]],
        entries: null,
      },
    });
    return jobId;
  }

  schedule(): AssignedTask[] {
    const tasks: AssignedTask[] = [];
    for (const command of this.handle({ type: "schedule" })) {
      if (command.type === "assign-tasks") tasks.push(...command.tasks);
    }
    return tasks;
  }
}

function request(name: string, amount: number): ResourceRequestEntry {
  return { name, amount: amount * 10_000, policy: "compact" };
}

Deno.test("SchedulerCore.waitingShapes is empty when nothing waits", () => {
  assert.deepEqual(new CoreTestEnv().core.waitingShapes(), []);
});

Deno.test("SchedulerCore.waitingShapes counts an array's waiting tasks with its request by name", () => {
  const env = new CoreTestEnv();
  env.submit(1_000, { resources: [request("cpus", 16)], timeRequestMs: 3_600_000 });
  assert.deepEqual(env.core.waitingShapes(), [{
    priority: 0,
    nodes: 0,
    count: 1_000,
    variants: [{
      needs: [{ resource: "cpus", amount: 160_000, all: false }],
      timeRequestMs: 3_600_000,
    }],
    label: "cpus=16",
  }]);
});

Deno.test("SchedulerCore.waitingShapes merges jobs of one request and priority into one shape", () => {
  const env = new CoreTestEnv();
  env.submit(3);
  env.submit(1);
  env.submit(2, { resources: [request("cpus", 1), request("gpus/nvidia", 2)] });
  env.submit(4, { priority: 5 });
  const shapes = env.core.waitingShapes();
  // In scheduling order: priority, then (no workers, so no value) job id.
  assert.deepEqual(
    shapes.map(({ priority, count, label }) => ({ priority, count, label })),
    [
      { priority: 5, count: 4, label: "cpus=1" },
      { priority: 0, count: 4, label: "cpus=1" },
      { priority: 0, count: 2, label: "cpus=1,gpus/nvidia=2" },
    ],
  );
  assert.deepEqual(shapes[2].variants[0].needs, [
    { resource: "cpus", amount: 10_000, all: false },
    { resource: "gpus/nvidia", amount: 20_000, all: false },
  ]);
});

Deno.test("SchedulerCore.waitingShapes leaves out tasks assigned to workers and counts requeued ones", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  env.submit(10);
  // A 4-CPU worker takes twice its CPUs (prefill).
  assert.equal(env.schedule().length, 8);
  assert.deepEqual(env.core.waitingShapes().map((shape) => shape.count), [2]);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.deepEqual(env.core.waitingShapes().map((shape) => shape.count), [10]);
});

Deno.test("SchedulerCore.waitingShapes forgets canceled jobs and jobs fully assigned", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const canceled = env.submit(100, { resources: [request("cpus", 2)] });
  env.handle({ type: "job-canceled", jobId: canceled, reason: null });
  env.submit(3);
  env.schedule();
  assert.deepEqual(env.core.waitingShapes(), []);
});

Deno.test("SchedulerCore.waitingShapes gives multi-node tasks their node count and label", () => {
  const env = new CoreTestEnv();
  env.submit(2, { nodes: 3, resources: [] });
  const [shape] = env.core.waitingShapes();
  assert.equal(shape.nodes, 3);
  assert.equal(shape.count, 2);
  assert.equal(shape.label, "nodes=3");
});

Deno.test("SchedulerCore.waitingShapes lists request variants and the all policy", () => {
  const env = new CoreTestEnv();
  env.submit(1, {
    variants: [
      { resources: [request("cpus", 1), request("gpus", 1)], timeRequestMs: 0, weight: 1 },
      { resources: [{ name: "cpus", amount: 0, policy: "all" }], timeRequestMs: 60_000, weight: 1 },
    ],
  });
  const [shape] = env.core.waitingShapes();
  assert.equal(shape.label, "cpus=1,gpus=1 or cpus=all");
  assert.deepEqual(shape.variants[1], {
    needs: [{ resource: "cpus", amount: 0, all: true }],
    timeRequestMs: 60_000,
  });
});

Deno.test("SchedulerCore.waitingShapes costs nothing per task: ten million waiting tasks", () => {
  const env = new CoreTestEnv();
  env.submit(10_000_000, { resources: [request("cpus", 0.5)] });
  const start = performance.now();
  const [shape] = env.core.waitingShapes();
  assert.equal(shape.count, 10_000_000);
  assert.equal(shape.label, "cpus=0.5");
  // Generous: per task it would take hundreds of ms at least.
  assert.ok(performance.now() - start < 50, `${performance.now() - start} ms`);
});
