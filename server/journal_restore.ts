/**
 * Rebuilds the server's state from its journal (journal spec §1.4): replays every record of every
 * earlier run and answers what the new run starts with — the server uid, the next ids, and the
 * jobs to recreate (those not completed), each as one `job-restored` core event. Pure: records in,
 * state out.
 */
import type { QueueParams } from "../common/autoalloc.ts";
import type { JournalEvent } from "../common/journal/journal_events.ts";
import type { ResourceDescriptor } from "../common/resources/resource_descriptor.ts";
import type { CoreEvent } from "./scheduler/core_events.ts";
import type { RestoredTaskColumns } from "./scheduler/restored_tasks.ts";

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

/** A job as the records so far left it: what `job-restored` carries, tasks in columns. */
type JobState = Omit<JobRestoredEvent, "type" | "tasks" | "canceledSubmits" | "firstInstance"> & {
  tasks: TouchedTasks;
  canceledSubmits: number;
  /** Runs that had crashed (ended without `server-stop`) when the job was created. */
  crashedRunsBefore: number;
};

/** Task states in `TouchedTasks`: `RESTORED_TASK_STATES`' indexes, and running. */
const WAITING = 0;
const FINISHED = 1;
const FAILED = 2;
const CANCELED = 3;
const ABORTED = 4;
const RUNNING = 5;

/** Task ids below this are always found through the dense index, not a map. */
const DENSE_IDS = 1 << 16;

/**
 * The tasks of one job that the records touched, in columns by position (first touch first),
 * found by id through a dense index (ids of arrays are mostly 0..n) or, for far ids, a map:
 * ~40 bytes a task instead of two objects and a map entry.
 */
class TouchedTasks {
  count = 0;
  taskIds = new Uint32Array(0);
  states = new Uint8Array(0);
  /** The instance of the last start, or -1 if it never started. */
  lastInstance = new Int32Array(0);
  /**
   * Runs that had crashed before its last start, times 2, plus 1 when it waited again (a lost
   * worker, a stopped server) before the next crash: then that crashed run may have started it
   * once more, unjournaled.
   */
  sinceCrash = new Uint32Array(0);
  crashes = new Uint32Array(0);
  /** 0 for none. */
  workerIds = new Uint32Array(0);
  /** NaN for none. */
  startedMs = new Float64Array(0);
  finishedMs = new Float64Array(0);
  readonly errors = new Map<number, string>();
  /** Positions of the tasks running now. */
  readonly running = new Set<number>();
  /** Position + 1 by task id (0: not touched), for ids below its length. */
  #dense = new Int32Array(0);
  #sparse: Map<number, number> | null = null;

  /** The task's position, added (waiting, never started) if new. */
  at(taskId: number): number {
    const dense = this.#dense;
    if (taskId < dense.length && dense[taskId] !== 0) return dense[taskId] - 1;
    const found = this.#sparse?.get(taskId);
    if (found !== undefined) return found;
    const at = this.count++;
    if (at === this.taskIds.length) this.#grow();
    this.taskIds[at] = taskId;
    this.lastInstance[at] = -1;
    this.startedMs[at] = NaN;
    this.finishedMs[at] = NaN;
    if (taskId < Math.max(DENSE_IDS, 4 * this.count)) {
      if (taskId >= dense.length) {
        const grown = new Int32Array(Math.max(DENSE_IDS, 2 * dense.length, taskId + 1));
        grown.set(dense);
        this.#dense = grown;
      }
      this.#dense[taskId] = at + 1;
    } else {
      (this.#sparse ??= new Map()).set(taskId, at);
    }
    return at;
  }

  #grow(): void {
    const capacity = Math.max(16, 2 * this.taskIds.length);
    const grown = <T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(
      column: T,
    ): T => {
      const out = new (column.constructor as new (n: number) => T)(capacity);
      out.set(column);
      return out;
    };
    this.taskIds = grown(this.taskIds);
    this.states = grown(this.states);
    this.lastInstance = grown(this.lastInstance);
    this.sinceCrash = grown(this.sinceCrash);
    this.crashes = grown(this.crashes);
    this.workerIds = grown(this.workerIds);
    this.startedMs = grown(this.startedMs);
    this.finishedMs = grown(this.finishedMs);
  }

