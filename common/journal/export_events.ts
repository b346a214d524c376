/**
 * Journal records in the JSON of `hq journal export` (journal spec §1.6): one line per record,
 * `{"time": "<RFC 3339>", "event": {"type": "<kind>", …}}`, with HyperQueue's key spelling and its
 * raw (serde) encodings of worker configurations, task descriptions and durations. The shape is
 * declared unstable by HyperQueue, but `hq journal report` and user scripts read it.
 */
import type { QueueParams } from "../autoalloc.ts";
import type { CrashLimit, SubmitDescription } from "../job_types.ts";
import { requestVariants } from "../job_types.ts";
import type { ManagerKind, WorkerConfiguration, WorkerLostReason } from "../protocol.ts";
import { requestJson } from "../resources/mod.ts";
import type { ResourceDescriptor, ResourceDescriptorItem } from "../resources/mod.ts";
import type { JournalEvent, JournalRecord, JournalTaskRef } from "./journal_events.ts";

/** One exported line, parsed: the event's time and its payload. */
export interface ExportedJournalEvent {
  /** RFC 3339 UTC with milliseconds and `Z`, e.g. `2025-03-01T10:11:12.345Z`. */
  time: string;
  /** `type` is absent only in the two live-only events (job idle, task notify). */
  event: { type?: string; [key: string]: unknown };
}

/** A duration as serde writes Rust's `Duration`. */
export interface RawDuration {
  secs: number;
  nanos: number;
}

/** The §1.6 object of one record. Throws `RangeError` when its time is not a valid date. */
export function exportJournalEvent(record: JournalRecord): ExportedJournalEvent {
  return { time: new Date(record.timeMs).toISOString(), event: exportEvent(record.event) };
}

/** One NDJSON line of `hq journal export`, without the newline. */
export function exportJournalLine(record: JournalRecord): string {
  return JSON.stringify(exportJournalEvent(record));
}

function exportEvent(event: JournalEvent): ExportedJournalEvent["event"] {
  switch (event.type) {
    case "server-start":
      return { type: "server-start", server_uid: event.serverUid };
    case "server-stop":
      return { type: "server-stop" };
    case "worker-connected":
      return {
        type: "worker-connected",
        id: event.workerId,
        configuration: workerConfigurationJson(event.configuration),
      };
    case "worker-lost":
      return { type: "worker-lost", id: event.workerId, reason: LOST_REASONS[event.reason] };
    case "worker-overview":
      // HyperQueue's kebab-case key, and its `{state: …}` wrapper.
      return { type: "worker-overview", id: event.workerId, "hw-state": { state: event.hwState } };
    case "job-open":
      return { type: "job-open", job_id: event.jobId, name: event.name, max_fails: event.maxFails };
    case "job-created":
      return {
        type: "job-created",
        job: event.jobId,
        closed_job: !event.attached,
        job_desc: { name: event.name, max_fails: event.maxFails },
        submit_desc: submitDescriptionJson(event.submit, event.more ?? []),
      };
    case "job-close":
      return { type: "job-close", job_id: event.jobId };
    case "job-cancel":
      return { type: "job-cancel", job_id: event.jobId, reason: event.reason };
    case "job-completed":
      return { type: "job-completed", job: event.jobId };
    case "task-started": {
      const out: ExportedJournalEvent["event"] = {
        type: "task-started",
        job: event.jobId,
        task: event.taskId,
        instance: event.instanceId,
      };
      if (event.workerIds.length === 1) out.worker = event.workerIds[0];
      else out.workers = event.workerIds;
      if (event.variant > 0) out.variant = event.variant;
      return out;
    }
    case "task-finished":
      return { type: "task-finished", job: event.jobId, task: event.taskId };
    case "task-failed":
      return { type: "task-failed", job: event.jobId, task: event.taskId, error: event.error };
    case "tasks-canceled":
      return { type: "task-canceled", tasks: taskRefsJson(event.tasks) };
    case "tasks-aborted":
      return { type: "task-aborted", tasks: taskRefsJson(event.tasks) };
    case "autoalloc-queue-created":
      return {
        type: "autoalloc-queue-created",
        "queue-id": event.queueId,
        params: queueParamsJson(event.params),
      };
    case "autoalloc-queue-removed":
      return { type: "autoalloc-queue-removed", "queue-id": event.queueId };
    case "autoalloc-allocation-queued":
      return {
        type: "autoalloc-allocation-queued",
        "queue-id": event.queueId,
        "allocation-id": event.allocationId,
        "worker-count": event.workerCount,
      };
    case "autoalloc-allocation-started":
    case "autoalloc-allocation-finished":
      return {
        type: event.type,
        "queue-id": event.queueId,
        "allocation-id": event.allocationId,
      };
    // The two live-only events have no `type` in HyperQueue's export (a quirk we keep).
    case "job-idle":
      return { job_id: event.jobId };
    case "task-notify":
      return {
        task_id: { job_id: event.jobId, job_task_id: event.taskId },
        worker_id: event.workerId,
        message: [...event.message],
      };
    default: {
      // A kind this build does not know (none today): pass it through rather than lose it.
      const unknown: { type: string } = event;
      return { ...unknown };
    }
  }
}

