import assert from "node:assert/strict";
import type { SubmitDescription, TaskTemplate } from "../job_types.ts";
import type { WorkerConfiguration } from "../protocol.ts";
import {
  exportJournalEvent,
  exportJournalLine,
  rawDuration,
  workerConfigurationJson,
} from "./export_events.ts";
import type { JournalEvent } from "./journal_events.ts";
import {
  testTaskTemplate,
  testWorkerConfiguration,
} from "../../server/scheduler/_test_fixtures.ts";

// 2025-03-01T10:11:12.345Z
const TIME_MS = Date.UTC(2025, 2, 1, 10, 11, 12, 345);

function exported(event: JournalEvent): Record<string, unknown> {
  return exportJournalEvent({ timeMs: TIME_MS, event }).event;
}

function workerConfig(overrides: Partial<WorkerConfiguration> = {}): WorkerConfiguration {
  return testWorkerConfiguration(4, {
    hostname: "node1",
    listenAddress: "node1:1234",
    workDir: "/tmp/work",
    retractCheckIntervalMs: 1_500,
    pid: 4321,
    ...overrides,
  });
}

function template(overrides: Partial<TaskTemplate> = {}): TaskTemplate {
  return testTaskTemplate("/home/user", {
    args: ["sleep", "1"],
    cwd: "%{SUBMIT_DIR}",
    ...overrides,
  });
}

function submit(
  overrides: Partial<TaskTemplate> = {},
  ids: SubmitDescription["ids"] = [[0, 0, 1]],
) {
  return { template: template(overrides), ids, entries: null };
}

Deno.test("exportJournalEvent writes the time as RFC 3339 UTC with milliseconds", () => {
  const line = exportJournalEvent({
    timeMs: Date.UTC(2025, 0, 2, 3, 4, 5),
    event: { type: "server-stop" },
  });
  assert.deepEqual(line, { time: "2025-01-02T03:04:05.000Z", event: { type: "server-stop" } });
});

Deno.test("exportJournalLine is one compact JSON object with time first", () => {
  const line = exportJournalLine({
    timeMs: TIME_MS,
    event: { type: "server-start", serverUid: "abc" },
  });
  assert.equal(
    line,
    '{"time":"2025-03-01T10:11:12.345Z","event":{"type":"server-start","server_uid":"abc"}}',
  );
});

Deno.test("exportJournalEvent names job events with the spec's keys", () => {
  assert.deepEqual(exported({ type: "job-open", jobId: 3, name: "open", maxFails: null }), {
    type: "job-open",
    job_id: 3,
    name: "open",
    max_fails: null,
  });
  assert.deepEqual(exported({ type: "job-close", jobId: 3 }), { type: "job-close", job_id: 3 });
  assert.deepEqual(exported({ type: "job-cancel", jobId: 3, reason: "no longer needed" }), {
    type: "job-cancel",
    job_id: 3,
    reason: "no longer needed",
  });
  assert.deepEqual(exported({ type: "job-completed", jobId: 3 }), {
    type: "job-completed",
    job: 3,
  });
});

Deno.test("exportJournalEvent names task end events with the spec's keys", () => {
  assert.deepEqual(exported({ type: "task-finished", jobId: 1, taskId: 7 }), {
    type: "task-finished",
    job: 1,
    task: 7,
  });
  assert.deepEqual(exported({ type: "task-failed", jobId: 1, taskId: 7, error: "boom" }), {
    type: "task-failed",
    job: 1,
    task: 7,
    error: "boom",
  });
});

Deno.test("exportJournalEvent exports cancelled and aborted batches as task-canceled/task-aborted", () => {
  const tasks: [number, number][] = [[1, 0], [1, 2]];
  const expected = [{ job_id: 1, job_task_id: 0 }, { job_id: 1, job_task_id: 2 }];
  assert.deepEqual(exported({ type: "tasks-canceled", tasks }), {
    type: "task-canceled",
    tasks: expected,
  });
  assert.deepEqual(exported({ type: "tasks-aborted", tasks }), {
    type: "task-aborted",
    tasks: expected,
  });
});

Deno.test("exportJournalEvent gives a single-node task start one worker and no variant 0", () => {
  const event = exported({
    type: "task-started",
    jobId: 2,
    taskId: 5,
    instanceId: 1,
    workerIds: [4],
    variant: 0,
  });
  assert.deepEqual(event, { type: "task-started", job: 2, task: 5, instance: 1, worker: 4 });
  assert.deepEqual(Object.keys(event), ["type", "job", "task", "instance", "worker"]);
});