  /** A running task waits again (its worker was lost, or the server stopped). */
  waitAgain(at: number, crashedRuns: number): void {
    this.states[at] = WAITING;
    if (this.sinceCrash[at] >>> 1 === crashedRuns) this.sinceCrash[at] |= 1;
  }

  /**
   * Columns as `job-restored` carries them; running tasks wait again. A waiting task runs as its
   * next instance, past any a crashed run may have started unjournaled (starts are flushed with
   * the flush period): one more for each crash since its last journaled start, but none for the
   * first when it was running then (that instance is the one to pass); never below
   * `firstInstance`. `crashedRuns` counts the crashed runs of the whole journal. Consumes this.
   */
  columns(firstInstance: number, crashedRuns: number): RestoredTaskColumns {
    const count = this.count;
    const instanceIds = new Uint32Array(this.lastInstance.buffer, 0, count);
    for (let at = 0; at < count; at++) {
      let state = this.states[at];
      if (state === RUNNING) state = this.states[at] = WAITING;
      const last = this.lastInstance[at];
      if (state === WAITING) {
        let next = last + 1;
        if (last >= 0) {
          const crashes = crashedRuns - (this.sinceCrash[at] >>> 1);
          if (crashes > 0) next = last + crashes + (this.sinceCrash[at] & 1);
        }
        instanceIds[at] = Math.max(next, firstInstance);
        this.workerIds[at] = 0;
        this.startedMs[at] = NaN;
        this.finishedMs[at] = NaN;
      } else {
        instanceIds[at] = Math.max(0, last);
      }
    }
    this.#dense = new Int32Array(0);
    this.#sparse = null;
    return {
      count,
      taskIds: this.taskIds.subarray(0, count),
      states: this.states.subarray(0, count),
      instanceIds,
      crashes: this.crashes.subarray(0, count),
      workerIds: this.workerIds.subarray(0, count),
      startedMs: this.startedMs.subarray(0, count),
      finishedMs: this.finishedMs.subarray(0, count),
      errors: this.errors,
    };
  }
}

const CRASH_REASONS = new Set(["connection-lost", "heartbeat-lost"]);

