import type { ResourceDescriptorItem } from "../../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import assert from "node:assert/strict";
import type { SubmitDescription, TaskTemplate } from "../../common/job_types.ts";
import { expandJobDetail } from "../../common/task_columns.ts";
import type { WorkerConfiguration } from "../../common/protocol.ts";
import type { AssignedTask, CoreCommand, CoreEvent, TaskRef } from "./core_events.ts";
import { SchedulerCore } from "./scheduler_core.ts";
import { testTaskTemplate, testWorkerConfiguration } from "./_test_fixtures.ts";

function template(overrides: Partial<TaskTemplate> = {}): TaskTemplate {
  return testTaskTemplate("/tmp", overrides);
}

/** Builds core state with small steps and a fixed clock. */
class CoreTestEnv {
  readonly core = new SchedulerCore();
  nowMs = 1_000;
  #nextJob = 1;

  handle(event: CoreEvent): CoreCommand[] {
    this.nowMs += 1;
    return this.core.handle(event, this.nowMs);
  }

  addWorker(workerId: number, cpus: number, overrides: Partial<WorkerConfiguration> = {}): void {
    this.handle({
      type: "worker-joined",
      workerId,
      configuration: testWorkerConfiguration(cpus, overrides),
    });
  }

  submit(
    ids: Array<[number, number, number]>,
    options: { template?: Partial<TaskTemplate>; maxFails?: number } = {},
  ): number {
    const jobId = this.#nextJob++;
    const submit: SubmitDescription = { template: template(options.template), ids, entries: null };
    this.handle({
      type: "job-created",
      jobId,
      name: "job",
      maxFails: options.maxFails ?? null,
      isOpen: false,
      submit,
    });
    return jobId;
  }

  /** Runs a scheduling round; returns the assigned tasks per worker. */
  schedule(): Map<number, AssignedTask[]> {
    const assigned = new Map<number, AssignedTask[]>();
    for (const command of this.handle({ type: "schedule" })) {
      if (command.type === "assign-tasks") assigned.set(command.workerId, command.tasks);
    }
    return assigned;
  }

  start(workerId: number, task: TaskRef): void {
    this.handle({ type: "task-started", workerId, task: ref(task) });
  }

  finish(workerId: number, task: TaskRef): CoreCommand[] {
    return this.handle({ type: "task-finished", workerId, task: ref(task) });
  }

  fail(
    workerId: number,
    task: TaskRef,
    error = "Program terminated with exit code 3.",
  ): CoreCommand[] {
    return this.handle({ type: "task-failed", workerId, task: ref(task), error, started: true });
  }

  counts(jobId: number) {
    return this.core.jobs.get(jobId)!.summary().counts;
  }

  stateOf(jobId: number): string {
    return this.core.jobs.get(jobId)!.summary().state;
  }
}

function ref(task: TaskRef): TaskRef {
  return { jobId: task.jobId, taskId: task.taskId, instanceId: task.instanceId };
}

Deno.test("SchedulerCore gives a worker its CPUs' worth of tasks plus as many queued", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 2);
  const job = env.submit([[1, 9, 1]]);
  const assigned = env.schedule().get(1)!;
  assert.deepEqual(assigned.map((t) => t.taskId), [1, 2, 3, 4]);
  assert.deepEqual(env.counts(job), { ...zero(), waiting: 9 });
  assert.equal(env.schedule().size, 0, "a full worker gets nothing more");
  env.start(1, assigned[0]);
  env.finish(1, assigned[0]);
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.taskId), [5]);
});

Deno.test("SchedulerCore gives freed capacity to the higher priority first, then the earlier job", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 1);
  const low = env.submit([[0, 0, 1]]);
  const high = env.submit([[0, 0, 1]], { template: { priority: 5 } });
  const later = env.submit([[0, 0, 1]]);
  const first = env.schedule().get(1)!;
  assert.deepEqual(first.map((t) => t.jobId), [high, low]);
  env.start(1, first[0]);
  env.finish(1, first[0]);
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.jobId), [later]);
});

Deno.test("SchedulerCore runs a job to FINISHED and records start and end", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const job = env.submit([[0, 0, 1]]);
  const [task] = env.schedule().get(1)!;
  assert.equal(env.stateOf(job), "waiting");
  env.start(1, task);
  assert.equal(env.stateOf(job), "running");
  env.finish(1, task);
  assert.equal(env.stateOf(job), "finished");
  const detail = expandJobDetail(env.core.jobs.get(job)!.detail({}));
  assert.equal(detail.tasks[0].workerId, 1);
  assert.ok(detail.tasks[0].startedMs! < detail.tasks[0].finishedMs!);
  assert.ok(detail.completedMs !== null);
});

