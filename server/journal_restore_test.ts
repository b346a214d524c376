import assert from "node:assert/strict";
import type { SubmitDescription } from "../common/job_types.ts";
import type { JournalEvent } from "../common/journal/journal_events.ts";
import { JournalRestorer } from "./journal_restore.ts";
import { SchedulerCore } from "./scheduler/scheduler_core.ts";
import { restoredTaskList } from "./scheduler/restored_tasks.ts";
import { testTaskTemplate, testWorkerConfiguration } from "./scheduler/_test_fixtures.ts";

function submit(ids: Array<[number, number, number]>): SubmitDescription {
  return { template: testTaskTemplate("/tmp"), ids, entries: null };
}

function replay(events: JournalEvent[]) {
  const restorer = new JournalRestorer();
  events.forEach((event, index) => restorer.apply(1_000 + index, event));
  return restorer.finish();
}

const created = (
  jobId: number,
  ids: Array<[number, number, number]>,
  attached = false,
): JournalEvent => ({
  type: "job-created",
  jobId,
  name: `job${jobId}`,
  maxFails: null,
  attached,
  submit: submit(ids),
});

const started = (jobId: number, taskId: number, instanceId: number, workerId: number) => ({
  type: "task-started" as const,
  jobId,
  taskId,
  instanceId,
  workerIds: [workerId],
  variant: 0,
});

Deno.test("JournalRestorer continues ids, keeps the last server uid and drops completed jobs", () => {
  const state = replay([
    { type: "server-start", serverUid: "first" },
    { type: "worker-connected", workerId: 3, configuration: testWorkerConfiguration(2) },
    created(1, [[0, 0, 1]]),
    created(7, [[0, 1, 1]]),
    started(1, 0, 0, 3),
    { type: "task-finished", jobId: 1, taskId: 0 },
    { type: "job-completed", jobId: 1 },
    { type: "server-start", serverUid: "second" },
  ]);
  assert.equal(state.serverUid, "second");
  assert.equal(state.nextJobId, 8, "ids of dropped jobs are not reused");
  assert.equal(state.nextWorkerId, 5, "HyperQueue's quirk: the highest worker id + 2");
  assert.deepEqual(state.jobs.map((job) => job.jobId), [7]);
  assert.equal(state.jobs[0].submittedMs, 1_003);
  assert.deepEqual(restoredTaskList(state.jobs[0].tasks), []);
});

Deno.test("JournalRestorer: ended tasks keep their state, running ones wait as the next instance, crashes count only lost connections", () => {
  const state = replay([
    { type: "server-start", serverUid: "u" },
    created(1, [[0, 5, 1]]),
    started(1, 0, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 0 },
    started(1, 1, 0, 1),
    { type: "task-failed", jobId: 1, taskId: 1, error: "exit 1" },
    started(1, 2, 0, 1),
    started(1, 3, 0, 2),
    started(1, 4, 0, 2),
    { type: "worker-lost", workerId: 1, reason: "heartbeat-lost" },
    { type: "worker-lost", workerId: 2, reason: "stopped" },
    started(1, 2, 1, 3),
    // The server crashes here: task 2 (instance 1) was running.
  ]);
  const tasks = new Map(restoredTaskList(state.jobs[0].tasks).map((task) => [task.taskId, task]));
  assert.equal(tasks.get(0)!.state, "finished");
  assert.equal(tasks.get(0)!.startedMs, 1_002);
  assert.equal(tasks.get(0)!.finishedMs, 1_003);
  assert.equal(tasks.get(1)!.state, "failed");
  assert.equal(tasks.get(1)!.error, "exit 1");
  assert.deepEqual(
    [tasks.get(2)!.state, tasks.get(2)!.instanceId, tasks.get(2)!.crashes],
    ["waiting", 2, 1],
    "lost by heartbeat (a crash), then running when the server died (not a crash)",
  );
  assert.deepEqual(
    [tasks.get(3)!.state, tasks.get(3)!.instanceId, tasks.get(3)!.crashes],
    ["waiting", 2, 0],
    "a stopped worker is no crash; waiting when the server died, it may have run as 1 unjournaled",
  );
  assert.equal(tasks.has(5), false, "never touched: plainly waiting");
});