export class JournalRestorer {
  #serverUid: string | null = null;
  #maxJobId = 0;
  #maxWorkerId = 0;
  #events = 0;
  /** Runs that ended without `server-stop`: each may have started tasks it never journaled. */
  #crashedRuns = 0;
  /** A `server-start` was replayed and no `server-stop` after it (yet). */
  #runOpen = false;
  #maxQueueId = 0;
  readonly #queues = new Map<number, RestoredQueue>();
  /** Which queue each allocation (manager job id) belongs to. */
  readonly #allocationQueues = new Map<string, number>();
  readonly #jobs = new Map<number, JobState>();
  /**
   * Jobs with tasks running now, whatever their worker: a worker's loss scans their running
   * tasks (few: about as many as the cluster has CPUs), cheaper than a set per worker churning
   * with every task.
   */
  #runningJobs = new Set<JobState>();

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
        if (this.#runOpen) this.#crashedRuns++;
        this.#stopAllRunning();
        this.#runOpen = true;
        break;
      case "server-stop":
        this.#stopAllRunning();
        this.#runOpen = false;
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
        for (const job of this.#runningJobs) {
          const tasks = job.tasks;
          for (const at of tasks.running) {
            if (tasks.workerIds[at] !== event.workerId) continue;
            this.#unlink(job, at);
            if (CRASH_REASONS.has(event.reason)) tasks.crashes[at]++;
            tasks.waitAgain(at, this.#crashedRuns);
          }
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
        if (event.more) job.submits.push(...event.more);
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
        const tasks = job.tasks;
        for (let at = 0; at < tasks.count; at++) {
          if (tasks.states[at] !== WAITING && tasks.states[at] !== RUNNING) continue;
          this.#unlink(job, at);
          this.#end(tasks, at, CANCELED);
        }
        break;
      }
      case "job-completed": {
        this.#maxJobId = Math.max(this.#maxJobId, event.jobId);
        const job = this.#jobs.get(event.jobId);
        if (job) this.#runningJobs.delete(job);
        this.#jobs.delete(event.jobId);
        break;
      }
      case "task-started": {
        const job = this.#jobs.get(event.jobId);
        if (!job) break;
        const tasks = job.tasks;
        const at = tasks.at(event.taskId);
        tasks.states[at] = RUNNING;
        tasks.lastInstance[at] = event.instanceId;
        tasks.sinceCrash[at] = 2 * this.#crashedRuns;
        tasks.workerIds[at] = event.workerIds[0];
        tasks.startedMs[at] = timeMs;
        tasks.finishedMs[at] = NaN;
        tasks.running.add(at);
        this.#runningJobs.add(job);
        break;
      }
      case "task-finished":
      case "task-failed": {
        const job = this.#jobs.get(event.jobId);
        if (!job) break;
        const tasks = job.tasks;
        const at = tasks.at(event.taskId);
        this.#unlink(job, at);
        tasks.states[at] = event.type === "task-finished" ? FINISHED : FAILED;
        tasks.finishedMs[at] = timeMs;
        if (event.type === "task-failed") tasks.errors.set(at, event.error);
        break;
      }
      case "tasks-taken-back":
        // Assigned to a lost worker as these instances, never reported started: they may have
        // started all the same, so each task's next instance is past them, as if it had started
        // and its worker was lost (also for the crash count: this run may assign it once more).
        for (const [jobId, taskId, instanceId] of event.tasks) {
          const job = this.#jobs.get(jobId);
          if (!job) continue;
          const tasks = job.tasks;
          const at = tasks.at(taskId);
          const state = tasks.states[at];
          if (state !== WAITING && state !== RUNNING) continue;
          // Running only when a prune dropped the loss of the worker of its last start.
          if (state === RUNNING) {
            this.#unlink(job, at);
            tasks.waitAgain(at, this.#crashedRuns);
          }
          if (instanceId <= tasks.lastInstance[at]) continue;
          tasks.lastInstance[at] = instanceId;
          tasks.sinceCrash[at] = 2 * this.#crashedRuns | 1;
        }
        break;
      case "tasks-canceled":
      case "tasks-aborted":
        for (const [jobId, taskId] of event.tasks) {
          const job = this.#jobs.get(jobId);
          if (!job) continue;
          const at = job.tasks.at(taskId);
          this.#unlink(job, at);
          this.#end(job.tasks, at, event.type === "tasks-canceled" ? CANCELED : ABORTED);
        }
        break;
    }
  }

  finish(): RestoredState {
    // A run that did not end with server-stop crashed (or is still running: a journal file is
    // restored by the next run only).
    if (this.#runOpen) this.#crashedRuns++;
    this.#runOpen = false;
    this.#stopAllRunning();
    const crashedRuns = this.#crashedRuns;
    const jobs = [...this.#jobs.values()].sort((a, b) => a.jobId - b.jobId).map((job) => {
      // Each crash since the job was created may have started each of its waiting tasks once
      // more, unjournaled (starts are flushed with the flush period): they run past that.
      const firstInstance = crashedRuns - job.crashedRunsBefore;
      return {
        type: "job-restored" as const,
        jobId: job.jobId,
        name: job.name,
        maxFails: job.maxFails,
        isOpen: job.isOpen,
        cancelReason: job.cancelReason,
        submittedMs: job.submittedMs,
        submits: job.submits,
        canceledSubmits: job.canceledSubmits,
        tasks: job.tasks.columns(firstInstance, crashedRuns),
        ...(firstInstance > 0 ? { firstInstance } : {}),
      };
    });
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
      tasks: new TouchedTasks(),
      crashedRunsBefore: this.#crashedRuns,
      canceledSubmits: 0,
    };
  }

  /** Ends a task without it having run (canceled, aborted). */
  #end(tasks: TouchedTasks, at: number, state: number): void {
    tasks.states[at] = state;
    tasks.startedMs[at] = NaN;
    tasks.finishedMs[at] = NaN;
  }

  /** Forgets that a task runs. */
  #unlink(job: JobState, at: number): void {
    const tasks = job.tasks;
    if (tasks.states[at] !== RUNNING) return;
    tasks.running.delete(at);
    if (tasks.running.size === 0) this.#runningJobs.delete(job);
  }

  #stopAllRunning(): void {
    for (const job of this.#runningJobs) {
      for (const at of job.tasks.running) job.tasks.waitAgain(at, this.#crashedRuns);
      job.tasks.running.clear();
    }
    this.#runningJobs = new Set();
  }
}