Deno.test("SchedulerCore hands each completed job out once, in completion order", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const first = env.submit([[0, 1, 1]]);
  const second = env.submit([[0, 0, 1]]);
  const tasks = env.schedule().get(1)!;
  assert.deepEqual(env.core.takeCompletedJobs(), []);
  env.finish(1, tasks[2]);
  env.finish(1, tasks[0]);
  assert.deepEqual(env.core.takeCompletedJobs().map((job) => job.id), [second]);
  env.finish(1, tasks[1]);
  assert.deepEqual(env.core.takeCompletedJobs().map((job) => job.id), [first]);
  assert.deepEqual(env.core.takeCompletedJobs(), []);
});

Deno.test("SchedulerCore marks the job FAILED and aborts the rest once failures exceed max-fails", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 2);
  const job = env.submit([[0, 9, 1]], { maxFails: 1 });
  const [a, b] = env.schedule().get(1)!;
  env.start(1, a);
  env.start(1, b);
  assert.deepEqual(env.fail(1, a), []);
  const commands = env.fail(1, env.schedule().get(1)?.[0] ?? b);
  assert.equal(env.counts(job).failed, 2);
  assert.equal(env.counts(job).waiting + env.counts(job).running, 0);
  assert.ok(env.counts(job).aborted >= 7);
  assert.ok(commands.length <= 1);
  assert.equal(env.stateOf(job), "failed");
});

Deno.test("SchedulerCore cancels waiting and running tasks and tells the worker to stop them", () => {
  const env = new CoreTestEnv();
  env.addWorker(7, 1);
  const job = env.submit([[0, 999_999, 1]]);
  const [running, queued] = env.schedule().get(7)!;
  env.start(7, running);
  const commands = env.handle({ type: "job-canceled", jobId: job, reason: "enough" });
  assert.deepEqual(commands, [{
    type: "cancel-tasks",
    workerId: 7,
    tasks: [
      { jobId: job, taskId: 0, instanceId: 0 },
      { jobId: job, taskId: queued.taskId, instanceId: 0 },
    ],
  }]);
  assert.deepEqual(env.counts(job), { ...zero(), canceled: 1_000_000 });
  assert.equal(env.stateOf(job), "canceled");
  assert.equal(env.core.jobs.get(job)!.cancelReason, "enough");
  assert.equal(env.schedule().size, 0);
});

Deno.test("SchedulerCore requeues running tasks of a lost worker with the next instance id", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 1);
  const job = env.submit([[0, 0, 1]]);
  const [task] = env.schedule().get(1)!;
  env.start(1, task);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.deepEqual(env.counts(job), { ...zero(), waiting: 1 });
  env.addWorker(2, 1);
  const [again] = env.schedule().get(2)!;
  assert.equal(again.taskId, 0);
  assert.equal(again.instanceId, 1);
  // A stale report of the old instance changes nothing.
  env.finish(1, task);
  assert.deepEqual(env.counts(job), { ...zero(), waiting: 1 });
  env.start(2, again);
  env.finish(2, again);
  assert.equal(env.stateOf(job), "finished");
});

Deno.test("SchedulerCore fails a task whose crash limit is reached by worker losses", () => {
  const env = new CoreTestEnv();
  const job = env.submit([[0, 0, 1]], { template: { crashLimit: 1 } });
  env.addWorker(1, 1);
  const [task] = env.schedule().get(1)!;
  env.start(1, task);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  const detail = expandJobDetail(env.core.jobs.get(job)!.detail({}));
  assert.equal(detail.tasks[0].state, "failed");
  assert.match(
    detail.tasks[0].error!,
    /has occurred 1 times in this situation and limit was reached/,
  );
  assert.equal(detail.tasks[0].workerId, null);
});

Deno.test("SchedulerCore does not count a stopped worker as a crash, but never-restart fails", () => {
  const env = new CoreTestEnv();
  const counted = env.submit([[0, 0, 1]], { template: { crashLimit: 1 } });
  const never = env.submit([[0, 0, 1]], { template: { crashLimit: "never-restart" } });
  env.addWorker(1, 2);
  const tasks = env.schedule().get(1)!;
  for (const task of tasks) env.start(1, task);
  env.handle({ type: "worker-stop-requested", workerId: 1 });
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.stateOf(counted), "waiting");
  assert.equal(env.stateOf(never), "failed");
  assert.equal(
    expandJobDetail(env.core.jobs.get(never)!.detail({})).tasks[0].error,
    "Task was running on a lost worker while never restart flag was set.",
  );
});