Deno.test("exportJournalEvent gives a multi-node task start its workers and a non-zero variant", () => {
  const event = exported({
    type: "task-started",
    jobId: 2,
    taskId: 5,
    instanceId: 0,
    workerIds: [4, 2, 3],
    variant: 1,
  });
  assert.deepEqual(event, {
    type: "task-started",
    job: 2,
    task: 5,
    instance: 0,
    workers: [4, 2, 3],
    variant: 1,
  });
});

Deno.test("exportJournalEvent spells worker-lost reasons as HyperQueue does", () => {
  const reasons = {
    "stopped": "Stopped",
    "connection-lost": "ConnectionLost",
    "heartbeat-lost": "HeartbeatLost",
    "idle-timeout": "IdleTimeout",
    "time-limit-reached": "TimeLimitReached",
  } as const;
  for (const [reason, spelled] of Object.entries(reasons)) {
    assert.deepEqual(
      exported({ type: "worker-lost", workerId: 9, reason: reason as keyof typeof reasons }),
      { type: "worker-lost", id: 9, reason: spelled },
    );
  }
});

Deno.test("exportJournalEvent writes the raw worker configuration of a connected worker", () => {
  const event = exported({ type: "worker-connected", workerId: 1, configuration: workerConfig() });
  assert.deepEqual(event, {
    type: "worker-connected",
    id: 1,
    configuration: {
      resources: {
        resources: [{ name: "cpus", kind: { Range: { start: 0, end: 3 } } }],
        coupling: { weights: [] },
      },
      listen_address: "node1:1234",
      hostname: "node1",
      group: "default",
      work_dir: "/tmp/work",
      heartbeat_interval: { secs: 8, nanos: 0 },
      overview_configuration: { send_interval: null, gpu_families: [] },
      idle_timeout: null,
      time_limit: null,
      retract_check_interval: { secs: 1, nanos: 500_000_000 },
      on_server_lost: "Stop",
      min_utilization: 0,
      extra: { ProcessPid: "4321" },
    },
  });
});

Deno.test("workerConfigurationJson encodes every resource kind, coupling and the manager", () => {
  const json = workerConfigurationJson(workerConfig({
    resources: {
      resources: [
        { name: "cpus", kind: "groups", groups: [["0", "1"], ["2", "3"]] },
        { name: "gpus/nvidia", kind: "list", values: ["0", "1"] },
        { name: "mem", kind: "sum", size: 1024 * 10_000 },
      ],
      coupling: {
        weights: [{
          resource1_idx: 0,
          group1_idx: 0,
          resource2_idx: 1,
          group2_idx: 0,
          weight: 256,
        }],
      },
    },
    idleTimeoutMs: 300_000,
    timeLimitMs: 3_600_250,
    overviewIntervalMs: 2_000,
    minUtilization: 0.5,
    onServerLost: "finish-running",
    manager: { manager: "PBS", allocationId: "123.pbs" },
  }));
  assert.deepEqual(json.resources, {
    resources: [
      { name: "cpus", kind: { Groups: { groups: [["0", "1"], ["2", "3"]] } } },
      { name: "gpus/nvidia", kind: { List: { values: ["0", "1"] } } },
      { name: "mem", kind: { Sum: { size: 10_240_000 } } },
    ],
    coupling: {
      weights: [{ resource1_idx: 0, group1_idx: 0, resource2_idx: 1, group2_idx: 0, weight: 256 }],
    },
  });
  assert.deepEqual(json.idle_timeout, { secs: 300, nanos: 0 });
  assert.deepEqual(json.time_limit, { secs: 3600, nanos: 250_000_000 });
  assert.deepEqual(json.overview_configuration, {
    send_interval: { secs: 2, nanos: 0 },
    gpu_families: ["Nvidia"],
  });
  assert.equal(json.on_server_lost, "FinishRunning");
  assert.equal(json.min_utilization, 0.5);
  const extra = json.extra as Record<string, string>;
  assert.equal(extra.ProcessPid, "4321");
  assert.deepEqual(JSON.parse(extra.JobManager), {
    manager: "Pbs",
    allocation_id: "123.pbs",
    time_limit: null,
    max_memory_mb: null,
  });
});

