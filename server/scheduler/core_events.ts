/**
 * What goes into the scheduler core and what comes out. The core never does I/O: the server loop
 * turns messages into events, passes the time in, and carries the commands out.
 */
import type { SubmitDescription } from "../../common/job_types.ts";
import type { WorkerConfiguration } from "../../common/protocol.ts";
import type { RestoredTaskColumns } from "./restored_tasks.ts";

export type { RestoredTask, RestoredTaskColumns } from "./restored_tasks.ts";

export type WorkerId = number;
export type JobId = number;

/** One task instance, as workers and the core name it. */
export interface TaskRef {
  jobId: JobId;
  taskId: number;
  instanceId: number;
}

export type CoreEvent =
  /** A worker registered; the shell chose its id and applied the server's defaults. */
  | { type: "worker-joined"; workerId: WorkerId; configuration: WorkerConfiguration }
  | { type: "worker-heartbeat"; workerId: WorkerId }
  /** `hq worker stop`: the reason is fixed now, even if the connection breaks later. */
  | { type: "worker-stop-requested"; workerId: WorkerId }
  /** The worker reported that its own time limit expired. */
  | { type: "worker-time-limit-reached"; workerId: WorkerId }
  /** The worker's connection closed or broke. */
  | { type: "worker-connection-closed"; workerId: WorkerId }
  /** Time passed: check heartbeats, idle timeouts and stop grace periods. */
  | { type: "tick" }
  /** A new job (ids chosen by the shell); `submit` is null for `hq job open`. */
  | {
    type: "job-created";
    jobId: JobId;
    name: string;
    maxFails: number | null;
    isOpen: boolean;
    submit: SubmitDescription | null;
  }
  /** More tasks into an open job (ids already checked by the shell). */
  | { type: "tasks-added"; jobId: JobId; submit: SubmitDescription }
  | { type: "job-closed"; jobId: JobId }
  | { type: "job-canceled"; jobId: JobId; reason: string | null }
  | { type: "job-forgotten"; jobId: JobId }
  | { type: "task-started"; workerId: WorkerId; task: TaskRef }
  | { type: "task-finished"; workerId: WorkerId; task: TaskRef }
  /** `started` false: the task failed while being prepared, before it ran (spec §5.1). */
  | { type: "task-failed"; workerId: WorkerId; task: TaskRef; error: string; started: boolean }
  /** Queued tasks the worker gave back (after `retract-tasks`), never started there. */
  | { type: "tasks-retracted"; workerId: WorkerId; tasks: TaskRef[] }
  /** Place waiting tasks onto free resources (the shell sends it after a batch of events). */
  | { type: "schedule" }
  /** A job rebuilt from the journal at server start (journal spec §1.4). */
  | {
    type: "job-restored";
    jobId: JobId;
    name: string;
    maxFails: number | null;
    isOpen: boolean;
    cancelReason: string | null;
    submittedMs: number;
    submits: SubmitDescription[];
    /** Tasks that are not plainly waiting with instance 0 (any order), in columns. */
    tasks: RestoredTaskColumns;
    /**
     * The job was cancelled when it had this many submits: their tasks not in `tasks` are
     * cancelled, not waiting (a cancel is journaled as one `job-cancel`, whatever the task count).
     * @default {0}
     */
    canceledSubmits?: number;
    /**
     * The instance id of its tasks that the journal never showed started (and the least of those
     * it did that wait again): the runs that crashed since the job was created may have started
     * them unjournaled. @default {0}
     */
    firstInstance?: number;
  };

/**
 * A task handed to a worker: where its template is, its entry and how many CPUs it needs. The
 * worker picks the CPU labels when it starts the task (it may queue it until CPUs free up).
 */
export interface AssignedTask extends TaskRef {
  /** Index of the submit (within its job) whose template the task runs. */
  submitIndex: number;
  entry: string | Uint8Array | null;
  /** A multi-node task's hostnames, root (the receiving worker) first. */
  nodes?: string[];
  /** The request variant to run with, when the task has several (resources spec §3.6). */
  variant?: number;
}

export type CoreCommand =
  /** Tell the worker to exit. */
  | { type: "stop-worker"; workerId: WorkerId }
  /** Drop the worker's connection (heartbeat lost, or it ignored a stop for too long). */
  | { type: "disconnect-worker"; workerId: WorkerId }
  | { type: "assign-tasks"; workerId: WorkerId; tasks: AssignedTask[] }
  /** Stop these running or assigned tasks (cancel, abort); the worker reports nothing back. */
  | { type: "cancel-tasks"; workerId: WorkerId; tasks: TaskRef[] }
  /** Give back these queued tasks if not started yet (another worker has room for them). */
  | { type: "retract-tasks"; workerId: WorkerId; tasks: TaskRef[] };
