import type { AllocationView, QueueView } from "../autoalloc.ts";
import { formatErrorChain } from "../errors.ts";
import type { JobDetailView, JobSummaryView, SubmitDescription, TaskView } from "../job_types.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import { jobInfoJson, SUMMARY_STATES, taskDescriptionJson, taskJson } from "./job_words.ts";
import type { ResourceDescriptor } from "../resources/resource_descriptor.ts";
import type { TaskExplanation } from "../task_explanation.ts";
import { type ExplainedTaskId, explanationJson } from "./explanation_words.ts";
import { formatJsonTimestamp } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import type { ExportedTaskOutput, OutputLogSummary } from "../stream_log.ts";
import { JsonFloat, JsonLazyArray, jsonSeconds, writeSortedJson } from "./json.ts";
import { writeStdout } from "./stdout.ts";
import { allocInfoJson, allocListJson } from "./alloc_words.ts";
import { taskColumnsOf } from "../task_columns.ts";
import { taskColumnsJson } from "./task_json_text.ts";

/** One pretty-printed JSON value per invocation, keys sorted (spec §8.1). */
export class JsonFormatter implements Formatter {
  #printed = false;

  serverInfo(info: ServerInfo, serverDir: string | null): void {
    this.#print({
      client_host: info.clientHost,
      client_port: info.clientPort,
      journal_path: info.journalPath,
      pid: info.pid,
      server_dir: serverDir,
      server_uid: info.serverUid,
      start_date: formatJsonTimestamp(info.startDateMs),
      version: info.version,
      worker_host: info.workerHost,
      worker_port: info.workerPort,
    });
  }

  workerList(workers: WorkerView[]): void {
    this.#print(workers.map((view) => workerJson(view, false)));
  }

  workerInfo(workers: WorkerView[]): void {
    this.#print(workers.map((view) => workerJson(view, true)));
  }

  hwdetect(resources: ResourceDescriptor): void {
    this.#print(resources);
  }

  submitted(jobId: number): void {
    this.#print({ id: jobId });
  }

  jobOpened(jobId: number): void {
    this.#print({ id: jobId });
  }

  jobList(jobs: JobSummaryView[]): void {
    this.#print(jobs.map(jobInfoJson));
  }

  jobInfo(jobs: JobDetailView[]): void {
    this.#print(jobs.map((job) => ({
      finished_at: job.completedMs === null ? null : formatJsonTimestamp(job.completedMs),
      info: jobInfoJson(job),
      max_fails: job.maxFails,
      started_at: formatJsonTimestamp(job.submittedMs),
      submits: userSubmits(job.submits).map((parts) =>
        // A job file's submit lists one description per task (jobs spec §9.2).
        parts[0].deps
          ? { graph: graphDescriptions(parts) }
          : { array: taskDescriptionJson(parts[0].template) }
      ),
      tasks: tasksJson(job),
    })));
  }

  taskList(jobs: Array<{ job: JobDetailView; tasks: TaskView[] }>): void {
    const out: Record<string, unknown> = {};
    for (const { job, tasks } of jobs) {
      out[String(job.id)] = tasks.map((task) => taskJson(job, task));
    }
    this.#print(out);
  }

  jobSummary(counts: Record<string, number>): void {
    const out: Record<string, number> = {};
    for (const state of SUMMARY_STATES) out[capitalize(state)] = counts[state] ?? 0;
    if (counts.opened) out.Opened = counts.opened;
    this.#print(out);
  }

  taskIds(jobs: Array<{ jobId: number; ids: number[] }>): void {
    this.#print(Object.fromEntries(jobs.map(({ jobId, ids }) => [String(jobId), ids])));
  }

  taskInfo(job: JobDetailView, tasks: TaskView[]): void {
    this.#print(tasks.map((task) => taskJson(job, task)));
  }

  taskExplain(task: ExplainedTaskId, explanation: TaskExplanation): void {
    this.#print(explanationJson(task, explanation));
  }

  allocList(queues: QueueView[]): void {
    this.#print(allocListJson(queues));
  }

  allocInfo(allocations: AllocationView[]): void {
    this.#print(allocInfoJson(allocations));
  }

  outputLogSummary(summary: OutputLogSummary): void {
    this.#print({
      filename: summary.path,
      summary: {
        n_files: summary.files,
        n_jobs: summary.jobs,
        n_tasks: summary.tasks,
        n_streams: summary.streams,
        n_opened: summary.opened,
        n_superseded: summary.superseded,
        stdout_size: summary.stdoutBytes,
        stderr_size: summary.stderrBytes,
        superseded_stdout_size: summary.supersededStdoutBytes,
        superseded_stderr_size: summary.supersededStderrBytes,
      },
    });
  }

  outputLogExport(tasks: ExportedTaskOutput[]): void {
    this.#print(tasks);
  }

  error(error: unknown): void {
    this.#print({ error: formatErrorChain(error) });
  }

  finish(): void {
    if (!this.#printed) this.#print({});
  }

  #print(value: unknown): void {
    this.#printed = true;
    writeSortedJson(value, writeStdout);
    writeStdout("\n");
  }
}

