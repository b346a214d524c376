import assert from "node:assert/strict";
import type { SubmitDescription } from "../../common/job_types.ts";
import { IdRanges } from "../../common/id_ranges.ts";
import { expandJobDetail } from "../../common/task_columns.ts";
import type { CoreCommand, CoreEvent, RestoredTask, TaskRef } from "./core_events.ts";
import { restoredTaskColumns } from "./restored_tasks.ts";
import { SchedulerCore } from "./scheduler_core.ts";
import { testTaskTemplate, testWorkerConfiguration } from "./_test_fixtures.ts";

/** A graph submit: task ids with the ids each waits for (same template). */
function graph(tasks: Array<[id: number, deps: number[]]>): SubmitDescription {
  return {
    template: testTaskTemplate("/tmp"),
    ids: tasks.map(([id]) => [id, id, 1]),
    entries: null,
    deps: tasks.map(([, deps]) => deps),
  };
}

class GraphEnv {
  readonly core = new SchedulerCore();
  nowMs = 1_000;

  constructor() {
    this.core.recordHistory = true;
  }

  handle(event: CoreEvent): CoreCommand[] {
    return this.core.handle(event, ++this.nowMs);
  }

  addWorker(workerId: number, cpus: number): void {
    this.handle({ type: "worker-joined", workerId, configuration: testWorkerConfiguration(cpus) });
  }

  createJob(jobId: number, submit: SubmitDescription | null, options: { maxFails?: number } = {}) {
    this.handle({
      type: "job-created",
      jobId,
      name: "g",
      maxFails: options.maxFails ?? null,
      isOpen: submit === null,
      submit,
    });
  }

  /** One scheduling round: the task ids given to each worker. */
  schedule(): Map<number, TaskRef[]> {
    const out = new Map<number, TaskRef[]>();
    for (const command of this.handle({ type: "schedule" })) {
      if (command.type === "assign-tasks") out.set(command.workerId, command.tasks);
    }
    return out;
  }

  /** Runs a scheduling round and returns the sorted task ids assigned (all workers). */
  scheduledIds(): number[] {
    return [...this.schedule().values()].flat().map((task) => task.taskId).sort((a, b) => a - b);
  }

  finish(workerId: number, task: TaskRef): void {
    this.handle({ type: "task-started", workerId, task });
    this.handle({ type: "task-finished", workerId, task });
  }

  fail(workerId: number, task: TaskRef): CoreCommand[] {
    this.handle({ type: "task-started", workerId, task });
    return this.handle({
      type: "task-failed",
      workerId,
      task,
      error: "Program terminated with exit code 1.",
      started: true,
    });
  }

  states(jobId: number): Record<number, string> {
    const detail = expandJobDetail(this.core.jobs.get(jobId)!.detail({}));
    return Object.fromEntries(detail.tasks.map((task) => [task.id, task.state]));
  }
}

function ref(jobId: number, taskId: number, instanceId = 0): TaskRef {
  return { jobId, taskId, instanceId };
}

Deno.test("SchedulerCore runs a diamond in dependency order", () => {
  const env = new GraphEnv();
  env.addWorker(1, 8);
  env.createJob(1, graph([[1, []], [2, [1]], [3, [1]], [4, [2, 3]]]));
  assert.deepEqual(env.scheduledIds(), [1]);
  assert.deepEqual(env.scheduledIds(), []);
  env.finish(1, ref(1, 1));
  assert.deepEqual(env.scheduledIds(), [2, 3]);
  env.finish(1, ref(1, 2));
  assert.deepEqual(env.scheduledIds(), [], "task 4 still waits for task 3");
  env.finish(1, ref(1, 3));
  assert.deepEqual(env.scheduledIds(), [4]);
  env.finish(1, ref(1, 4));
  assert.equal(env.core.jobs.get(1)!.summary().state, "finished");
});

Deno.test("SchedulerCore aborts every transitive dependent of a failed task, and runs the rest", () => {
  const env = new GraphEnv();
  env.addWorker(1, 8);
  env.createJob(1, graph([[1, []], [2, [1]], [3, [2]], [4, []], [5, [4, 1]]]));
  assert.deepEqual(env.scheduledIds(), [1, 4]);
  env.core.takeHistory();
  env.fail(1, ref(1, 1));
  const aborted = env.core.takeHistory().filter((event) => event.type === "tasks-aborted");
  assert.deepEqual(aborted, [{ type: "tasks-aborted", tasks: [[1, 2], [1, 5], [1, 3]] }]);
  env.finish(1, ref(1, 4));
  assert.deepEqual(env.states(1), {
    1: "failed",
    2: "aborted",
    3: "aborted",
    4: "finished",
    5: "aborted",
  });
  assert.equal(env.core.jobs.get(1)!.summary().state, "failed");
  assert.equal(env.core.takeCompletedJobs().length, 1);
});

Deno.test("SchedulerCore keeps dependents waiting while a dependency reruns after a crash", () => {
  const env = new GraphEnv();
  env.addWorker(1, 2);
  env.addWorker(2, 2);
  env.createJob(1, graph([[1, []], [2, [1]]]));
  const first = env.schedule();
  const [worker, [task]] = [...first][0];
  env.handle({ type: "task-started", workerId: worker, task });
  env.handle({ type: "worker-connection-closed", workerId: worker });
  assert.deepEqual(env.states(1), { 1: "waiting", 2: "waiting" });
  const again = env.schedule();
  assert.deepEqual([...again.values()].flat().map((t) => [t.taskId, t.instanceId]), [[1, 1]]);
  const other = [...again.keys()][0];
  env.finish(other, ref(1, 1, 1));
  assert.deepEqual(env.scheduledIds(), [2]);
});

