/**
 * Rebuilds the server's state from its journal (journal spec §1.4): replays every record of every
 * earlier run and answers what the new run starts with — the server uid, the next ids, and the
 * jobs to recreate (those not completed), each as one `job-restored` core event. Pure: records in,
 * state out.
 */
import type { QueueParams } from "../common/autoalloc.ts";
import type { JournalEvent } from "../common/journal/journal_events.ts";
import type { ResourceDescriptor } from "../common/resources/resource_descriptor.ts";
import type { CoreEvent, RestoredTask } from "./scheduler/core_events.ts";

export interface RestoredState {
  /** From the last `server-start`; null for a journal without one. */
  serverUid: string | null;
  /** Max job id ever seen + 1 (ids are never reused, not even those of dropped jobs). */
  nextJobId: number;
  nextWorkerId: number;
  /** The highest worker id journaled (0 if none). */
  lastWorkerId: number;
  jobs: JobRestoredEvent[];
  /** Max queue id ever created + 1 (removed queues count). */
  nextQueueId: number;
  /** Allocation queues not removed, with the worker resources last learned for each. */
  queues: RestoredQueue[];
  /** Records replayed. */
  events: number;
  /** How long reading and replaying the file took (set by the caller). */
  replayMs: number;
}

interface TaskState {
  taskId: number;
  state: RestoredTask["state"] | "running";
  /** The instance of the last start, or -1 if it never started. */
  lastInstance: number;
  crashes: number;
  workerId: number | null;
  startedMs: number | null;
  finishedMs: number | null;
  error: string | null;
}

/** A queue as the journal left it (journal spec §1.4): recreated active, without allocations. */
export interface RestoredQueue {
  queueId: number;
  params: QueueParams;
  /** Of the last worker that connected from one of the queue's allocations. */
  knownResources: ResourceDescriptor | null;
  /** Allocations queued or running when the journal ends (their directory known). */
  allocations: RestoredAllocation[];
}

export interface RestoredAllocation {
  allocationId: string;
  workerCount: number;
  workdir: string;
  queuedMs: number;
  startedMs: number | null;
}

type JobRestoredEvent = Extract<CoreEvent, { type: "job-restored" }>;

/** A job as the records so far left it: what `job-restored` carries, tasks by id. */
type JobState = Omit<JobRestoredEvent, "type" | "tasks" | "canceledSubmits"> & {
  tasks: Map<number, TaskState>;
  canceledSubmits: number;
};

const CRASH_REASONS = new Set(["connection-lost", "heartbeat-lost"]);

export class JournalRestorer {
  #serverUid: string | null = null;
  #maxJobId = 0;
  #maxWorkerId = 0;
  #events = 0;
  #maxQueueId = 0;
  readonly #queues = new Map<number, RestoredQueue>();
  /** Which queue each allocation (manager job id) belongs to. */
  readonly #allocationQueues = new Map<string, number>();
  readonly #jobs = new Map<number, JobState>();
  /**
   * Tasks running now, whatever their worker: a worker's loss scans them (few: about as many as
   * the cluster has CPUs), cheaper than a set per worker churning with every task.
   */
  #running = new Set<TaskState>();

  /**
   * @param completedJobs jobs the journal shows completed (found in a first, cheap pass): they
   * are dropped anyway, so their tasks are not tracked at all (a 1M-task job that completed
   * would otherwise cost a million objects to restore).
   */
  constructor(private readonly completedJobs: ReadonlySet<number> = new Set()) {}