Deno.test("exportJournalEvent writes a new job's submit with ids, requests and limits", () => {
  const event = exported({
    type: "job-created",
    jobId: 4,
    name: "array",
    maxFails: 2,
    attached: false,
    submit: submit({
      resources: [
        { name: "cpus", amount: 20_000, policy: "compact!" },
        { name: "gpus", amount: 0, policy: "all" },
        { name: "mem", amount: 5_000, policy: "scatter" },
      ],
      timeLimitMs: 90_000,
      timeRequestMs: 60_500,
      priority: -3,
      crashLimit: "never-restart",
    }, [[1, 10, 1], [20, 30, 5]]),
  });
  assert.deepEqual(event, {
    type: "job-created",
    job: 4,
    closed_job: true,
    job_desc: { name: "array", max_fails: 2 },
    submit_desc: {
      submit_dir: "/home/user",
      stream_path: null,
      task_desc: {
        ids: { ranges: [{ start: 1, count: 10, step: 1 }, { start: 20, count: 3, step: 5 }] },
        resources: {
          variants: [{
            n_nodes: 0,
            resources: [
              { resource: "cpus", policy: { ForceCompact: 20_000 } },
              { resource: "gpus", policy: "All" },
              { resource: "mem", policy: { Scatter: 5_000 } },
            ],
            min_time: { secs: 60, nanos: 500_000_000 },
            weight: 10_000,
          }],
        },
        time_limit: { secs: 90, nanos: 0 },
        priority: -3,
        crash_limit: "NeverRestart",
      },
    },
  });
});

Deno.test("exportJournalEvent marks a submit into an open job as not a closed job", () => {
  const event = exported({
    type: "job-created",
    jobId: 4,
    name: "open",
    maxFails: null,
    attached: true,
    submit: submit({ crashLimit: 5 }),
  });
  assert.equal(event.closed_job, false);
  const taskDesc = (event.submit_desc as { task_desc: Record<string, unknown> }).task_desc;
  assert.deepEqual(taskDesc.crash_limit, { MaxCrashes: 5 });
  assert.equal(taskDesc.time_limit, null);
  assert.deepEqual(taskDesc.resources, {
    variants: [{
      n_nodes: 0,
      resources: [{ resource: "cpus", policy: { Compact: 10_000 } }],
      min_time: { secs: 0, nanos: 0 },
      weight: 10_000,
    }],
  });
});

Deno.test("exportJournalEvent writes every resource variant and multi-node requests", () => {
  const variants = exported({
    type: "job-created",
    jobId: 1,
    name: "v",
    maxFails: null,
    attached: false,
    submit: submit({
      crashLimit: "unlimited",
      variants: [
        {
          resources: [{ name: "gpus", amount: 10_000, policy: "tight" }],
          timeRequestMs: 0,
          weight: 2,
        },
        {
          resources: [{ name: "cpus", amount: 40_000, policy: "tight!" }],
          timeRequestMs: 0,
          weight: 0.5,
        },
      ],
    }),
  });
  const taskDesc = (variants.submit_desc as { task_desc: Record<string, unknown> }).task_desc;
  assert.equal(taskDesc.crash_limit, "Unlimited");
  assert.deepEqual(
    (taskDesc.resources as { variants: unknown[] }).variants,
    [
      {
        n_nodes: 0,
        resources: [{ resource: "gpus", policy: { Tight: 10_000 } }],
        min_time: { secs: 0, nanos: 0 },
        weight: 20_000,
      },
      {
        n_nodes: 0,
        resources: [{ resource: "cpus", policy: { ForceTight: 40_000 } }],
        min_time: { secs: 0, nanos: 0 },
        weight: 5_000,
      },
    ],
  );

  const multiNode = exported({
    type: "job-created",
    jobId: 2,
    name: "mpi",
    maxFails: null,
    attached: false,
    submit: submit({ nodes: 3, resources: [] }),
  });
  const multiDesc = (multiNode.submit_desc as { task_desc: Record<string, unknown> }).task_desc;
  assert.deepEqual((multiDesc.resources as { variants: unknown[] }).variants, [
    { n_nodes: 3, resources: [], min_time: { secs: 0, nanos: 0 }, weight: 10_000 },
  ]);
});

Deno.test("rawDuration splits milliseconds into seconds and nanoseconds", () => {
  assert.deepEqual(rawDuration(0), { secs: 0, nanos: 0 });
  assert.deepEqual(rawDuration(1), { secs: 0, nanos: 1_000_000 });
  assert.deepEqual(rawDuration(61_999), { secs: 61, nanos: 999_000_000 });
});