Deno.test("SchedulerCore cancels dependents with their job, not aborts them", () => {
  const env = new GraphEnv();
  env.addWorker(1, 1);
  env.createJob(1, graph([[1, []], [2, [1]], [3, [2]]]));
  env.schedule();
  const commands = env.handle({ type: "job-canceled", jobId: 1, reason: null });
  assert.equal(commands.length, 1);
  assert.deepEqual(env.states(1), { 1: "canceled", 2: "canceled", 3: "canceled" });
});

Deno.test("SchedulerCore aborts a graph past --max-fails like any job", () => {
  const env = new GraphEnv();
  env.addWorker(1, 4);
  env.createJob(1, graph([[1, []], [2, []], [3, [1]], [4, [2]]]), { maxFails: 0 });
  assert.deepEqual(env.scheduledIds(), [1, 2]);
  env.fail(1, ref(1, 1));
  assert.deepEqual(env.states(1), { 1: "failed", 2: "aborted", 3: "aborted", 4: "aborted" });
});

Deno.test("SchedulerCore links a submit into an open job to tasks of earlier submits", () => {
  const env = new GraphEnv();
  env.addWorker(1, 4);
  env.createJob(1, null);
  env.handle({ type: "tasks-added", jobId: 1, submit: graph([[1, []], [2, []]]) });
  assert.deepEqual(env.scheduledIds(), [1, 2]);
  env.finish(1, ref(1, 2));
  // 3 waits for running 1; 2 has finished already and is dropped (resources spec §10).
  env.handle({ type: "tasks-added", jobId: 1, submit: graph([[3, [1, 2]], [4, [3]]]) });
  assert.deepEqual(env.scheduledIds(), []);
  env.finish(1, ref(1, 1));
  assert.deepEqual(env.scheduledIds(), [3]);
  env.finish(1, ref(1, 3));
  assert.deepEqual(env.scheduledIds(), [4]);
  // A plain array submit may be a dependency too.
  env.handle({
    type: "tasks-added",
    jobId: 1,
    submit: { template: testTaskTemplate("/tmp"), ids: [[10, 11, 1]], entries: null },
  });
  env.handle({ type: "tasks-added", jobId: 1, submit: graph([[12, [10, 11]]]) });
  assert.deepEqual(env.scheduledIds(), [10, 11]);
  env.finish(1, ref(1, 10));
  env.finish(1, ref(1, 11));
  assert.deepEqual(env.scheduledIds(), [12]);
});

Deno.test("SchedulerCore restores a graph: finished dependencies free their dependents", () => {
  const env = new GraphEnv();
  env.addWorker(1, 8);
  const restored = (taskId: number, state: RestoredTask["state"]): RestoredTask => ({
    taskId,
    state,
    instanceId: 0,
    crashes: 0,
    workerId: 1,
    startedMs: 5,
    finishedMs: 6,
    error: null,
  });
  env.handle({
    type: "job-restored",
    jobId: 1,
    name: "g",
    maxFails: null,
    isOpen: false,
    cancelReason: null,
    submittedMs: 1,
    submits: [graph([[1, []], [2, [1]], [3, [1]], [4, [2, 3]]])],
    tasks: restoredTaskColumns([restored(1, "finished"), restored(2, "finished")]),
  });
  assert.deepEqual(env.scheduledIds(), [3]);
  env.finish(1, ref(1, 3));
  assert.deepEqual(env.scheduledIds(), [4]);
});

Deno.test("SchedulerCore restores a canceled graph job with every unended task canceled", () => {
  const env = new GraphEnv();
  env.addWorker(1, 4);
  env.handle({
    type: "job-restored",
    jobId: 1,
    name: "g",
    maxFails: null,
    isOpen: false,
    cancelReason: "stop",
    submittedMs: 1,
    submits: [graph([[1, []], [2, [1]], [3, [1]], [4, [2, 3]]])],
    tasks: restoredTaskColumns([{
      taskId: 1,
      state: "finished",
      instanceId: 0,
      crashes: 0,
      workerId: 1,
      startedMs: 5,
      finishedMs: 6,
      error: null,
    }]),
    canceledSubmits: 1,
  });
  assert.deepEqual(env.scheduledIds(), []);
  const job = env.core.jobs.get(1)!;
  assert.equal(job.counts.canceled, 3);
  assert.equal(job.isCompleted, true);
});

Deno.test("SchedulerCore frees a 100,000-task fan-out in one pass over its edges", () => {
  const env = new GraphEnv();
  env.core.recordHistory = false;
  const n = 100_000;
  const deps: number[][] = [[]];
  for (let i = 1; i < n - 1; i++) deps.push([0]);
  deps.push(Array.from({ length: n - 2 }, (_, i) => i + 1));
  env.createJob(1, {
    template: testTaskTemplate("/tmp"),
    ids: IdRanges.sequence(0, n).ranges.slice(),
    entries: null,
    deps,
  });
  env.addWorker(1, 1);
  env.finish(1, env.schedule().get(1)![0]);
  const job = env.core.jobs.get(1)!;
  assert.equal(job.graph!.edgeCount, 2 * (n - 2));
  assert.equal(job.submits[0].requeued.length, n - 2);
});