/** The worker object of spec §4.6. */
export function workerJson(view: WorkerView, withRuntimeInfo: boolean): unknown {
  const config = view.configuration;
  const runtime = view.runtimeInfo;
  return {
    allocation: config.manager === null
      ? null
      : { id: config.manager.allocationId, manager: config.manager.manager },
    configuration: {
      group: config.group,
      heartbeat_interval: jsonSeconds(config.heartbeatIntervalMs),
      hostname: config.hostname,
      idle_timeout: jsonSeconds(config.idleTimeoutMs),
      listen_address: config.listenAddress,
      min_utilization: new JsonFloat(config.minUtilization),
      on_server_lost: config.onServerLost,
      resources: config.resources,
      time_limit: jsonSeconds(config.timeLimitMs),
      work_dir: config.workDir,
    },
    ended: view.ended === null ? null : { at: formatJsonTimestamp(view.ended.atMs) },
    id: view.id,
    last_task_started: view.lastTaskStarted === null ? null : {
      task_id: { job_id: view.lastTaskStarted.jobId, job_task_id: view.lastTaskStarted.taskId },
      time: formatJsonTimestamp(view.lastTaskStarted.timeMs),
    },
    runtime_info: withRuntimeInfo && runtime !== null
      ? {
        SingleNodeTasks: {
          assigned_tasks: runtime.assignedTasks,
          is_reserved: runtime.isReserved,
          running_tasks: runtime.runningTasks,
        },
      }
      : null,
    started: formatJsonTimestamp(view.startedMs),
  };
}

/** A job's tasks for `job info`: from the wire's columns when it came with them. */
function tasksJson(job: JobDetailView): unknown {
  const columns = taskColumnsOf(job);
  if (columns) return taskColumnsJson(job, columns);
  return new JsonLazyArray(job.tasks.length, (i) => taskJson(job, job.tasks[i]));
}

function capitalize(word: string): string {
  return word[0].toUpperCase() + word.slice(1);
}

/** The submits as users made them: a graph sent as several runs (`continuesGraph`) is one. */
function userSubmits(submits: SubmitDescription[]): SubmitDescription[][] {
  const groups: SubmitDescription[][] = [];
  for (const submit of submits) {
    const last = groups[groups.length - 1];
    if (submit.continuesGraph && submit.deps && last?.[0].deps) last.push(submit);
    else groups.push([submit]);
  }
  return groups;
}

/** One description per task of a graph submit, in the order its tasks were sent. */
function graphDescriptions(parts: SubmitDescription[]): JsonLazyArray {
  const descriptions = parts.map((part) => taskDescriptionJson(part.template));
  const ends: number[] = [];
  let total = 0;
  for (const part of parts) ends.push(total += part.deps?.length ?? 0);
  return new JsonLazyArray(total, (index) => {
    let low = 0;
    let high = ends.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (ends[middle] > index) high = middle;
      else low = middle + 1;
    }
    return descriptions[low];
  });
}