Deno.test("JournalRestorer: open jobs stay open until closed, attached submits join them, cancels keep their reason", () => {
  const state = replay([
    { type: "server-start", serverUid: "u" },
    { type: "job-open", jobId: 1, name: "open", maxFails: 2 },
    created(1, [[0, 1, 1]], true),
    created(1, [[2, 2, 1]], true),
    { type: "job-open", jobId: 2, name: "closed later", maxFails: null },
    { type: "job-close", jobId: 2 },
    created(3, [[0, 3, 1]]),
    started(3, 0, 0, 1),
    { type: "job-cancel", jobId: 3, reason: "enough" },
    { type: "tasks-canceled", tasks: [[3, 0], [3, 1]] },
  ]);
  const [open, closed, canceled] = state.jobs;
  assert.deepEqual([open.isOpen, open.name, open.maxFails, open.submits.length], [
    true,
    "open",
    2,
    2,
  ]);
  assert.equal(closed.isOpen, false);
  assert.equal(canceled.cancelReason, "enough");
  assert.deepEqual(restoredTaskList(canceled.tasks).map((task) => [task.taskId, task.state]), [
    [0, "canceled"],
    [1, "canceled"],
  ]);
});

Deno.test("SchedulerCore recreates a restored job: counts, states, and only waiting tasks get scheduled", () => {
  const state = replay([
    { type: "server-start", serverUid: "u" },
    created(1, [[0, 99, 1]]),
    ...Array.from({ length: 10 }, (_, taskId) => [
      started(1, taskId, 0, 1),
      { type: "task-finished" as const, jobId: 1, taskId },
    ]).flat(),
    started(1, 10, 0, 1),
    started(1, 12, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 12 },
  ]);
  const core = new SchedulerCore();
  core.handle(state.jobs[0], 5_000);
  const job = core.jobs.get(1)!;
  assert.deepEqual(job.counts, {
    waiting: 89,
    running: 0,
    finished: 11,
    failed: 0,
    canceled: 0,
    aborted: 0,
  });
  assert.equal(job.submittedMs, 1_001);
  core.handle(
    { type: "worker-joined", workerId: 1, configuration: testWorkerConfiguration(200) },
    5_001,
  );
  const assigned = core.handle({ type: "schedule" }, 5_002).flatMap((command) =>
    command.type === "assign-tasks" ? command.tasks : []
  );
  const ids = assigned.map((task) => task.taskId).sort((a, b) => a - b);
  assert.equal(ids.length, 89);
  assert.ok(!ids.some((id) => id < 10 || id === 12), "finished tasks do not run again");
  assert.equal(assigned.find((task) => task.taskId === 10)!.instanceId, 1, "the next instance");
  // The journal ends without server-stop: the run crashed, and may have started task 11
  // (instance 0) without journaling it.
  assert.equal(assigned.find((task) => task.taskId === 11)!.instanceId, 1, "past a crash");
});

// Issue 15, item 9: after a crash a task could run again with an instance id it had had, when
// its start had not been flushed to the journal yet.
Deno.test("JournalRestorer: after each crash the waiting tasks of a job run past any unjournaled start", () => {
  const restore = (events: JournalEvent[]) => {
    const state = replay(events);
    const core = new SchedulerCore();
    for (const job of state.jobs) core.handle(job, 50_000);
    core.handle(
      { type: "worker-joined", workerId: 9, configuration: testWorkerConfiguration(100) },
      50_001,
    );
    const assigned = core.handle({ type: "schedule" }, 50_002).flatMap((command) =>
      command.type === "assign-tasks" ? command.tasks : []
    );
    const instances = new Map(
      assigned.map((task) => [`${task.jobId}:${task.taskId}`, task.instanceId]),
    );
    const views = (jobId: number) => core.jobs.get(jobId)!.submits[0].table;
    return { state, instances, views };
  };
  const start = (serverUid = "u"): JournalEvent => ({ type: "server-start", serverUid });
  const stop: JournalEvent = { type: "server-stop" };
  // Stopped cleanly: everything was journaled, nothing is bumped.
  let { state, instances } = restore([
    start(),
    created(1, [[0, 3, 1]]),
    started(1, 0, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 0 },
    started(1, 1, 0, 1),
    stop,
  ]);
  assert.equal(state.jobs[0].firstInstance, undefined);
  assert.deepEqual([...instances], [["1:1", 1], ["1:2", 0], ["1:3", 0]]);
  // Two crashes since job 1 was created (one before job 2 was), then a clean run.
  const events: JournalEvent[] = [
    start(),
    created(1, [[0, 3, 1]]),
    started(1, 0, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 0 },
    started(1, 1, 0, 1),
    start(), // The first run crashed.
    created(2, [[0, 1, 1]]),
    started(1, 1, 1, 2),
    start(), // The second crashed too.
    started(2, 0, 0, 3),
    stop,
  ];
  let views;
  ({ state, instances, views } = restore(events));
  assert.deepEqual(state.jobs.map((job) => job.firstInstance), [2, 1]);
  assert.deepEqual([...instances].sort(), [
    ["1:1", 2], // Journaled as instance 1: the next one, 2, is past both crashes too.
    ["1:2", 2], // Never journaled as started: each crashed run may have started it once.
    ["1:3", 2],
    ["2:0", 1], // Journaled as started in the clean run: its next instance.
    ["2:1", 1], // Created after the first crash: only the second counts.
  ]);
  // A task that had ended keeps its instance id.
  assert.equal(views(1).instanceId(0), 0);
  // And when the run after them crashes too, once more.
  ({ state } = restore(events.slice(0, -1)));
  assert.deepEqual(state.jobs.map((job) => job.firstInstance), [3, 2]);
});

