/**
 * The types of the public API (`mod.ts`), documented for users. They describe the same values as
 * the internal protocol types (client/api.ts checks that those fit these at compile time) and
 * leave out what only the server and the CLI need.
 */

/** The state of a task. */
export type TaskState = "waiting" | "running" | "finished" | "failed" | "canceled" | "aborted";

/** The state of a job, derived from its tasks (`opened`: an open job with no active task). */
export type JobState =
  | "waiting"
  | "running"
  | "finished"
  | "failed"
  | "canceled"
  | "aborted"
  | "opened";

/** How many tasks of a job are in each state. */
export type TaskCounts = Record<TaskState, number>;

/** Why a worker went offline. */
export type WorkerLostReason =
  | "stopped"
  | "idle-timeout"
  | "time-limit-reached"
  | "connection-lost"
  | "heartbeat-lost";

/** Which workers `Hq.workers` lists. */
export type WorkerFilter = "running" | "offline" | "all";

/** The running server, as `hq server info` shows it. */
export interface ServerInfo {
  /** Unique id of the server instance (kept across a journal restore). */
  serverUid: string;
  /** Where clients connect. */
  clientHost: string;
  /** Port clients connect to. */
  clientPort: number;
  /** Where workers connect. */
  workerHost: string;
  /** Port workers connect to. */
  workerPort: number;
  /** The server's version, e.g. `v0.26.2`. */
  version: string;
  /** Process id of the server. */
  pid: number;
  /** When the server started, in milliseconds since the Unix epoch. */
  startDateMs: number;
  /** The journal file, or null when the server runs without one. */
  journalPath: string | null;
}

/** One resource a worker offers (`kind` says how: `list`, `groups`, `range` or `sum`). */
export interface WorkerResource {
  /** Resource name, e.g. `cpus`, `mem`, `gpus/nvidia`. */
  name: string;
  /** `list` (of labels), `groups` (of labels), `range` (of integers) or `sum` (an amount). */
  kind: string;
}

/** What a worker told the server about itself when it connected. */
export interface WorkerConfig {
  /** Host name of the worker's machine. */
  hostname: string;
  /** Group of the worker (multi-node tasks run inside one group). */
  group: string;
  /** The worker's working directory. */
  workDir: string;
  /** Heartbeat period, in milliseconds. */
  heartbeatIntervalMs: number;
  /** The worker stops after being idle this long (null: never). */
  idleTimeoutMs: number | null;
  /** The worker stops after this long (null: no limit). */
  timeLimitMs: number | null;
  /** Period of its hardware overviews (null: none). */
  overviewIntervalMs: number | null;
  /** The resources it offers. */
  resources: { resources: WorkerResource[] };
  /** The batch allocation it runs in, if started by PBS or Slurm. */
  manager: { manager: "PBS" | "Slurm"; allocationId: string } | null;
  /** Process id of the worker. */
  pid: number;
}

/** A worker, as `hq worker list`/`hq worker info` show it. */
export interface Worker {
  /** Worker id. */
  id: number;
  /** What the worker reported when it connected. */
  configuration: WorkerConfig;
  /** When it connected, in milliseconds since the Unix epoch. */
  startedMs: number;
  /** When and why it went offline; null while it is connected. */
  ended: { atMs: number; reason: WorkerLostReason } | null;
  /** Tasks on the worker right now (null for an offline worker). */
  runtimeInfo: { assignedTasks: number; runningTasks: number } | null;
}

/** A worker's hardware overview (memory in bytes, timestamp in Unix seconds). */
export interface HwOverview {
  /** CPU usage of each core, in percent. */
  cpu_usage: { cpu_per_core_percent_usage: number[] };
  /** Total and free memory, in bytes. */
  memory_usage: { total: number; free: number };
  /** When the overview was taken, in seconds since the Unix epoch. */
  timestamp: number;
}

