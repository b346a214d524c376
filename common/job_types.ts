/**
 * The shapes of jobs and tasks shared by client, server and worker: what a submit carries, and
 * what clients are shown. Plain data (they travel in msgpack messages).
 */
import type { IdRange } from "./id_ranges.ts";
import type { ResourceRequestEntry } from "./resources/resource_request.ts";

export type CrashLimit = number | "never-restart" | "unlimited";
export type PinMode = "taskset" | "omp";

export type TaskState = "waiting" | "running" | "finished" | "failed" | "canceled" | "aborted";
export const TASK_STATES: readonly TaskState[] = [
  "waiting",
  "running",
  "finished",
  "failed",
  "canceled",
  "aborted",
];

export type JobState =
  | "waiting"
  | "running"
  | "finished"
  | "failed"
  | "canceled"
  | "aborted"
  | "opened";

/** How every task of one submit runs; stored once per submit and shared by its tasks. */
export interface TaskTemplate {
  /** The command, verbatim; no shell. */
  args: string[];
  /** User `--env` values only. */
  env: Record<string, string>;
  /** Partially resolved (spec §3): `%{TASK_ID}`/`%{INSTANCE_ID}` remain. */
  cwd: string;
  /** Partially resolved path, or null for `none`. */
  stdout: string | null;
  stderr: string | null;
  /** Remove the stdout/stderr file when the task finishes successfully. */
  removeStdoutIfFinished: boolean;
  removeStderrIfFinished: boolean;
  /** Bytes given to every task instance on stdin (`--stdin`), else /dev/null. */
  stdin: Uint8Array | null;
  /** What each task needs of its worker (resources spec §3), all entries together. */
  resources: ResourceRequestEntry[];
  /** Scheduler weight (`--weight`, resources spec §3.7). */
  weight: number;
  /** Whole workers per task (`--nodes`, jobs spec §5.6); 0 for a single-node task. */
  nodes: number;
  /**
   * Alternative requests (resources spec §3.6, job files; 2–32). When set, they replace
   * `resources`, `timeRequestMs` and `weight`; read them through `requestVariants`.
   */
  variants?: RequestVariant[];
  timeLimitMs: number | null;
  timeRequestMs: number;
  priority: number;
  crashLimit: CrashLimit;
  pin: PinMode | null;
  taskDir: boolean;
  /** The client's working directory at submit. */
  submitDir: string;
  /**
   * Output streaming (`--stream`, job file `stream`; spec §10.1); absent or null = none. A
   * streamed channel ignores its `stdout`/`stderr` path.
   */
  stream?: StreamTarget | null;
}

/** Where a submit's tasks stream their output, and which channels go there (spec §10.1). */
export interface StreamTarget {
  /** The directory; the server resolves its placeholders and makes it absolute at submit. */
  dir: string;
  /** Channels without an explicit `--stdout`/`--stderr` (path or `none`) are streamed. */
  stdout: boolean;
  stderr: boolean;
}

/** One way a task can run: what it needs, how long a worker must still live, its weight. */
export interface RequestVariant {
  resources: ResourceRequestEntry[];
  timeRequestMs: number;
  weight: number;
}

/** A template's requests: its variants, or its single request as one variant. */
export function requestVariants(template: TaskTemplate): RequestVariant[] {
  if (template.variants && template.variants.length > 0) return template.variants;
  return [{
    resources: template.resources,
    timeRequestMs: template.timeRequestMs,
    weight: template.weight,
  }];
}

/** One `hq submit` into a job: its template, its task ids and optional entries. */
export interface SubmitDescription {
  template: TaskTemplate;
  ids: IdRange[];
  /**
   * `HQ_ENTRY` of each task, by index into `ids` (`--each-line`, `--from-json`); bytes for a line
   * that is not UTF-8, passed to the task as it was in the file.
   */
  entries: Array<string | Uint8Array> | null;
  /**
   * Present on graph submits (job files, the API; resources spec §10): by index into `ids`, the
   * ids of the tasks of the same job each task waits for (empty for none). Absent for `hq submit`.
   */
  deps?: number[][];
  /**
   * Set by the server on every submit but the first of one graph request: a job file whose tasks
   * differ in their settings is sent as several submits (one per run of tasks alike), scheduled
   * as such, but shown as the one submit it is (`job info` JSON, `journal export`), as in
   * HyperQueue.
   */
  continuesGraph?: boolean;
}

export type TaskCounts = Record<TaskState, number>;

/** A job as `job list` shows it (spec §9.1). */
export interface JobSummaryView {
  id: number;
  name: string;
  isOpen: boolean;
  cancelReason: string | null;
  taskCount: number;
  counts: TaskCounts;
  state: JobState;
}

/** A task as `task list`/`job info` show it (spec §9.3). */
export interface TaskView {
  id: number;
  state: TaskState;
  instanceId: number;
  workerId: number | null;
  /** A multi-node task's workers, root first; null for a single-node task. */
  nodeIds: number[] | null;
  startedMs: number | null;
  finishedMs: number | null;
  error: string | null;
}

/** A job in detail (`job info`, spec §9.2). */
export interface JobDetailView extends JobSummaryView {
  maxFails: number | null;
  submittedMs: number;
  completedMs: number | null;
  submits: SubmitDescription[];
  tasks: TaskView[];
  /** Hostnames of the workers that ran tasks, by worker id (for the `Workers` row). */
  workerHostnames: Record<number, string>;
}

/** The derived job state of spec §6.2 (first matching rule). */
export function jobState(counts: TaskCounts, isOpen: boolean): JobState {
  if (counts.running > 0) return "running";
  if (counts.waiting > 0) return "waiting";
  if (counts.failed > 0) return "failed";
  if (counts.aborted > 0) return "aborted";
  if (counts.canceled > 0) return "canceled";
  if (isOpen) return "opened";
  return "finished";
}

export function emptyCounts(): TaskCounts {
  return { waiting: 0, running: 0, finished: 0, failed: 0, canceled: 0, aborted: 0 };
}