Deno.test("SchedulerCore keeps an open job OPENED until it is closed", () => {
  const env = new CoreTestEnv();
  env.handle({
    type: "job-created",
    jobId: 1,
    name: "job",
    maxFails: null,
    isOpen: true,
    submit: null,
  });
  assert.equal(env.stateOf(1), "opened");
  env.addWorker(1, 1);
  env.handle({
    type: "tasks-added",
    jobId: 1,
    submit: { template: template(), ids: [[0, 0, 1]], entries: ["a"] },
  });
  const [task] = env.schedule().get(1)!;
  assert.equal(task.entry, "a");
  env.start(1, task);
  env.finish(1, task);
  assert.equal(env.stateOf(1), "opened");
  assert.equal(env.core.jobs.get(1)!.isCompleted, false);
  env.handle({ type: "job-closed", jobId: 1 });
  assert.equal(env.stateOf(1), "finished");
  assert.equal(env.core.jobs.get(1)!.isCompleted, true);
});

Deno.test("SchedulerCore keeps a million-task array as ranges until workers take its tasks", () => {
  const env = new CoreTestEnv();
  const job = env.submit([[1, 1_000_000, 1]]);
  const record = env.core.jobs.get(job)!;
  assert.equal(record.taskCount, 1_000_000);
  assert.equal(record.submits[0].cursor, 0);
  env.addWorker(1, 4);
  env.schedule();
  assert.equal(record.submits[0].cursor, 8, "4 CPUs and 4 queued tasks");
});

function zero() {
  return { waiting: 0, running: 0, finished: 0, failed: 0, canceled: 0, aborted: 0 };
}

/** A worker with `cpus` CPUs plus these pools. */
function withPools(cpus: number, ...pools: ResourceDescriptorItem[]): Partial<WorkerConfiguration> {
  return {
    resources: {
      resources: [{ name: "cpus", kind: "range", start: 0, end: cpus - 1 }, ...pools],
      coupling: { weights: [] },
    },
  };
}

function requesting(...entries: ResourceRequestEntry[]): { template: Partial<TaskTemplate> } {
  return { template: { resources: entries } };
}

const CPU: ResourceRequestEntry = { name: "cpus", amount: 10_000, policy: "compact" };
const GPU: ResourceRequestEntry = { name: "gpus", amount: 10_000, policy: "compact" };
const GPUS: ResourceDescriptorItem = { name: "gpus", kind: "list", values: ["2", "3"] };

Deno.test("SchedulerCore fills free resources on every worker before prefilling any", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4, withPools(4, { name: "gpus", kind: "list", values: ["0"] }));
  env.addWorker(2, 4, withPools(4, { name: "gpus", kind: "list", values: ["0"] }));
  env.submit([[0, 1, 1]], requesting(CPU, GPU));
  const assigned = env.schedule();
  assert.deepEqual(assigned.get(1)!.map((t) => t.taskId), [0]);
  assert.deepEqual(assigned.get(2)!.map((t) => t.taskId), [1]);
});

Deno.test("SchedulerCore never places a task on a worker without the resource, and keeps it waiting", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const job = env.submit([[0, 1, 1]], requesting(CPU, GPU));
  assert.equal(env.schedule().size, 0);
  assert.deepEqual(env.counts(job), { ...zero(), waiting: 2 });
  env.addWorker(2, 1, withPools(1, GPUS));
  assert.deepEqual(env.schedule().get(2)!.map((t) => t.taskId), [0, 1]);
  // Larger than the whole worker: never there.
  const big = env.submit([[0, 0, 1]], requesting({ ...CPU, amount: 50_000 }));
  assert.equal(env.schedule().size, 0);
  assert.deepEqual(env.counts(big), { ...zero(), waiting: 1 });
});

Deno.test("SchedulerCore counts sum pools and `all` requests", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 8, withPools(8, { name: "mem", kind: "sum", size: 10_000 * 10_000 }));
  const mem = { name: "mem", amount: 4000 * 10_000, policy: "compact" } as const;
  env.submit([[0, 5, 1]], requesting(CPU, mem));
  // Two fit now, three more are prefilled (up to 2 × 10000 of memory), the last one waits.
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.taskId), [0, 1, 2, 3, 4]);
  const env2 = new CoreTestEnv();
  env2.addWorker(1, 4, withPools(4, GPUS));
  env2.submit([[0, 3, 1]], requesting(CPU, { name: "gpus", amount: 0, policy: "all" }));
  assert.deepEqual(env2.schedule().get(1)!.map((t) => t.taskId), [0, 1]);
});

