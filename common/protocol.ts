/**
 * Every message on the wire, shared by server, worker and client. Messages are discriminated
 * unions on `type`. A frame carries an array of messages (batching), encoded with msgpack and,
 * on authenticated endpoints, sealed with AES-GCM (common/transport/).
 *
 * Changing any shape here changes the protocol: bump PROTOCOL_VERSION.
 */
import type {
  JobState,
  JobSummaryView,
  SubmitDescription,
  TaskState,
  TaskTemplate,
} from "./job_types.ts";
import type { AllocationView, QueueDetail, QueueParams, QueueView } from "./autoalloc.ts";
import type { JournalEvent } from "./journal/journal_events.ts";
import type { JobDetailWire } from "./task_columns.ts";
import type { ResourceDescriptor } from "./resources/resource_descriptor.ts";
import type { TaskExplanation } from "./task_explanation.ts";

export const PROTOCOL_VERSION = 1;

/** Which endpoint a connection is for; each has its own key. */
export type Role = "client" | "worker";

// ---------------------------------------------------------------------------------------------
// Handshake (plaintext frames, before any encrypted traffic; see common/transport/handshake.ts)

/** Identifies our protocol in the first frame, so a stray peer fails fast and clearly. */
export const HANDSHAKE_MAGIC = "hq-ts";

export type HandshakeMessage =
  /** Connecting side, first frame. */
  | {
    type: "hello";
    magic: string;
    protocol: number;
    role: Role;
    /** Whether the connecting side holds a key (the endpoint must agree). */
    auth: boolean;
    nonce: Uint8Array;
  }
  /** Accepting side: its nonce and its proof of the key over both nonces. */
  | { type: "challenge"; nonce: Uint8Array; proof: Uint8Array }
  /** Connecting side: its proof of the key over both nonces. */
  | { type: "proof"; proof: Uint8Array }
  | { type: "accepted" }
  | { type: "rejected"; reason: RejectReason; message: string };

export type RejectReason = "protocol" | "role" | "auth";

// ---------------------------------------------------------------------------------------------
// Client endpoint

export interface ServerInfo {
  serverUid: string;
  clientHost: string;
  clientPort: number;
  workerHost: string;
  workerPort: number;
  version: string;
  pid: number;
  startDateMs: number;
  journalPath: string | null;
}

/** Which ids a `worker …`/`job …` command targets (spec §4.8), parsed on the client. */
export type IdSelector =
  | { type: "all" }
  | { type: "last" }
  /** Inclusive `[start, end, step]` ranges. */
  | { type: "ids"; ranges: Array<[number, number, number]> };

export type WorkerFilter = "running" | "offline" | "all";