const LOST_REASONS: Record<WorkerLostReason, string> = {
  "stopped": "Stopped",
  "connection-lost": "ConnectionLost",
  "heartbeat-lost": "HeartbeatLost",
  "idle-timeout": "IdleTimeout",
  "time-limit-reached": "TimeLimitReached",
};

const MANAGER_NAMES: Record<ManagerKind, string> = { PBS: "Pbs", Slurm: "Slurm" };

// Resource names whose pools the worker's hardware overview reports on (HyperQueue derives its
// `gpu_families` from the GPU resources the worker has).
const GPU_FAMILIES: ReadonlyArray<[resource: string, family: string]> = [
  ["gpus/nvidia", "Nvidia"],
  ["gpus/amd", "Amd"],
];

function taskRefsJson(tasks: JournalTaskRef[]): Array<{ job_id: number; job_task_id: number }> {
  return tasks.map(([jobId, taskId]) => ({ job_id: jobId, job_task_id: taskId }));
}

/** Milliseconds as a serde `Duration`. */
export function rawDuration(ms: number): RawDuration {
  const whole = Math.max(0, ms);
  const secs = Math.floor(whole / 1000);
  return { secs, nanos: Math.round((whole - secs * 1000) * 1_000_000) };
}

function optionalDuration(ms: number | null): RawDuration | null {
  return ms === null ? null : rawDuration(ms);
}

/** The worker's configuration as HyperQueue's `WorkerConfiguration` serializes. */
export function workerConfigurationJson(config: WorkerConfiguration): Record<string, unknown> {
  const extra: Record<string, string> = { ProcessPid: String(config.pid) };
  if (config.manager !== null) {
    // `time_limit` and `max_memory_mb` of the manager are not kept apart from the worker's own.
    extra.JobManager = JSON.stringify({
      manager: MANAGER_NAMES[config.manager.manager] ?? config.manager.manager,
      allocation_id: config.manager.allocationId,
      time_limit: null,
      max_memory_mb: null,
    });
  }
  const names = new Set(config.resources.resources.map((item) => item.name));
  return {
    resources: resourceDescriptorJson(config.resources),
    listen_address: config.listenAddress,
    hostname: config.hostname,
    group: config.group,
    work_dir: config.workDir,
    heartbeat_interval: rawDuration(config.heartbeatIntervalMs),
    overview_configuration: {
      // 0 and null both mean no periodic overview.
      send_interval: config.overviewIntervalMs ? rawDuration(config.overviewIntervalMs) : null,
      gpu_families: GPU_FAMILIES.filter(([name]) => names.has(name)).map(([, family]) => family),
    },
    idle_timeout: optionalDuration(config.idleTimeoutMs),
    time_limit: optionalDuration(config.timeLimitMs),
    retract_check_interval: rawDuration(config.retractCheckIntervalMs),
    on_server_lost: config.onServerLost === "finish-running" ? "FinishRunning" : "Stop",
    min_utilization: config.minUtilization,
    extra,
  };
}