/** The tasks of one submit, as events carry them. */
export interface SubmitSummary {
  /** Task ids as inclusive `[start, end, step]` ranges. */
  ids: Array<[number, number, number]>;
  /** How the tasks run. */
  template: {
    /** The command and its arguments. */
    args: string[];
    /** Working directory (placeholders such as `%{TASK_ID}` unresolved). */
    cwd: string;
    /** The directory the job was submitted from. */
    submitDir: string;
  };
}

/** An allocation queue's parameters (`hq alloc add`). */
export interface AllocQueueParams {
  /** `pbs` or `slurm`. */
  manager: string;
  /** The queue's `--name`, if any. */
  name: string | null;
  /** Walltime of each allocation, in milliseconds. */
  timeLimitMs: number;
  /** Allocations queued at once. */
  backlog: number;
  /** Workers (nodes) per allocation. */
  maxWorkersPerAlloc: number;
  /** Workers of queued and running allocations together (null: unlimited). */
  maxWorkerCount: number | null;
}

/** An allocation queue, as `hq alloc list` shows it. */
export interface AllocQueue {
  /** Queue id. */
  id: number;
  /** `active` or `paused`. */
  state: "active" | "paused";
  /** Its parameters. */
  params: AllocQueueParams;
}

/** A task and job of the cancel and abort events: `[job id, task id]`. */
export type TaskRef = [jobId: number, taskId: number];

/**
 * An event of the server (journal spec §1.2). `job-idle` and `task-notify` are live only; the
 * others are also in the journal.
 */
export type HqEventBody =
  /** The server started (also after a restore). */
  | { type: "server-start"; serverUid: string }
  /** The server stopped. */
  | { type: "server-stop" }
  /** A worker connected. */
  | { type: "worker-connected"; workerId: number; configuration: WorkerConfig }
  /** A worker went offline. */
  | { type: "worker-lost"; workerId: number; reason: WorkerLostReason }
  /** A worker's hardware overview (workers with `--overview-interval`). */
  | { type: "worker-overview"; workerId: number; hwState: HwOverview }
  /** `hq job open`. */
  | { type: "job-open"; jobId: number; name: string; maxFails: number | null }
  /** A submit: a new job (`attached` false) or tasks added to an open job. */
  | {
    type: "job-created";
    jobId: number;
    name: string;
    maxFails: number | null;
    attached: boolean;
    submit: SubmitSummary;
    /**
     * The rest of a job file's (or `submitJob`'s) tasks: sent as one submit per run of tasks
     * with the same settings, they are one submit with `submit`.
     */
    more?: SubmitSummary[];
  }
  /** An open job was closed. */
  | { type: "job-close"; jobId: number }
  /** A user canceled a job. */
  | { type: "job-cancel"; jobId: number; reason: string | null }
  /** A closed job has no waiting or running task left. */
  | { type: "job-completed"; jobId: number }
  /** A task started on a worker (several for a multi-node task, root first). */
  | {
    type: "task-started";
    jobId: number;
    taskId: number;
    instanceId: number;
    workerIds: number[];
    variant: number;
  }
  /** A task finished successfully. */
  | { type: "task-finished"; jobId: number; taskId: number }
  /** A task failed; `error` says why. */
  | { type: "task-failed"; jobId: number; taskId: number; error: string }
  /** Tasks canceled by a user. */
  | { type: "tasks-canceled"; tasks: TaskRef[] }
  /** Tasks aborted by the system (`--max-fails` exceeded). */
  | { type: "tasks-aborted"; tasks: TaskRef[] }
  /** `hq alloc add`. */
  | { type: "autoalloc-queue-created"; queueId: number; params: AllocQueueParams }
  /** `hq alloc remove`. */
  | { type: "autoalloc-queue-removed"; queueId: number }
  /** An allocation was submitted to PBS or Slurm. */
  | {
    type: "autoalloc-allocation-queued";
    queueId: number;
    allocationId: string;
    workerCount: number;
  }
  /** An allocation started running. */
  | { type: "autoalloc-allocation-started"; queueId: number; allocationId: string }
  /** An allocation ended. */
  | { type: "autoalloc-allocation-finished"; queueId: number; allocationId: string }
  /** Live only: an open job has no waiting or running task. */
  | { type: "job-idle"; jobId: number }
  /** Live only: a task's `hq task notify` message. */
  | { type: "task-notify"; jobId: number; taskId: number; workerId: number; message: Uint8Array };