export type ClientRequest =
  | { type: "server-info" }
  | { type: "stop-server" }
  /** Write a JSON dump of the server's state to `path` on the server's host. */
  | { type: "debug-dump"; path: string }
  | { type: "worker-list"; filter: WorkerFilter }
  | { type: "worker-info"; selector: IdSelector }
  | { type: "worker-stop"; selector: IdSelector }
  /**
   * A new job with one submit, or (with `jobId`) more tasks into an open job. With `autoIdCount`
   * the server numbers that many tasks after the job's largest task id (jobs spec §2.2) and
   * ignores `submit.ids`.
   */
  | {
    type: "submit";
    jobId: number | null;
    name: string;
    maxFails: number | null;
    submit: SubmitDescription;
    autoIdCount: number | null;
    /** Also subscribe this connection to the job's task notifications (`--on-notify`). */
    subscribeNotify?: boolean;
  }
  /**
   * A task graph (`hq job submit-file`, the API; resources spec §9–§10): its submits in
   * topological order, each task's `deps` naming tasks sent before it or (into an open job)
   * tasks the job already has. A new job unless `jobId`; all or nothing.
   */
  | {
    type: "submit-graph";
    jobId: number | null;
    name: string;
    maxFails: number | null;
    submits: SubmitDescription[];
  }
  | { type: "job-open"; name: string; maxFails: number | null }
  /**
   * Summaries of every job, or of the selected ones; with `states`, only jobs in one of them
   * (and, with `open`, open jobs too). Filtering here spares encoding thousands of completed jobs
   * for a plain `hq job list`.
   */
  | { type: "job-list"; selector?: IdSelector; states?: JobState[]; open?: boolean }
  | { type: "job-info"; selector: IdSelector }
  | { type: "job-cancel"; selector: IdSelector; reason: string | null }
  | { type: "job-close"; selector: IdSelector }
  | { type: "job-forget"; selector: IdSelector; states: TaskState[] }
  /** Answered once every selected job is completed (or idle, with `withoutClose`). */
  | { type: "job-wait"; selector: IdSelector; withoutClose: boolean }
  /**
   * From now until the connection closes, push `task-notify` messages of these jobs' tasks
   * (`--on-notify`; jobs spec §8.4).
   */
  | { type: "notify-subscribe"; jobIds: number[] }
  /** Where a waiting or running task could run (`hq task explain`); `job` is one id or `last`. */
  | { type: "task-explain"; job: IdSelector; taskId: number }
  /**
   * Push every past event as `journal-records` (from the journal file, or synthesised from
   * memory without a journal), then answer `ok`; with `live`, keep pushing new events until the
   * connection closes (the answer comes only then, if ever). `overviews` (the dashboard, with
   * `live`): while the stream lasts, connected workers send hardware overviews even without
   * `--overview-interval`; those reach this stream only, never the file (journal spec §1.2, §4).
   */
  | { type: "journal-replay"; live: boolean; overviews?: boolean }
  /** Write and sync the journal buffer now (a no-op without a journal). */
  | { type: "journal-flush" }
  /** Rewrite the journal without the events of what is gone (journal spec §1.5). */
  | { type: "journal-prune" }
  /** `hq alloc add`: a trial submission first unless `dryRun` is false (journal-alloc §2.4). */
  | { type: "alloc-add"; params: QueueParams; dryRun: boolean }
  /** `hq alloc dry-run`: submit one trial allocation and cancel it; creates no queue. */
  | { type: "alloc-dry-run"; params: QueueParams }
  | { type: "alloc-list" }
  | { type: "alloc-info"; queueId: number }
  /** Where an allocation's directory is (`hq alloc log` reads its stdout/stderr there). */
  | { type: "alloc-log"; allocationId: string }
  | { type: "alloc-pause"; queueId: number }
  | { type: "alloc-resume"; queueId: number }
  /** Refused while an allocation runs unless `force`. */
  | { type: "alloc-remove"; queueId: number; force: boolean };

/** What happened to one job of a `job cancel`/`close`/`forget`. */
export type JobActionResult =
  | { jobId: number; outcome: "canceled"; canceled: number; finished: number }
  | { jobId: number; outcome: "closed" | "forgotten" | "ignored" }
  | { jobId: number; outcome: "not-found" | "already-finished" | "already-closed" };

export type WorkerStopOutcome = "stopped" | "already-stopped" | "not-found";

export type ServerResponse =
  | { type: "server-info"; info: ServerInfo }
  | { type: "workers"; workers: WorkerView[] }
  | { type: "worker-stop"; results: Array<{ workerId: number; outcome: WorkerStopOutcome }> }
  | { type: "job-created"; jobId: number }
  /** `totalCount` counts every job the server knows (for `job list`'s footer). */
  | { type: "jobs"; jobs: JobSummaryView[]; totalCount?: number }
  | { type: "job-details"; jobs: JobDetailWire[]; notFound: number[] }
  | { type: "job-actions"; results: JobActionResult[] }
  | { type: "task-explain"; jobId: number; taskId: number; explanation: TaskExplanation }
  | { type: "alloc-added"; queueId: number; dryRun: boolean }
  /** The trial submission failed: the message says why and where the script is (§2.4). */
  | { type: "alloc-dry-run-failed"; message: string }
  | { type: "alloc-queues"; queues: QueueView[] }
  | { type: "alloc-queue"; detail: QueueDetail }
  | { type: "alloc-allocation"; allocation: AllocationView; queueId: number }
  | { type: "ok" }
  | { type: "error"; message: string };

