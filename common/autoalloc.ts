/**
 * Automatic allocation (journal-alloc spec §2): what a client sends to create a queue, and what
 * it is shown of queues and allocations. Shared by the CLI, the server and the journal.
 */
import type {
  ResourceDescriptor,
  ResourceDescriptorItem,
} from "./resources/resource_descriptor.ts";

export type ManagerName = "pbs" | "slurm";

/** A queue's parameters, built and validated by the client (`hq alloc add`, spec §2.2–§2.3). */
export interface QueueParams {
  manager: ManagerName;
  /** `--time-limit`: walltime of each allocation. */
  timeLimitMs: number;
  /** `--backlog`: allocations queued (not running) at once, ≥ 1. */
  backlog: number;
  /** `--max-workers-per-alloc`: nodes (one worker each) per allocation, ≥ 1. */
  maxWorkersPerAlloc: number;
  /** `--max-worker-count`: workers of queued + running allocations; null = unlimited. */
  maxWorkerCount: number | null;
  /** `--name`. */
  name: string | null;
  /** `--min-utilization`, in [0, 1]. */
  minUtilization: number;
  /** Trailing args, passed to qsub/sbatch as one directive line. */
  additionalArgs: string[];
  /** Arguments of `hq worker start` in the spec's order (§2.3), quotes included. */
  workerArgs: string[];
  workerStartCmd: string | null;
  workerStopCmd: string | null;
  workerWrapCmd: string | null;
  /** `--idle-timeout` of the allocated workers. @default 5 minutes */
  idleTimeoutMs: number;
  /** `--worker-time-limit` (≤ timeLimitMs), else the queue's time limit. */
  workerTimeLimitMs: number | null;
  /**
   * The worker shape `--cpus`/`--resource` describe (names sorted), used as the assumed shape of
   * the queue's workers until a real one connects; null when neither was given (probing mode).
   */
  cliResources: ResourceDescriptorItem[] | null;
  /**
   * The user's raw `--cpus`/`--resource` texts, kept in the journal as given (the export's
   * `cli_resource_descriptor` is built from `cliResources`); nothing reads them back yet.
   */
  cliResourceTexts: { cpus: string | null; resources: string[] };
}

export type QueueState = "active" | "paused";

/** `hq alloc list`: one queue. */
export interface QueueView {
  id: number;
  state: QueueState;
  params: QueueParams;
  /** Resources of the most recent worker that connected from this queue's allocations. */
  knownWorkerResources: ResourceDescriptor | null;
}

/** How an allocation shows (spec §2.8). */
export type AllocationStatus = "queued" | "running" | "finished" | "failed";

/** `hq alloc info`: one allocation. */
export interface AllocationView {
  /** The manager's job id. */
  id: string;
  targetWorkerCount: number;
  queuedMs: number;
  startedMs: number | null;
  endedMs: number | null;
  status: AllocationStatus;
  /** Ended by a poll or by status errors, not by its workers (spec §2.8, `--filter` quirk). */
  unexpected: boolean;
  workdir: string;
}

/**
 * Why a queue submits nothing right now (beyond HyperQueue: its queues stall silently). Null
 * when the last pass submitted, or nothing is waiting.
 */
export interface QueueStallReason {
  /** One line for `hq alloc info`, e.g. `no waiting task fits the queue's workers (cpus=16)`. */
  message: string;
  /** A machine-readable kind for JSON. */
  kind:
    | "paused"
    | "auto-paused"
    | "no-waiting-tasks"
    | "no-fitting-tasks"
    /** Waiting tasks are covered by queued allocations, running workers or other queues. */
    | "covered"
    | "backlog-full"
    | "max-worker-count"
    | "rate-limited"
    | "submission-failed";
  /** The last failed submission's error text and script path, when there was one. */
  lastError?: { message: string; scriptPath: string | null } | null;
  /** For `rate-limited`: when the next submission may happen. */
  untilMs?: number | null;
}

/** `hq alloc info`: a queue's allocations and why it is not submitting. */
export interface QueueDetail {
  queue: QueueView;
  allocations: AllocationView[];
  stall: QueueStallReason | null;
}