Deno.test("JournalRestorer skips the tasks of jobs a first pass found completed, and still counts their ids", () => {
  const restorer = new JournalRestorer(new Set([1]));
  const events: JournalEvent[] = [
    { type: "server-start", serverUid: "u" },
    created(1, [[0, 2, 1]]),
    started(1, 0, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 0 },
    created(2, [[0, 0, 1]]),
    { type: "job-completed", jobId: 1 },
  ];
  events.forEach((event, index) => restorer.apply(index, event));
  const state = restorer.finish();
  assert.deepEqual(state.jobs.map((job) => job.jobId), [2]);
  assert.equal(state.nextJobId, 3);
});

Deno.test("a job-cancel alone cancels every active task on restore, not tasks attached later", () => {
  // The per-task `tasks-canceled` record after a cancel is not flushed with it (and for tens of
  // millions of tasks would not fit a record): a crash right after the cancel leaves only this.
  const state = replay([
    { type: "server-start", serverUid: "uid" },
    { type: "worker-connected", workerId: 1, configuration: testWorkerConfiguration(2) },
    { type: "job-open", jobId: 1, name: "open", maxFails: null },
    created(1, [[0, 99_999_999, 1]], true),
    started(1, 0, 0, 1),
    { type: "task-finished", jobId: 1, taskId: 0 },
    started(1, 1, 0, 1),
    { type: "job-cancel", jobId: 1, reason: null },
    created(1, [[100_000_000, 100_000_001, 1]], true),
  ]);
  const core = new SchedulerCore();
  for (const job of state.jobs) core.handle(job, 5_000);
  const job = core.jobs.get(1)!;
  assert.deepEqual(job.counts, {
    waiting: 2,
    running: 0,
    finished: 1,
    failed: 0,
    canceled: 99_999_999,
    aborted: 0,
  });
});