export type ClientMessage = { type: "request"; requestId: number; request: ClientRequest };
export type ServerToClientMessage =
  | { type: "response"; requestId: number; response: ServerResponse }
  /** A running task's `hq task notify`, pushed to subscribed clients; never stored. */
  | { type: "task-notify"; notification: TaskNotification }
  /** Journal events for `journal-replay`, oldest first, as `[time ms, event]`. */
  | { type: "journal-records"; records: Array<[number, JournalEvent]> };

export interface TaskNotification {
  jobId: number;
  taskId: number;
  workerId: number;
  message: Uint8Array;
}

/** Longest `hq task notify` message, in bytes (jobs spec §8.4). */
export const NOTIFY_MESSAGE_LIMIT = 1024;

// ---------------------------------------------------------------------------------------------
// Workers

export type ManagerKind = "PBS" | "Slurm";

/** The batch allocation a worker runs in. */
export interface ManagerInfo {
  manager: ManagerKind;
  allocationId: string;
}

export type OnServerLost = "stop" | "finish-running";

/** What a worker tells the server about itself at registration (spec §4.6 `configuration`). */
export interface WorkerConfiguration {
  hostname: string;
  /** `<hostname>:<port>` of the worker's own listener. */
  listenAddress: string;
  workDir: string;
  group: string;
  heartbeatIntervalMs: number;
  /** Worker's own value; the server fills in its default at registration. */
  idleTimeoutMs: number | null;
  timeLimitMs: number | null;
  overviewIntervalMs: number | null;
  minUtilization: number;
  onServerLost: OnServerLost;
  retractCheckIntervalMs: number;
  resources: ResourceDescriptor;
  manager: ManagerInfo | null;
  pid: number;
}

/** Why a worker went offline (spec §5.1). */
export type WorkerLostReason =
  | "stopped"
  | "idle-timeout"
  | "time-limit-reached"
  | "connection-lost"
  | "heartbeat-lost";

export interface WorkerRuntimeInfo {
  assignedTasks: number;
  runningTasks: number;
  isReserved: boolean;
}

/** A worker as clients see it (`worker list`, `worker info`, the worker's own printout). */
export interface WorkerView {
  id: number;
  configuration: WorkerConfiguration;
  startedMs: number;
  ended: { atMs: number; reason: WorkerLostReason } | null;
  lastTaskStarted: { jobId: number; taskId: number; timeMs: number } | null;
  runtimeInfo: WorkerRuntimeInfo | null;
}

/** One task instance, as workers and the server name it. */
export interface TaskRefMessage {
  jobId: number;
  taskId: number;
  instanceId: number;
}

/** One GPU in a hardware overview: usages in percent. */
export interface GpuUsage {
  id: string;
  processor_usage: number;
  mem_usage: number;
}

/**
 * A worker's hardware overview (`--overview-interval`), in HyperQueue's `HwSample` shape and key
 * spelling, which `hq journal export` shows as is. Memory in bytes, timestamp in Unix seconds.
 */
export interface HwState {
  cpu_usage: { cpu_per_core_percent_usage: number[] };
  memory_usage: { total: number; free: number };
  network_usage: {
    rx_bytes: number;
    tx_bytes: number;
    rx_packets: number;
    tx_packets: number;
    rx_errors: number;
    tx_errors: number;
  };
  nvidia_gpus: { gpus: GpuUsage[] } | null;
  amd_gpus: { gpus: GpuUsage[] } | null;
  timestamp: number;
}

export type WorkerMessage =
  /** First message after the handshake. */
  | { type: "register"; configuration: WorkerConfiguration }
  | { type: "heartbeat" }
  /**
   * A hardware overview, every `--overview-interval`; `transient`: one sent only because a
   * dashboard asked (`overview-interval`), for live streams, never journaled.
   */
  | { type: "overview"; hwState: HwState; transient?: boolean }
  /** The worker's own time limit expired; it exits right after. */
  | { type: "time-limit-reached" }
  | { type: "task-started"; task: TaskRefMessage }
  | { type: "task-finished"; task: TaskRefMessage }
  /** `started` false: failed while being prepared, before it ran (jobs spec §5.1). */
  | { type: "task-failed"; task: TaskRefMessage; error: string; started: boolean }
  /** A running task called `hq task notify` (jobs spec §8.4). */
  | { type: "task-notify"; task: TaskRefMessage; message: Uint8Array }
  /** Queued tasks given back after `retract-tasks`; the worker will not start them. */
  | { type: "tasks-retracted"; tasks: TaskRefMessage[] };