Deno.test("SchedulerCore keeps lower priorities off resources a waiting higher priority needs", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const small = env.submit([[0, 1, 1]]);
  const running = env.schedule().get(1)!;
  assert.equal(running.length, 2);
  // A 4-CPU task of higher priority fits the worker but not its 2 free CPUs. The free CPUs are
  // not given to the lower-priority job; both are only queued on the worker (prefill), where
  // the higher priority starts first.
  env.submit([[0, 0, 1]], { template: { priority: 5, resources: [{ ...CPU, amount: 40_000 }] } });
  const low = env.submit([[0, 3, 1]]);
  const next = env.schedule().get(1)!;
  assert.deepEqual(next.map((t) => t.jobId), [2, 3, 3]);
  assert.equal(env.counts(low).waiting, 4);
  env.addWorker(2, 2);
  assert.deepEqual(env.schedule().get(2)!.map((t) => t.jobId), [3, 3]);
  assert.equal(env.counts(small).waiting, 2);
});

Deno.test("SchedulerCore skips workers whose time limit ends before the time request", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 2, { timeLimitMs: 3_600_000 });
  env.submit([[0, 0, 1]], { template: { timeRequestMs: 2 * 3_600_000 } });
  assert.equal(env.schedule().size, 0);
  env.addWorker(2, 2);
  assert.deepEqual([...env.schedule().keys()], [2]);
});

Deno.test("SchedulerCore reserves whole idle workers of one group for a multi-node task", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 2, { group: "a", hostname: "n1" });
  env.addWorker(2, 2, { group: "b", hostname: "n2" });
  env.addWorker(3, 2, { group: "a", hostname: "n3" });
  const multi = env.submit([[0, 0, 1]], { template: { nodes: 2, resources: [] } });
  const single = env.submit([[0, 9, 1]]);
  const assigned = env.schedule();
  const [task] = assigned.get(1)!;
  assert.equal(task.jobId, multi);
  assert.deepEqual(task.nodes, ["n1", "n3"]);
  assert.equal(assigned.get(3), undefined, "the non-root node is only reserved");
  assert.ok(assigned.get(2)!.every((t) => t.jobId === single), "others run elsewhere");
  env.start(1, task);
  // Losing a non-root node leaves the task running; the root's end frees the rest.
  env.handle({ type: "worker-connection-closed", workerId: 3 });
  assert.equal(env.counts(multi).running, 1);
  env.finish(1, task);
  assert.equal(env.stateOf(multi), "finished");
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.jobId), Array(4).fill(single));
});

Deno.test("SchedulerCore requeues a multi-node task whose root is lost and frees its other nodes", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 1);
  env.addWorker(2, 1);
  const multi = env.submit([[0, 0, 1]], { template: { nodes: 2, resources: [] } });
  const [task] = env.schedule().get(1)!;
  env.start(1, task);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.counts(multi).waiting, 1);
  env.addWorker(3, 1);
  const [again] = env.schedule().get(2)!;
  assert.equal(again.instanceId, 1);
});

Deno.test("SchedulerCore takes queued tasks back from a busy worker when another has free CPUs", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 1);
  env.addWorker(2, 1);
  env.submit([[0, 2, 1]]);
  const first = env.schedule();
  assert.deepEqual(first.get(1)!.map((t) => t.taskId), [0, 2], "task 2 is queued on worker 1");
  assert.deepEqual(first.get(2)!.map((t) => t.taskId), [1]);
  env.start(1, first.get(1)![0]);
  env.start(2, first.get(2)![0]);
  const commands = env.finish(2, first.get(2)![0]);
  assert.deepEqual(commands, []);
  const retract = env.handle({ type: "schedule" });
  assert.deepEqual(retract, [{
    type: "retract-tasks",
    workerId: 1,
    tasks: [{ jobId: 1, taskId: 2, instanceId: 0 }],
  }]);
  assert.deepEqual(env.handle({ type: "schedule" }), [], "asked once");
  env.handle({
    type: "tasks-retracted",
    workerId: 1,
    tasks: [{ jobId: 1, taskId: 2, instanceId: 0 }],
  });
  const again = env.schedule();
  assert.deepEqual(again.get(2)!.map((t) => [t.taskId, t.instanceId]), [[2, 0]]);
});

Deno.test("SchedulerCore gives a --min-utilization worker nothing until enough of its CPUs would be busy", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4, { minUtilization: 0.5 });
  const first = env.submit([[0, 0, 1]]);
  assert.equal(env.schedule().size, 0);
  assert.deepEqual(env.counts(first), { ...zero(), waiting: 1 });
  env.submit([[0, 0, 1]]);
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.jobId), [1, 2]);
});

