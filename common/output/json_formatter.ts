import type { AllocationView, QueueView } from "../autoalloc.ts";
import { formatErrorChain } from "../errors.ts";
import type { JobDetailView, JobSummaryView, TaskView } from "../job_types.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import { jobInfoJson, SUMMARY_STATES, taskDescriptionJson, taskJson } from "./job_words.ts";
import type { ResourceDescriptor } from "../resources/resource_descriptor.ts";
import type { TaskExplanation } from "../task_explanation.ts";
import { type ExplainedTaskId, explanationJson } from "./explanation_words.ts";
import { formatJsonTimestamp } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import { JsonFloat, JsonLazyArray, jsonSeconds, writeSortedJson } from "./json.ts";
import { writeStdout } from "./stdout.ts";
import { allocInfoJson, allocListJson } from "./alloc_words.ts";

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
      submits: job.submits.map((submit) => ({ array: taskDescriptionJson(submit.template) })),
      tasks: new JsonLazyArray(job.tasks.length, (i) => taskJson(job, job.tasks[i])),
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

function capitalize(word: string): string {
  return word[0].toUpperCase() + word.slice(1);
}