/** What a job cancel, close or forget did to one job. */
export interface JobActionResult {
  /** The job. */
  jobId: number;
  /**
   * `canceled`, `closed`, `forgotten`, `ignored` (not in a state the action applies to),
   * `not-found`, `already-finished` or `already-closed`.
   */
  outcome: string;
}

/** Where a waiting task could run (`hq task explain`). */
export interface TaskExplanation {
  /** Dependencies of the task. */
  nTaskDeps: number;
  /** Dependencies not finished yet. */
  nWaitingDeps: number;
  /** Per connected worker, per variant of the task's request, the checks made. */
  workers: Array<{
    workerId: number;
    variants: Array<Array<{ type: "resources" | "time" | "worker-group" }>>;
  }>;
}

/** A task's stdout or stderr: a path, `"none"`, or a path with what to do when it ends. */
export type OutputSpec = string | { path: string; on_close: "none" | "rm-if-finished" };

/** One resource variant of a task (a task may have 2–32). */
export interface TaskRequest {
  /** Amounts: an integer `n` (`n compact`), a float, or request text (`"2 compact!"`, `"all"`). */
  resources?: Record<string, number | string>;
  /** Minimal remaining lifetime of a worker, humantime such as `"10m"`. */
  time_request?: string;
  /** Whole workers per task. */
  n_nodes?: number;
  /** Scheduler weight of the variant. */
  weight?: number;
}

/** How a task of a job definition runs (the keys of `[[task]]` in a job file). */
export interface GraphTaskOptions {
  /** The program and its arguments (no shell). */
  command: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (placeholders allowed). */
  cwd?: string;
  /** Where stdout goes. */
  stdout?: OutputSpec;
  /** Where stderr goes. */
  stderr?: OutputSpec;
  /** Text given on stdin. */
  stdin?: string;
  /** Pinning of the task's processes. */
  pin?: "none" | "taskset" | "omp";
  /** Give the task a temporary directory (`HQ_TASK_DIR`). */
  task_dir?: boolean;
  /** Time limit, humantime such as `"1m 10s"`. */
  time_limit?: string;
  /** Scheduling priority. */
  priority?: number;
  /** How often the task may be lost with its worker (a number, `"never-restart"`, `"unlimited"`). */
  crash_limit?: number | string;
  /** Resource variants. */
  request?: TaskRequest[];
}

/** One task of a job definition. */
export interface GraphTask extends GraphTaskOptions {
  /** Task id (automatic after the largest given id when left out). */
  id?: number;
  /** Ids of the tasks this one waits for (in the definition, or already in the open job). */
  deps?: number[];
}

/** A task array of a job definition (the `[array]` table of a job file). */
export interface GraphArray extends GraphTaskOptions {
  /** Task ids, `--array` syntax such as `"1,2,50-100"`. */
  ids?: string;
  /** One `HQ_ENTRY` per task. */
  entries?: string[];
}

/** A job definition: the keys of a TOML job file (`hq job submit-file`) as an object. */
export interface JobSpec {
  /** Job name. */
  name?: string;
  /** Cancel the job's remaining tasks after this many failed ones. */
  max_fails?: number;
  /** Stream the tasks' output into this directory. */
  stream?: string;
  /** Accepted for compatibility; has no effect. */
  data_layer?: boolean;
  /** Individual tasks (with ids and dependencies). */
  task?: GraphTask[];
  /** A task array (instead of `task`). */
  array?: GraphArray;
}