Deno.test("SchedulerCore places each task with the first request variant that fits, and frees that one", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 8, withPools(8, { name: "gpus", kind: "list", values: ["0"] }));
  const variants = [
    { resources: [CPU, GPU], timeRequestMs: 0, weight: 1 },
    { resources: [{ ...CPU, amount: 20_000 }], timeRequestMs: 0, weight: 1 },
  ];
  env.submit([[0, 2, 1]], { template: { variants } });
  const first = env.schedule().get(1)!;
  assert.deepEqual(first.map((t) => [t.taskId, t.variant]), [[0, 0], [1, 1], [2, 1]]);
  env.start(1, first[0]);
  env.finish(1, first[0]);
  // The GPU is free again: the next task of a variant job takes it.
  env.submit([[0, 0, 1]], { template: { variants } });
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.variant), [0]);
  // A single-request submit carries no variant.
  env.submit([[0, 0, 1]]);
  assert.equal(env.schedule().get(1)![0].variant, undefined);
});

Deno.test("SchedulerCore puts larger tasks first at equal priority (resources spec §5.3), earlier jobs first at equal size", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  const small = env.submit([[0, 7, 1]]);
  const big = env.submit([[0, 0, 1]], requesting({ ...CPU, amount: 40_000 }));
  const same = env.submit([[0, 0, 1]], requesting({ ...CPU, amount: 40_000 }));
  assert.deepEqual(env.schedule().get(1)!.map((t) => t.jobId), [big, same]);
  assert.equal(env.counts(small).waiting, 8);
  // A higher priority still comes first, however small.
  const urgent = env.submit([[0, 0, 1]], { template: { priority: 1 } });
  const env2 = new CoreTestEnv();
  env2.addWorker(1, 4);
  env2.submit([[0, 0, 1]], requesting({ ...CPU, amount: 40_000 }));
  const first = env2.submit([[0, 0, 1]], { template: { priority: 1 } });
  assert.deepEqual(env2.schedule().get(1)!.map((t) => t.jobId), [first, 1]);
  assert.equal(urgent, 4);
});

/** Job ids of the tasks placed on the worker to run now (prefilled ones left out). */
function placedNow(env: CoreTestEnv, workerId: number): number[] {
  const placements = [...env.core.workers.get(workerId)!.placements.values()];
  return placements.filter((placement) => !placement.prefilled).map((p) => p.submit.job.id);
}

Deno.test("SchedulerCore chooses the tasks of one priority jointly (resources spec §5.3): four 3-CPU tasks of weight 2 before one `all` task", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 12);
  const all = env.submit([[0, 0, 1]], requesting({ name: "cpus", amount: 0, policy: "all" }));
  const small = env.submit([[0, 3, 1]], {
    template: { resources: [{ ...CPU, amount: 30_000 }], weight: 2 },
  });
  env.schedule();
  assert.deepEqual(placedNow(env, 1), [small, small, small, small]);
  assert.equal(env.counts(all).waiting, 1);
});

Deno.test("SchedulerCore fills a --min-utilization 1 worker with the set that uses it whole: two 6-CPU tasks, not one 8-CPU task", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 12, { minUtilization: 1 });
  const eight = env.submit([[0, 0, 1]], requesting({ ...CPU, amount: 80_000 }));
  const six = env.submit([[0, 1, 1]], requesting({ ...CPU, amount: 60_000 }));
  env.schedule();
  assert.deepEqual(placedNow(env, 1), [six, six]);
  assert.equal(env.counts(eight).waiting, 1);
});

Deno.test("SchedulerCore keeps the greedy order when it already is the best set", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 4);
  env.submit([[0, 7, 1]]);
  const big = env.submit([[0, 0, 1]], requesting({ ...CPU, amount: 40_000 }));
  env.schedule();
  assert.deepEqual(placedNow(env, 1), [big]);
});

Deno.test("SchedulerCore shows no worker for a canceled task that was only prefilled there", () => {
  const env = new CoreTestEnv();
  env.addWorker(1, 1);
  const job = env.submit([[0, 1, 1]]);
  const [running] = env.schedule().get(1)!;
  env.start(1, running);
  env.handle({ type: "job-canceled", jobId: job, reason: null });
  const detail = expandJobDetail(env.core.jobs.get(job)!.detail({}));
  assert.deepEqual(detail.tasks.map((task) => task.workerId), [1, null]);
});