  /** Replays one record. */
  apply(timeMs: number, event: JournalEvent): void {
    this.#events++;
    switch (event.type) {
      case "server-start":
        this.#serverUid = event.serverUid;
        this.#maxJobId = Math.max(this.#maxJobId, event.lastJobId ?? 0);
        this.#maxWorkerId = Math.max(this.#maxWorkerId, event.lastWorkerId ?? 0);
        // The previous run ended (crashed or stopped): its tasks wait again, no crash counted.
        this.#stopAllRunning();
        break;
      case "server-stop":
        this.#stopAllRunning();
        break;
      case "worker-connected": {
        this.#maxWorkerId = Math.max(this.#maxWorkerId, event.workerId);
        const allocationId = event.configuration.manager?.allocationId;
        const queueId = allocationId === undefined
          ? undefined
          : this.#allocationQueues.get(allocationId);
        const queue = queueId === undefined ? undefined : this.#queues.get(queueId);
        if (queue) queue.knownResources = event.configuration.resources;
        break;
      }
      case "autoalloc-queue-created":
        this.#maxQueueId = Math.max(this.#maxQueueId, event.queueId);
        this.#queues.set(event.queueId, {
          queueId: event.queueId,
          params: event.params,
          knownResources: null,
          allocations: [],
        });
        break;
      case "autoalloc-queue-removed":
        this.#maxQueueId = Math.max(this.#maxQueueId, event.queueId);
        this.#queues.delete(event.queueId);
        break;
      case "autoalloc-allocation-queued":
        this.#allocationQueues.set(event.allocationId, event.queueId);
        if (event.workdir !== undefined) {
          this.#queues.get(event.queueId)?.allocations.push({
            allocationId: event.allocationId,
            workerCount: event.workerCount,
            workdir: event.workdir,
            queuedMs: timeMs,
            startedMs: null,
          });
        }
        break;
      case "autoalloc-allocation-started":
      case "autoalloc-allocation-finished": {
        const queue = this.#queues.get(event.queueId);
        if (!queue) break;
        const index = queue.allocations.findIndex((a) => a.allocationId === event.allocationId);
        if (index < 0) break;
        if (event.type === "autoalloc-allocation-finished") queue.allocations.splice(index, 1);
        else queue.allocations[index].startedMs = timeMs;
        break;
      }
      case "worker-lost": {
        this.#maxWorkerId = Math.max(this.#maxWorkerId, event.workerId);
        for (const task of this.#running) {
          if (task.workerId !== event.workerId) continue;
          this.#running.delete(task);
          if (CRASH_REASONS.has(event.reason)) task.crashes++;
          task.state = "waiting";
        }
        break;
      }
      case "job-open":
        this.#maxJobId = Math.max(this.#maxJobId, event.jobId);
        if (this.completedJobs.has(event.jobId)) break;
        this.#jobs.set(event.jobId, this.#newJob(event.jobId, event.name, event.maxFails, timeMs));
        this.#jobs.get(event.jobId)!.isOpen = true;
        break;
      case "job-created": {
        this.#maxJobId = Math.max(this.#maxJobId, event.jobId);
        if (this.completedJobs.has(event.jobId)) break;
        let job = this.#jobs.get(event.jobId);
        if (!event.attached || !job) {
          job = this.#newJob(event.jobId, event.name, event.maxFails, timeMs);
          this.#jobs.set(event.jobId, job);
        }
        job.submits.push(event.submit);
        break;
      }
      case "job-close": {
        const job = this.#jobs.get(event.jobId);
        if (job) job.isOpen = false;
        break;
      }
      case "job-cancel": {
        // Flushed before the cancel happens, while the per-task `tasks-canceled` that follows is
        // not (and may not even fit a record): the cancel itself ends every active task.
        const job = this.#jobs.get(event.jobId);
        if (!job) break;
        job.cancelReason = event.reason;
        job.canceledSubmits = job.submits.length;
        for (const task of job.tasks.values()) {
          if (task.state !== "waiting" && task.state !== "running") continue;
          this.#unlink(task);
          task.state = "canceled";
          task.startedMs = null;
          task.finishedMs = null;
        }
        break;
      }
      case "job-completed":
        this.#maxJobId = Math.max(this.#maxJobId, event.jobId);
        this.#jobs.delete(event.jobId);
        break;
      case "task-started": {
        const task = this.#task(event.jobId, event.taskId);
        if (!task) break;
        this.#unlink(task);
        task.state = "running";
        task.lastInstance = event.instanceId;
        task.workerId = event.workerIds[0];
        task.startedMs = timeMs;
        task.finishedMs = null;
        this.#running.add(task);
        break;
      }
      case "task-finished":
      case "task-failed": {
        const task = this.#task(event.jobId, event.taskId);
        if (!task) break;
        this.#unlink(task);
        task.state = event.type === "task-finished" ? "finished" : "failed";
        task.finishedMs = timeMs;
        if (event.type === "task-failed") task.error = event.error;
        break;
      }
      case "tasks-canceled":
      case "tasks-aborted":
        for (const [jobId, taskId] of event.tasks) {
          const task = this.#task(jobId, taskId);
          if (!task) continue;
          this.#unlink(task);
          task.state = event.type === "tasks-canceled" ? "canceled" : "aborted";
          task.startedMs = null;
          task.finishedMs = null;
        }
        break;
    }
  }

  finish(): RestoredState {
    this.#stopAllRunning();
    const jobs = [...this.#jobs.values()].sort((a, b) => a.jobId - b.jobId).map((job) => ({
      type: "job-restored" as const,
      jobId: job.jobId,
      name: job.name,
      maxFails: job.maxFails,
      isOpen: job.isOpen,
      cancelReason: job.cancelReason,
      submittedMs: job.submittedMs,
      submits: job.submits,
      canceledSubmits: job.canceledSubmits,
      tasks: [...job.tasks.values()].map((task): RestoredTask => {
        const ended = task.state !== "waiting";
        return {
          taskId: task.taskId,
          state: task.state === "running" ? "waiting" : task.state,
          // A task that started and waits again runs as the next instance.
          instanceId: ended ? Math.max(0, task.lastInstance) : task.lastInstance + 1,
          crashes: task.crashes,
          workerId: ended ? task.workerId : null,
          startedMs: ended ? task.startedMs : null,
          finishedMs: ended ? task.finishedMs : null,
          error: task.error,
        };
      }),
    }));
    return {
      serverUid: this.#serverUid,
      nextJobId: this.#maxJobId + 1,
      // HyperQueue's quirk: after a restore the first new worker id skips one.
      nextWorkerId: this.#maxWorkerId > 0 ? this.#maxWorkerId + 2 : 1,
      lastWorkerId: this.#maxWorkerId,
      jobs,
      nextQueueId: this.#maxQueueId + 1,
      queues: [...this.#queues.values()].sort((a, b) => a.queueId - b.queueId),
      events: this.#events,
      replayMs: 0,
    };
  }

  #newJob(jobId: number, name: string, maxFails: number | null, timeMs: number): JobState {
    return {
      jobId,
      name,
      maxFails,
      isOpen: false,
      cancelReason: null,
      submittedMs: timeMs,
      submits: [],
      tasks: new Map(),
      canceledSubmits: 0,
    };
  }

  #task(jobId: number, taskId: number): TaskState | null {
    const job = this.#jobs.get(jobId);
    if (!job) return null;
    let task = job.tasks.get(taskId);
    if (!task) {
      task = {
        taskId,
        state: "waiting",
        lastInstance: -1,
        crashes: 0,
        workerId: null,
        startedMs: null,
        finishedMs: null,
        error: null,
      };
      job.tasks.set(taskId, task);
    }
    return task;
  }

  /** Forgets that a task runs. */
  #unlink(task: TaskState): void {
    if (task.state === "running") this.#running.delete(task);
  }

  #stopAllRunning(): void {
    for (const task of this.#running) task.state = "waiting";
    this.#running = new Set();
  }
}