/**
 * A task handed to a worker; its template is sent once per worker (`templates`). The worker may
 * queue it until the resources its template requests are free, and picks their labels when it
 * starts it.
 */
export interface AssignedTaskMessage extends TaskRefMessage {
  submitIndex: number;
  entry: string | Uint8Array | null;
  /** A multi-node task's hostnames, root (the receiving worker) first (jobs spec §5.6). */
  nodes?: string[];
  /** The request variant to run with, when the task has several (resources spec §3.6). */
  variant?: number;
}

export type ServerToWorkerMessage =
  /** Registration accepted; `configuration` is the effective one (server defaults applied). */
  | {
    type: "registered";
    workerId: number;
    startedMs: number;
    configuration: WorkerConfiguration;
    /** Written into the worker's output stream files (spec §10.1). */
    serverUid?: string;
  }
  /** Exit now (stop, idle timeout). */
  | { type: "stop" }
  | {
    type: "assign-tasks";
    /** Templates the worker has not been sent before, by job and submit index. */
    templates: Array<{ jobId: number; submitIndex: number; template: TaskTemplate }>;
    tasks: AssignedTaskMessage[];
  }
  /** Stop these tasks (cancel, abort); nothing is reported back for them. */
  | { type: "cancel-tasks"; tasks: TaskRefMessage[] }
  /** Give back those of these tasks not started yet (answered by `tasks-retracted`). */
  | { type: "retract-tasks"; tasks: TaskRefMessage[] }
  /** These jobs completed: no task of theirs comes again, so drop their templates. */
  | { type: "jobs-done"; jobIds: number[] }
  /**
   * A dashboard streams events: send transient overviews every `intervalMs` besides the
   * worker's own (`--overview-interval`); null: the last such stream ended, stop them.
   */
  | { type: "overview-interval"; intervalMs: number | null };

// ---------------------------------------------------------------------------------------------
// Validation of what a peer sent. An authenticated peer can still send a shape we do not know
// (a bug, another build); such a message closes that one connection instead of crashing us.

export function isClientMessage(value: unknown): value is ClientMessage {
  if (!isRecord(value) || value.type !== "request") return false;
  if (typeof value.requestId !== "number" || !isRecord(value.request)) return false;
  const request = value.request;
  switch (request.type) {
    case "server-info":
    case "stop-server":
    case "journal-flush":
    case "journal-prune":
      return true;
    case "journal-replay":
      return typeof request.live === "boolean" &&
        (request.overviews === undefined || typeof request.overviews === "boolean");
    case "debug-dump":
      return typeof request.path === "string";
    case "worker-list":
      return request.filter === "running" || request.filter === "offline" ||
        request.filter === "all";
    case "worker-info":
    case "worker-stop":
    case "job-info":
    case "job-close":
      return isIdSelector(request.selector);
    case "job-cancel":
      return isIdSelector(request.selector) &&
        (request.reason === null || typeof request.reason === "string");
    case "job-forget":
      return isIdSelector(request.selector) && Array.isArray(request.states);
    case "job-wait":
      return isIdSelector(request.selector) && typeof request.withoutClose === "boolean";
    case "job-list":
      return (request.selector === undefined || isIdSelector(request.selector)) &&
        (request.states === undefined ||
          (Array.isArray(request.states) &&
            request.states.every((state) => typeof state === "string"))) &&
        (request.open === undefined || typeof request.open === "boolean");
    case "job-open":
      return typeof request.name === "string";
    case "notify-subscribe":
      return Array.isArray(request.jobIds) &&
        request.jobIds.every((id) => Number.isSafeInteger(id) && id >= 0);
    case "alloc-list":
      return true;
    case "alloc-add":
    case "alloc-dry-run":
      return isRecord(request.params) &&
        (request.type === "alloc-dry-run" || typeof request.dryRun === "boolean");
    case "alloc-info":
    case "alloc-pause":
    case "alloc-resume":
      return Number.isSafeInteger(request.queueId);
    case "alloc-remove":
      return Number.isSafeInteger(request.queueId) && typeof request.force === "boolean";
    case "alloc-log":
      return typeof request.allocationId === "string";
    case "task-explain":
      return isIdSelector(request.job) && Number.isSafeInteger(request.taskId) &&
        (request.taskId as number) >= 0;
    case "submit":
      return typeof request.name === "string" && isSubmitDescription(request.submit);
    case "submit-graph":
      return typeof request.name === "string" && Array.isArray(request.submits) &&
        request.submits.length > 0 && request.submits.every(isSubmitDescription);
    default:
      return false;
  }
}