/** HyperQueue's raw resource descriptor: each item's `kind` as an externally tagged enum. */
export function resourceDescriptorJson(descriptor: ResourceDescriptor): Record<string, unknown> {
  return {
    resources: descriptor.resources.map((item) => ({
      name: item.name,
      kind: resourceKindJson(item),
    })),
    coupling: { weights: descriptor.coupling.weights.map((weight) => ({ ...weight })) },
  };
}

function resourceKindJson(item: ResourceDescriptorItem): Record<string, unknown> {
  switch (item.kind) {
    case "list":
      return { List: { values: item.values } };
    case "range":
      return { Range: { start: item.start, end: item.end } };
    case "groups":
      return { Groups: { groups: item.groups } };
    case "sum":
      // Already in 1/10000 units, as HyperQueue stores sums.
      return { Sum: { size: item.size } };
  }
}

function submitDescriptionJson(
  submit: SubmitDescription,
  more: SubmitDescription[],
): Record<string, unknown> {
  const template = submit.template;
  return {
    submit_dir: template.submitDir,
    stream_path: template.stream?.dir ?? null,
    // A graph submit (job file) is exported by its size only, as HyperQueue does (spec §1.6),
    // however many runs of tasks alike it was sent as.
    task_desc: submit.deps ? { n_tasks: graphTaskCount(submit, more) } : {
      ids: {
        ranges: submit.ids.map(([start, end, step]) => ({
          start,
          count: Math.floor((end - start) / step) + 1,
          step,
        })),
      },
      resources: {
        variants: requestVariants(template).map((variant) => ({
          n_nodes: template.nodes,
          resources: variant.resources.map((entry) => ({
            resource: entry.name,
            policy: requestJson(entry),
          })),
          min_time: rawDuration(variant.timeRequestMs),
          // Fixed point, as `job info` prints it: 10000 = 1.0.
          weight: Math.round(variant.weight * 10_000),
        })),
      },
      time_limit: optionalDuration(template.timeLimitMs),
      priority: template.priority,
      crash_limit: crashLimitJson(template.crashLimit),
    },
  };
}

/** A queue's parameters as HyperQueue's `AllocationQueueParams` serializes (spec §1.6). */
export function queueParamsJson(params: QueueParams): Record<string, unknown> {
  return {
    manager: params.manager === "pbs" ? "Pbs" : "Slurm",
    max_workers_per_alloc: params.maxWorkersPerAlloc,
    backlog: params.backlog,
    timelimit: rawDuration(params.timeLimitMs),
    name: params.name,
    max_worker_count: params.maxWorkerCount,
    min_utilization: params.minUtilization,
    additional_args: params.additionalArgs,
    worker_start_cmd: params.workerStartCmd,
    worker_stop_cmd: params.workerStopCmd,
    worker_wrap_cmd: params.workerWrapCmd,
    cli_resource_descriptor: params.cliResources === null
      ? null
      : resourceDescriptorJson({ resources: params.cliResources, coupling: { weights: [] } }),
    worker_args: params.workerArgs,
    idle_timeout: rawDuration(params.idleTimeoutMs),
  };
}

function crashLimitJson(limit: CrashLimit): string | { MaxCrashes: number } {
  if (limit === "never-restart") return "NeverRestart";
  if (limit === "unlimited") return "Unlimited";
  return { MaxCrashes: limit };
}

function graphTaskCount(submit: SubmitDescription, more: SubmitDescription[]): number {
  let count = submit.deps?.length ?? 0;
  for (const part of more) count += part.deps?.length ?? 0;
  return count;
}