// Issue 15: an assignment to a worker lost before the task reported its start uses up the
// instance id (the task may have started there); the server journals it as `tasks-taken-back`.
Deno.test("SchedulerCore journals the instance ids a lost worker takes back from tasks it had not started", () => {
  const state = replay([{ type: "server-start", serverUid: "u" }, created(1, [[0, 3, 1]]), {
    type: "server-stop",
  }]);
  const core = new SchedulerCore();
  core.recordHistory = true;
  core.handle(state.jobs[0], 1_000);
  core.handle(
    { type: "worker-joined", workerId: 1, configuration: testWorkerConfiguration(4) },
    1_001,
  );
  const assigned = core.handle({ type: "schedule" }, 1_002).flatMap((command) =>
    command.type === "assign-tasks" ? command.tasks : []
  );
  assert.equal(assigned.length, 4);
  core.handle(
    { type: "task-started", workerId: 1, task: { jobId: 1, taskId: 0, instanceId: 0 } },
    1_003,
  );
  core.takeHistory();
  core.handle({ type: "worker-connection-closed", workerId: 1 }, 1_004);
  const history = core.takeHistory();
  assert.deepEqual(history.map((event) => event.type), ["worker-lost", "tasks-taken-back"]);
  const takenBack = history[1] as Extract<JournalEvent, { type: "tasks-taken-back" }>;
  assert.deepEqual(
    takenBack.tasks.sort((a, b) => a[1] - b[1]),
    [[1, 1, 0], [1, 2, 0], [1, 3, 0]],
    "the running task is journaled by its start; the others by this",
  );
  // Lost again before any started: the next instance is taken back.
  core.handle(
    { type: "worker-joined", workerId: 2, configuration: testWorkerConfiguration(4) },
    1_005,
  );
  core.handle({ type: "schedule" }, 1_006);
  core.takeHistory();
  core.handle({ type: "worker-connection-closed", workerId: 2 }, 1_007);
  const again = core.takeHistory()[1] as Extract<JournalEvent, { type: "tasks-taken-back" }>;
  assert.deepEqual(again.tasks.sort((a, b) => a[1] - b[1]), [
    [1, 0, 1],
    [1, 1, 1],
    [1, 2, 1],
    [1, 3, 1],
  ]);
  // Without a journal nothing is recorded.
  const quiet = new SchedulerCore();
  quiet.handle(state.jobs[0], 1_000);
  quiet.handle(
    { type: "worker-joined", workerId: 1, configuration: testWorkerConfiguration(4) },
    1_001,
  );
  quiet.handle({ type: "schedule" }, 1_002);
  quiet.handle({ type: "worker-connection-closed", workerId: 1 }, 1_003);
  assert.deepEqual(quiet.takeHistory(), []);
});

Deno.test("JournalRestorer: instance ids taken back from a lost worker are never handed out again", () => {
  const instances = (events: JournalEvent[]) => {
    const state = replay(events);
    const core = new SchedulerCore();
    for (const job of state.jobs) core.handle(job, 50_000);
    core.handle(
      { type: "worker-joined", workerId: 9, configuration: testWorkerConfiguration(100) },
      50_001,
    );
    const assigned = core.handle({ type: "schedule" }, 50_002).flatMap((command) =>
      command.type === "assign-tasks" ? command.tasks : []
    );
    return Object.fromEntries(
      assigned.map((task) => [`${task.jobId}:${task.taskId}`, task.instanceId]),
    );
  };
  const start: JournalEvent = { type: "server-start", serverUid: "u" };
  const stop: JournalEvent = { type: "server-stop" };
  const lost = (workerId: number): JournalEvent => ({
    type: "worker-lost",
    workerId,
    reason: "connection-lost",
  });
  const takenBack = (...tasks: Array<[number, number, number]>): JournalEvent => ({
    type: "tasks-taken-back",
    tasks,
  });
  const events: JournalEvent[] = [
    start,
    created(1, [[0, 4, 1]]),
    started(1, 0, 0, 1),
    lost(1),
    takenBack([1, 1, 0], [1, 2, 0]),
    // Task 1 again on worker 2, lost again before it started; task 2 started there.
    started(1, 2, 1, 2),
    lost(2),
    takenBack([1, 1, 1]),
    // A taken-back id below the last journaled start never lowers it (not expected, but safe).
    takenBack([1, 2, 0]),
    // Unknown jobs and tasks that ended are left alone.
    takenBack([7, 0, 5]),
    { type: "task-finished", jobId: 1, taskId: 3 },
    takenBack([1, 3, 4]),
  ];
  assert.deepEqual(instances([...events, stop]), {
    "1:0": 1, // Journaled start 0, lost.
    "1:1": 2, // Taken back as 0, then as 1: never started as far as the journal knows.
    "1:2": 2, // Taken back as 0, then started as 1 and lost.
    "1:4": 0, // Untouched.
  });
  // The run crashed after that: each may have been assigned once more and started unjournaled.
  assert.deepEqual(instances(events), { "1:0": 2, "1:1": 3, "1:2": 3, "1:4": 1 });
  // A prune dropped the loss of the worker of the last start (the task looks running): taken back
  // all the same, and it waits.
  assert.deepEqual(
    instances([start, created(1, [[0, 0, 1]]), started(1, 0, 0, 1), takenBack([1, 0, 1]), stop]),
    { "1:0": 2 },
  );
});