function isSubmitDescription(submit: unknown): boolean {
  return isRecord(submit) && isRecord(submit.template) && Array.isArray(submit.template.args) &&
    Array.isArray(submit.template.resources) && isVariantList(submit.template.variants) &&
    Array.isArray(submit.ids) &&
    (submit.deps === undefined ||
      (Array.isArray(submit.deps) && submit.deps.every((deps) => Array.isArray(deps))));
}

/** Absent, or 1–32 request variants (resources spec §3.6). */
function isVariantList(value: unknown): boolean {
  if (value === undefined) return true;
  return Array.isArray(value) && value.length >= 1 && value.length <= 32 &&
    value.every((variant) =>
      isRecord(variant) && Array.isArray(variant.resources) &&
      typeof variant.timeRequestMs === "number" && typeof variant.weight === "number"
    );
}

function isIdSelector(value: unknown): value is IdSelector {
  if (!isRecord(value)) return false;
  if (value.type === "all" || value.type === "last") return true;
  return value.type === "ids" && Array.isArray(value.ranges) &&
    value.ranges.every((range) =>
      Array.isArray(range) && range.length === 3 &&
      range.every((n) => Number.isSafeInteger(n) && n >= 0)
    );
}

export function isServerToClientMessage(value: unknown): value is ServerToClientMessage {
  if (!isRecord(value)) return false;
  if (value.type === "task-notify") {
    const notification = value.notification;
    return isRecord(notification) && typeof notification.jobId === "number" &&
      typeof notification.taskId === "number" && typeof notification.workerId === "number" &&
      notification.message instanceof Uint8Array;
  }
  if (value.type === "journal-records") return Array.isArray(value.records);
  return value.type === "response" && typeof value.requestId === "number" &&
    isRecord(value.response) && typeof value.response.type === "string";
}

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case "heartbeat":
    case "time-limit-reached":
      return true;
    case "overview":
      return isRecord(value.hwState) && isRecord(value.hwState.cpu_usage) &&
        isRecord(value.hwState.memory_usage) && isRecord(value.hwState.network_usage);
    case "task-started":
    case "task-finished":
      return isTaskRef(value.task);
    case "task-failed":
      return isTaskRef(value.task) && typeof value.error === "string";
    case "task-notify":
      return isTaskRef(value.task) && value.message instanceof Uint8Array &&
        value.message.length <= NOTIFY_MESSAGE_LIMIT;
    case "tasks-retracted":
      return Array.isArray(value.tasks) && value.tasks.every(isTaskRef);
    case "register":
      return isRecord(value.configuration) && typeof value.configuration.hostname === "string" &&
        isRecord(value.configuration.resources) &&
        Array.isArray(value.configuration.resources.resources);
    default:
      return false;
  }
}

export function isServerToWorkerMessage(value: unknown): value is ServerToWorkerMessage {
  return isRecord(value) &&
    (value.type === "registered" || value.type === "stop" || value.type === "assign-tasks" ||
      value.type === "cancel-tasks" || value.type === "retract-tasks" ||
      value.type === "jobs-done" ||
      (value.type === "overview-interval" &&
        (value.intervalMs === null ||
          (typeof value.intervalMs === "number" && value.intervalMs > 0))));
}

function isTaskRef(value: unknown): value is TaskRefMessage {
  return isRecord(value) && typeof value.jobId === "number" && typeof value.taskId === "number" &&
    typeof value.instanceId === "number";
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}
