/**
 * The pure, synchronous core of the server: workers' lifecycle (spec server-worker §5), jobs and
 * their tasks' states (jobs spec §6), and placing waiting tasks on free CPUs. Events in, commands
 * out; time is passed in. The resource scheduler of its own issue replaces `#schedule`.
 */
import { requestVariants, type SubmitDescription } from "../../common/job_types.ts";
import type {
  JournalEvent,
  JournalTaskInstance,
  JournalTaskRef,
} from "../../common/journal/journal_events.ts";
import type { WorkerConfiguration, WorkerLostReason } from "../../common/protocol.ts";
import type {
  AssignedTask,
  CoreCommand,
  CoreEvent,
  JobId,
  TaskRef,
  WorkerId,
} from "./core_events.ts";
import {
  JobRecord,
  type ResourceNeed,
  SLOT_STATES,
  type SubmitRecord,
  type VariantNeeds,
} from "./job_record.ts";
import { Slot } from "./task_table.ts";
import { type QueueGroup, TaskQueue } from "./task_queue.ts";
import { TaskGraph } from "./task_graph.ts";
import { AMOUNT_FRACTIONS } from "../../common/resources/amount.ts";
import { CPU_RESOURCE_NAME, resourceItemSize } from "../../common/resources/resource_descriptor.ts";
import { type WaitingShape, waitingShapeLabel } from "../autoalloc/demand.ts";

/** A worker told to stop that is still connected this long later is dropped (spec §5.2). */
export const STOP_GRACE_MS = 60_000;
const MIN_CHECK_INTERVAL_MS = 500;
const MAX_CHECK_INTERVAL_MS = 5 * 60_000;

/** The slot of each of `RESTORED_TASK_STATES` (restored_tasks.ts). */
const RESTORED_SLOTS: readonly Slot[] = [
  Slot.Waiting,
  Slot.Finished,
  Slot.Failed,
  Slot.Canceled,
  Slot.Aborted,
];

/** A restored job's tasks located in its submits, in the order the core applies them. */
interface RestoredOrder {
  /** Positions in the event's columns of the tasks the job has, by submit, then index. */
  positions: Uint32Array;
  submitOf: Uint32Array;
  indexOf: Uint32Array;
}

/** A task placed on a worker: where it lives (its resources are its submit's needs). */
interface Placement {
  submit: SubmitRecord;
  index: number;
  /** A multi-node task's workers, root first; the one placement is shared by all of them. */
  nodes?: WorkerId[];
  /** The worker was asked to give it back (it was still queued there). */
  retracting?: boolean;
  /**
   * Placed beyond the worker's free resources (prefill, resources spec §5.1) and not started yet:
   * counted in `prefilled`, not `used`, and not among its assigned tasks.
   */
  prefilled?: boolean;
  /** Which of its submit's request variants it holds. */
  variant: number;
}

/**
 * How far beyond its resources a worker is given tasks ("prefill", resources spec §5.1): the
 * first scheduling pass fills what is free now, the second up to `prefillFactor` times the
 * worker's resources. The extra tasks wait in the worker's own queue and start the moment
 * resources free up, without a round trip to the server (what makes short tasks cheap). Small
 * workers get a deeper queue (at least PREFILL_CPU_SLOTS CPUs' worth), so that a 2-CPU worker
 * running tasks of a millisecond is not starved by round trips; queued tasks of lower priority
 * are taken back when higher-priority work waits (`#retractForPriority`).
 */
const MIN_PREFILL_FACTOR = 2;
/** The server's `prefillCpuSlots`: a 2-CPU worker may hold 32 one-CPU tasks. */
export const SERVER_PREFILL_CPU_SLOTS = 32;

export interface SchedulerCoreOptions {
  /**
   * Every worker may hold at least this many CPUs' worth of tasks (and always twice its own).
   * @default {0} (twice each worker's resources; what the core's unit tests assume)
   */
  prefillCpuSlots?: number;
}

/** Whether a submit's task could run on a worker now, later, or never. */
const Fit = { Now: 0, Busy: 1, Never: 2 } as const;
type Fit = typeof Fit[keyof typeof Fit];

export interface WorkerRecord {
  id: WorkerId;
  configuration: WorkerConfiguration;
  startedMs: number;
  /** Set once the worker is offline; never changes afterwards. */
  ended: { atMs: number; reason: WorkerLostReason } | null;
  lastHeartbeatMs: number;
  /** The reason recorded when the server (or the worker) decided it should stop. */
  stopReason: WorkerLostReason | null;
  stopRequestedMs: number | null;
  /** When the worker last became idle (no assigned tasks); null while it has tasks. */
  idleSinceMs: number | null;
  nextCheckMs: number;
  /** Resource totals (1/10000 units; indexed pools count 10000 per label) by resource id. */
  totals: number[];
  /**
   * Amounts held by the tasks placed on the worker to run now (running, or assigned while they
   * fitted its free resources), by resource id. Prefilled tasks are apart, as in HyperQueue: a
   * task that fits what is free is placed whatever prefilled tasks wait there.
   */
  used: number[];
  /** Amounts held by the prefilled tasks (queued beyond the free resources), by resource id. */
  prefilled: number[];
  /** How many placements are prefilled (`worker info` counts only the others as assigned). */
  prefilledTasks: number;
  /** When the worker's time limit ends it, or null. */
  endMs: number | null;
  /** Reserved whole by a multi-node task: nothing else is placed on it. */
  exclusive: boolean;
  /** How many times its resources it may hold in assigned tasks (`prefillFactor`). */
  prefill: number;
  /** Tasks assigned to (or running on) the worker, by `jobId:taskId`. */
  placements: Map<string, Placement>;
  runningTasks: number;
  lastTaskStarted: { jobId: number; taskId: number; timeMs: number } | null;
}

const LOSS_COUNTS_AS_CRASH: ReadonlySet<WorkerLostReason> = new Set([
  "connection-lost",
  "heartbeat-lost",
]);

export class SchedulerCore {
  readonly #prefillCpuSlots: number;

  constructor(options: SchedulerCoreOptions = {}) {
    this.#prefillCpuSlots = options.prefillCpuSlots ?? 0;
  }

  /** How many times its resources a worker with `cpuUnits` (1/10000) of CPUs may hold. */
  prefillFactor(cpuUnits: number): number {
    const cpus = cpuUnits / AMOUNT_FRACTIONS;
    if (cpus <= 0) return MIN_PREFILL_FACTOR;
    return Math.max(MIN_PREFILL_FACTOR, this.#prefillCpuSlots / cpus);
  }

  readonly #workers = new Map<WorkerId, WorkerRecord>();
  readonly #running = new Set<WorkerId>();
  readonly #jobs = new Map<JobId, JobRecord>();
  /** Submits with waiting tasks, in scheduling order (priority, then job id). */
  readonly #queue = new TaskQueue();
  #nowMs = 0;
  /** Tasks handed to a worker that has not started them yet (queued there). */
  #assignedCount = 0;
  /** The same, counted by priority. */
  readonly #assignedByPriority = new Map<number, number>();
  /** Running workers, not stopping or reserved, with CPUs not yet taken `prefill` times. */
  readonly #roomy = new Set<WorkerRecord>();
  /** Sum of the running workers' totals, by resource id (resources spec §5.3). */
  readonly #clusterTotals: number[] = [];
  /** The request variant the last `#fit` that answered `Now` chose. */
  #fittingVariant = 0;
  /** Distinct requests (needs and time request), numbered: submits of one shape fit alike. */
  readonly #shapeIds = new Map<string, number>();
  /** The request variants of each shape, by shape id. */
  readonly #shapeVariants: VariantNeeds[][] = [];
  /** Resource names numbered in order of first sight; `cpus` is 0. */
  readonly #resourceIds = new Map<string, number>([[CPU_RESOURCE_NAME, 0]]);
  /** Jobs completed since the shell last took them (`takeCompletedJobs`). */
  #completedJobs: JobRecord[] = [];
  /**
   * Whether to keep journal events of what happened to tasks and workers (`takeHistory`); off
   * unless a journal or a `journal stream` listens, as it costs an object per event.
   */
  recordHistory = false;
  #history: JournalEvent[] = [];

  handle(event: CoreEvent, nowMs: number): CoreCommand[] {
    this.#nowMs = nowMs;
    switch (event.type) {
      case "worker-joined":
        return this.#onWorkerJoined(event.workerId, event.configuration);
      case "worker-heartbeat": {
        const worker = this.#runningWorker(event.workerId);
        if (worker) worker.lastHeartbeatMs = nowMs;
        return [];
      }
      case "worker-stop-requested":
        return this.#requestStop(event.workerId, "stopped");
      case "worker-time-limit-reached": {
        const worker = this.#runningWorker(event.workerId);
        if (worker && worker.stopReason === null) {
          worker.stopReason = "time-limit-reached";
          this.#refreshRoom(worker);
          worker.stopRequestedMs = nowMs;
        }
        return [];
      }
      case "worker-connection-closed": {
        const worker = this.#runningWorker(event.workerId);
        if (worker) return this.#markOffline(worker, worker.stopReason ?? "connection-lost");
        return [];
      }
      case "tick":
        return this.#onTick();
      case "job-created": {
        const job = new JobRecord(event.jobId, event.name, event.maxFails, event.isOpen, nowMs);
        this.#jobs.set(job.id, job);
        if (event.submit) this.#addSubmit(job, event.submit);
        else this.#checkCompleted(job, false);
        return [];
      }
      case "tasks-added": {
        const job = this.#jobs.get(event.jobId);
        if (job) this.#addSubmit(job, event.submit);
        return [];
      }
      case "job-closed": {
        const job = this.#jobs.get(event.jobId);
        if (job) {
          job.isOpen = false;
          this.#checkCompleted(job);
        }
        return [];
      }
      case "job-canceled":
        return this.#cancelJob(event.jobId, event.reason);
      case "job-forgotten": {
        const job = this.#jobs.get(event.jobId);
        if (job?.isCompleted) this.#jobs.delete(event.jobId);
        return [];
      }
      case "task-started":
        this.#onTaskStarted(event.workerId, event.task);
        return [];
      case "task-finished":
        return this.#onTaskEnded(event.workerId, event.task, Slot.Finished, null, true);
      case "task-failed":
        return this.#onTaskEnded(
          event.workerId,
          event.task,
          Slot.Failed,
          event.error,
          event.started,
        );
      case "tasks-retracted":
        this.#onTasksRetracted(event.workerId, event.tasks);
        return [];
      case "job-restored":
        this.#restoreJob(event);
        return [];
      case "schedule":
        return this.#schedule();
    }
  }

  /** Every worker ever registered, running and offline, by id. */
  get workers(): ReadonlyMap<WorkerId, Readonly<WorkerRecord>> {
    return this.#workers;
  }

  /** Every job not forgotten, by id. */
  get jobs(): ReadonlyMap<JobId, JobRecord> {
    return this.#jobs;
  }

  /** Whether the worker is registered and not offline. */
  isRunning(workerId: WorkerId): boolean {
    return this.#running.has(workerId);
  }

  /** Whether any task waits while some running worker has free CPUs (worth a `schedule`). */
  get hasWork(): boolean {
    return !this.#queue.isEmpty;
  }

  /**
   * The tasks waiting at the server (on no worker), grouped by priority, request shape and
   * nodes, for the allocator's hypothetical question (journal-alloc spec §2.10), in scheduling
   * order. Costs per queued group and submit, never per task: a submit's waiting tasks are its
   * requeued ones plus those its cursor has not reached.
   */
  waitingShapes(): WaitingShape[] {
    const names: string[] = [];
    for (const [name, id] of this.#resourceIds) names[id] = name;
    const shapes: WaitingShape[] = [];
    for (const group of this.#queue.groups()) {
      let count = 0;
      for (const submit of group.submits) {
        count += submit.requeued.length;
        if (submit.untouchedWaiting) count += submit.ids.count - submit.cursor;
      }
      if (count === 0) continue;
      const variants = group.first!.variants.map((variant) => ({
        needs: variant.needs.map((need) => ({
          resource: names[need.resourceId],
          amount: need.amount,
          all: need.all,
        })),
        timeRequestMs: variant.timeRequestMs,
      }));
      shapes.push({
        priority: group.priority,
        nodes: group.nodes,
        count,
        variants,
        label: waitingShapeLabel(group.nodes, variants),
      });
    }
    return shapes;
  }

  // ---------------------------------------------------------------------------------------------
  // Workers

  #onWorkerJoined(workerId: WorkerId, configuration: WorkerConfiguration): CoreCommand[] {
    const worker: WorkerRecord = {
      id: workerId,
      configuration,
      startedMs: this.#nowMs,
      ended: null,
      lastHeartbeatMs: this.#nowMs,
      stopReason: null,
      stopRequestedMs: null,
      idleSinceMs: this.#nowMs,
      nextCheckMs: this.#nowMs + checkIntervalMs(configuration),
      totals: this.#totalsOf(configuration),
      used: [],
      prefilled: [],
      prefilledTasks: 0,
      endMs: configuration.timeLimitMs === null ? null : this.#nowMs + configuration.timeLimitMs,
      exclusive: false,
      prefill: 0,
      placements: new Map(),
      runningTasks: 0,
      lastTaskStarted: null,
    };
    worker.prefill = this.prefillFactor(worker.totals[0] ?? 0);
    this.#workers.set(workerId, worker);
    this.#running.add(workerId);
    this.#changeClusterTotals(worker, 1);
    this.#refreshRoom(worker);
    return [];
  }

  #requestStop(workerId: WorkerId, reason: WorkerLostReason): CoreCommand[] {
    const worker = this.#runningWorker(workerId);
    if (!worker || worker.stopReason !== null) return [];
    worker.stopReason = reason;
    this.#refreshRoom(worker);
    worker.stopRequestedMs = this.#nowMs;
    return [{ type: "stop-worker", workerId }];
  }

  #onTick(): CoreCommand[] {
    const now = this.#nowMs;
    const commands: CoreCommand[] = [];
    for (const workerId of this.#running) {
      const worker = this.#workers.get(workerId)!;
      if (now < worker.nextCheckMs) continue;
      worker.nextCheckMs = now + checkIntervalMs(worker.configuration);
      const { heartbeatIntervalMs, idleTimeoutMs } = worker.configuration;
      if (now - worker.lastHeartbeatMs > 2 * heartbeatIntervalMs) {
        commands.push({ type: "disconnect-worker", workerId });
        commands.push(...this.#markOffline(worker, worker.stopReason ?? "heartbeat-lost"));
      } else if (worker.stopRequestedMs !== null && now - worker.stopRequestedMs > STOP_GRACE_MS) {
        commands.push({ type: "disconnect-worker", workerId });
        commands.push(...this.#markOffline(worker, worker.stopReason!));
      } else if (
        idleTimeoutMs !== null && worker.stopReason === null && worker.idleSinceMs !== null &&
        now - worker.idleSinceMs > idleTimeoutMs
      ) {
        commands.push(...this.#requestStop(workerId, "idle-timeout"));
      }
    }
    return commands;
  }

  /** Records the loss and puts the worker's tasks back (spec jobs §6.4). */
  #markOffline(worker: WorkerRecord, reason: WorkerLostReason): CoreCommand[] {
    worker.ended = { atMs: this.#nowMs, reason };
    if (this.recordHistory) {
      this.#history.push({ type: "worker-lost", workerId: worker.id, reason });
    }
    this.#roomy.delete(worker);
    this.#running.delete(worker.id);
    this.#changeClusterTotals(worker, -1);
    const commands: CoreCommand[] = [];
    /** Instance ids of tasks assigned here but not reported started: they may have started. */
    const takenBack: JournalTaskInstance[] = [];
    for (const placement of worker.placements.values()) {
      const { submit, index, nodes } = placement;
      if (nodes) {
        // Losing a non-root node leaves a multi-node task running (jobs spec §5.6); losing the
        // root frees the other nodes and requeues it like any task.
        if (nodes[0] !== worker.id) {
          nodes.splice(nodes.indexOf(worker.id), 1);
          continue;
        }
        this.#releaseOtherNodes(worker, placement);
      }
      const table = submit.table;
      const wasRunning = table.state(index) === Slot.Running;
      const crashLimit = submit.description.template.crashLimit;
      const instanceId = table.instanceId(index);
      if (!wasRunning && this.recordHistory) {
        takenBack.push([submit.job.id, submit.ids.idAt(index), instanceId]);
      }
      table.setInstanceId(index, instanceId + 1);
      table.setWorkerId(index, null);
      table.setStartedMs(index, null);
      this.#setSlot(submit, index, Slot.Waiting);
      let failure: string | null = null;
      if (wasRunning && crashLimit === "never-restart") {
        failure = "Task was running on a lost worker while never restart flag was set.";
      } else if (
        wasRunning && LOSS_COUNTS_AS_CRASH.has(reason) && typeof crashLimit === "number"
      ) {
        const crashes = table.addCrash(index);
        if (crashes >= crashLimit) {
          failure =
            `Task was running on a worker that was lost; the task has occurred ${crashes} times in this situation and limit was reached.`;
        }
      }
      if (failure !== null) {
        if (this.recordHistory) {
          const taskId = submit.ids.idAt(index);
          this.#history.push({ type: "task-failed", jobId: submit.job.id, taskId, error: failure });
        }
        table.setError(index, failure);
        table.setFinishedMs(index, this.#nowMs);
        commands.push(...this.#finishTask(submit, index, Slot.Failed));
      } else {
        submit.requeued.push(index);
        this.#enqueue(submit);
      }
    }
    // Journaled (a restore raises these tasks past them): the loss requeued them as their next
    // instance in memory only.
    if (takenBack.length > 0) this.#history.push({ type: "tasks-taken-back", tasks: takenBack });
    worker.placements.clear();
    worker.used.fill(0);
    worker.prefilled.fill(0);
    worker.prefilledTasks = 0;
    worker.runningTasks = 0;
    worker.exclusive = false;
    return commands;
  }

  // ---------------------------------------------------------------------------------------------
  // Jobs and tasks

  #addSubmit(job: JobRecord, description: SubmitDescription): void {
    const submit = job.addSubmit(description);
    const variants = requestVariants(description.template).map((variant) => ({
      needs: variant.resources.map((entry) => ({
        resourceId: this.#resourceId(entry.name),
        amount: entry.amount,
        all: entry.policy === "all",
      })),
      timeRequestMs: variant.timeRequestMs,
      weight: variant.weight,
    }));
    const shape = variants.map((variant) =>
      `${variant.timeRequestMs}:${variant.weight}:${
        variant.needs.map((need) => `${need.resourceId}=${need.all ? "all" : need.amount}`)
          .join(",")
      }`
    ).join("|");
    let shapeId = this.#shapeIds.get(shape);
    if (shapeId === undefined) {
      this.#shapeIds.set(shape, shapeId = this.#shapeIds.size);
      this.#shapeVariants.push(variants);
    }
    // One shared copy per shape: 100,000 one-task jobs need not hold 100,000 copies.
    submit.variants = this.#shapeVariants[shapeId];
    submit.needsCpus = submit.nodes > 0 ||
      submit.variants.every((variant) => variant.needs.some((need) => need.resourceId === 0));
    submit.shapeId = shapeId;
    if (description.deps) this.#addGraphEdges(job, submit, description.deps);
    else job.graph?.ensureTasks(job.taskCount);
    if (submit.hasWaitingTasks()) this.#enqueue(submit);
    else if (submit.ids.count === 0) this.#checkCompleted(job, false);
  }

  /**
   * A graph submit's tasks are all placed at once (its cursor at the end): those waiting for no
   * unfinished dependency are queued now, the others when their last dependency finishes. A
   * dependency on a task that already ended is dropped (resources spec §10, open jobs).
   */
  #addGraphEdges(job: JobRecord, submit: SubmitRecord, deps: readonly number[][]): void {
    const graph = job.graph ??= new TaskGraph();
    graph.ensureTasks(job.taskCount);
    submit.cursor = submit.ids.count;
    submit.untouchedWaiting = false;
    for (let index = 0; index < submit.ids.count; index++) {
      const number = submit.base + index;
      for (const id of deps[index] ?? []) {
        // Unknown ids and cycles are refused before the core (§9.5); a self-edge would never end.
        const found = job.findTask(id);
        if (!found || found.submit.table.state(found.index) >= Slot.Finished) continue;
        const dependency = found.submit.base + found.index;
        if (dependency !== number) graph.addEdge(dependency, number);
      }
      if (graph.waitingDeps(number) === 0) submit.requeued.push(index);
    }
  }

  /**
   * A task of a job with dependencies ended: a finished one frees its dependents (those left
   * waiting for nothing are queued), any other end aborts every waiting transitive dependent.
   */
  #settleDependents(job: JobRecord, number: number, finished: boolean): void {
    const graph = job.graph!;
    if (finished) {
      graph.release(number, (dependent) => {
        const { submit, index } = job.taskAt(dependent);
        if (submit.table.state(index) !== Slot.Waiting) return;
        submit.requeued.push(index);
        if (!submit.queued) this.#enqueue(submit);
      });
      return;
    }
    const aborted: JournalTaskRef[] = [];
    const pending = [number];
    const abort = (dependent: number) => {
      const { submit, index } = job.taskAt(dependent);
      if (submit.table.state(index) !== Slot.Waiting) return;
      this.#setSlot(submit, index, Slot.Aborted);
      aborted.push([job.id, submit.ids.idAt(index)]);
      pending.push(dependent);
    };
    while (pending.length > 0) graph.forEachDependent(pending.pop()!, abort);
    if (aborted.length > 0 && this.recordHistory) {
      this.#history.push({ type: "tasks-aborted", tasks: aborted });
    }
  }

  #cancelJob(jobId: JobId, reason: string | null): CoreCommand[] {
    const job = this.#jobs.get(jobId);
    if (!job) return [];
    const canceled = job.activeTasks;
    const commands = this.#stopActiveTasks(job, Slot.Canceled);
    if (canceled > 0) job.cancelReason = reason;
    return commands;
  }

  /** Cancels or aborts every waiting and running task of the job. */
  #stopActiveTasks(job: JobRecord, target: Slot): CoreCommand[] {
    const byWorker = new Map<WorkerId, TaskRef[]>();
    const stopped: JournalTaskRef[] | null = this.recordHistory ? [] : null;
    for (const submit of job.submits) {
      const table = submit.table;
      // Touched tasks: scan what the cursor passed (plus requeued ones, which are below it).
      for (let index = 0; index < submit.cursor; index++) {
        const slot = table.state(index);
        if (slot === Slot.Assigned || slot === Slot.Running) {
          const taskId = submit.ids.idAt(index);
          const workerId = table.workerId(index)!;
          const refs = byWorker.get(workerId) ?? [];
          refs.push({ jobId: job.id, taskId, instanceId: table.instanceId(index) });
          byWorker.set(workerId, refs);
          const worker = this.#workers.get(workerId);
          if (worker && slot === Slot.Running) worker.runningTasks--;
          // Only prefilled there, never started: users never see it on that worker.
          if (this.#release(worker, job.id, taskId)?.prefilled) table.setWorkerId(index, null);
          // A started task ends at the cancel: its makespan stops growing there.
          if (table.startedMs(index) !== null) table.setFinishedMs(index, this.#nowMs);
          this.#setSlot(submit, index, target);
          stopped?.push([job.id, taskId]);
        } else if (slot === Slot.Waiting) {
          this.#setSlot(submit, index, target);
          stopped?.push([job.id, submit.ids.idAt(index)]);
        }
      }
      submit.requeued.clear();
      if (submit.untouchedWaiting && submit.cursor < submit.ids.count) {
        if (stopped) {
          for (let index = submit.cursor; index < submit.ids.count; index++) {
            stopped.push([job.id, submit.ids.idAt(index)]);
          }
        }
        const count = submit.ids.count - submit.cursor;
        submit.untouchedWaiting = false;
        table.setUntouched(submit.cursor, target);
        job.counts.waiting -= count;
        job.counts[SLOT_STATES[target]] += count;
      }
    }
    this.#queue.prune(true);
    if (stopped && stopped.length > 0) {
      const type = target === Slot.Canceled ? "tasks-canceled" : "tasks-aborted";
      this.#history.push({ type, tasks: stopped });
    }
    this.#checkCompleted(job);
    return [...byWorker].map(([workerId, tasks]) => ({ type: "cancel-tasks", workerId, tasks }));
  }

  #onTaskStarted(workerId: WorkerId, ref: TaskRef): void {
    const found = this.#locate(workerId, ref);
    if (!found || found.submit.table.state(found.index) !== Slot.Assigned) return;
    const { submit, index } = found;
    this.#setSlot(submit, index, Slot.Running);
    submit.table.setStartedMs(index, this.#nowMs);
    if (this.recordHistory) {
      this.#history.push({
        type: "task-started",
        jobId: ref.jobId,
        taskId: ref.taskId,
        instanceId: ref.instanceId,
        workerIds: found.nodes ? found.nodes.slice() : [workerId],
        variant: found.variant,
      });
    }
    const worker = this.#workers.get(workerId)!;
    if (found.prefilled) {
      // Started: it now holds resources like any running task.
      const needs = submit.variants[found.variant].needs;
      this.#addUse(worker, needs, -1, true);
      found.prefilled = false;
      this.#addUse(worker, needs, 1);
    }
    worker.runningTasks++;
    worker.lastTaskStarted = { jobId: ref.jobId, taskId: ref.taskId, timeMs: this.#nowMs };
  }

  #onTaskEnded(
    workerId: WorkerId,
    ref: TaskRef,
    target: Slot,
    error: string | null,
    started: boolean,
  ): CoreCommand[] {
    const found = this.#locate(workerId, ref);
    if (!found) return [];
    const { submit, index } = found;
    const slot = submit.table.state(index);
    if (slot !== Slot.Assigned && slot !== Slot.Running) return [];
    const worker = this.#workers.get(workerId)!;
    if (slot === Slot.Running) worker.runningTasks--;
    this.#release(worker, ref.jobId, ref.taskId);
    const table = submit.table;
    if (!started && slot === Slot.Assigned) {
      // Failed while being prepared: it never ran, so it has no worker or start time (§5.1).
      table.setWorkerId(index, null);
      table.setStartedMs(index, null);
    } else if (slot === Slot.Assigned) {
      table.setStartedMs(index, this.#nowMs);
    }
    table.setFinishedMs(index, this.#nowMs);
    if (error !== null) table.setError(index, error);
    if (this.recordHistory) {
      this.#history.push(
        target === Slot.Finished
          ? { type: "task-finished", jobId: ref.jobId, taskId: ref.taskId }
          : { type: "task-failed", jobId: ref.jobId, taskId: ref.taskId, error: error ?? "" },
      );
    }
    return this.#finishTask(submit, index, target);
  }

  /**
   * Recreates a job from the journal (journal spec §1.4): its submits, then the tasks that are
   * not plainly waiting — ended ones keep their state, waiting ones their instance id and crash
   * count. Tasks before the last restored one of a submit that were not restored wait again.
   */
  #restoreJob(event: Extract<CoreEvent, { type: "job-restored" }>): void {
    const job = new JobRecord(
      event.jobId,
      event.name,
      event.maxFails,
      event.isOpen,
      event.submittedMs,
    );
    job.cancelReason = event.cancelReason;
    this.#jobs.set(job.id, job);
    for (const description of event.submits) this.#addSubmit(job, description);
    const firstInstance = event.firstInstance ?? 0;
    if (firstInstance > 0) {
      for (const submit of job.submits) submit.table.setFirstInstance(firstInstance, this.#nowMs);
    }
    const tasks = event.tasks;
    const order = this.#locateRestored(job, event);
    const { positions, submitOf, indexOf } = order;
    // The job's task number last applied: a duplicate comes right after it (positions are sorted).
    let previous = -1;
    for (const at of positions) {
      const submit = job.submits[submitOf[at]];
      const index = indexOf[at];
      const table = submit.table;
      if (submit.description.deps) {
        // Graph submits have every task placed already (`#addGraphEdges`).
        if (submit.base + index === previous) continue; // A duplicate.
        previous = submit.base + index;
      } else {
        if (index < submit.cursor) continue; // A duplicate.
        for (let gap = submit.cursor; gap < index; gap++) submit.requeued.push(gap);
        submit.cursor = index + 1;
      }
      const slot = RESTORED_SLOTS[tasks.states[at]];
      // Ended tasks without their own instance id read 0, waiting ones the first instance.
      const instanceId = tasks.instanceIds[at];
      if (instanceId !== (slot === Slot.Waiting ? firstInstance : 0) || tasks.crashes[at] > 0) {
        table.setInstanceId(index, instanceId);
      }
      for (let crash = 0; crash < tasks.crashes[at]; crash++) table.addCrash(index);
      if (slot === Slot.Waiting) {
        if (!submit.description.deps) submit.requeued.push(index);
        continue;
      }
      this.#setSlot(submit, index, slot);
      table.setWorkerId(index, tasks.workerIds[at] === 0 ? null : tasks.workerIds[at]);
      const startedMs = tasks.startedMs[at];
      const finishedMs = tasks.finishedMs[at];
      table.setStartedMs(index, Number.isNaN(startedMs) ? null : startedMs);
      table.setFinishedMs(index, Number.isNaN(finishedMs) ? null : finishedMs);
      const error = tasks.errors.get(at);
      if (error !== undefined) table.setError(index, error);
    }
    for (const submit of job.submits.slice(0, event.canceledSubmits ?? 0)) {
      this.#cancelUntouched(submit);
    }
    if (job.graph) this.#restoreReadiness(job, event, order);
    this.#queue.prune(true);
    this.#checkCompleted(job, false);
  }

  /**
   * Finds each restored task's submit and index (dropping ids the job lacks) and orders them by
   * submit, then index: usually in order already (tasks run roughly in id order), so the sort of
   * a million positions is rarely paid.
   */
  #locateRestored(
    job: JobRecord,
    event: Extract<CoreEvent, { type: "job-restored" }>,
  ): RestoredOrder {
    const { count, taskIds } = event.tasks;
    const submitOf = new Uint32Array(count);
    const indexOf = new Uint32Array(count);
    let positions = new Uint32Array(count);
    let found = 0;
    let sorted = true;
    for (let at = 0; at < count; at++) {
      const located = job.findTask(taskIds[at]);
      if (!located) continue;
      submitOf[at] = located.submit.index;
      indexOf[at] = located.index;
      if (found > 0 && sorted) {
        const previous = positions[found - 1];
        sorted = submitOf[previous] < submitOf[at] ||
          (submitOf[previous] === submitOf[at] && indexOf[previous] <= indexOf[at]);
      }
      positions[found++] = at;
    }
    positions = positions.subarray(0, found);
    if (!sorted) positions.sort((a, b) => submitOf[a] - submitOf[b] || indexOf[a] - indexOf[b]);
    return { positions, submitOf, indexOf };
  }

  /**
   * After a restore, every ended task counts off its dependents (a failed one's were aborted in
   * the journal already; a dependency dropped for having ended must not block either), and the
   * graph submits' queues keep only their waiting tasks.
   */
  #restoreReadiness(
    job: JobRecord,
    event: Extract<CoreEvent, { type: "job-restored" }>,
    order: RestoredOrder,
  ): void {
    const graph = job.graph!;
    const states = event.tasks.states;
    for (const at of order.positions) {
      if (RESTORED_SLOTS[states[at]] === Slot.Waiting) continue;
      const submit = job.submits[order.submitOf[at]];
      graph.release(submit.base + order.indexOf[at], (dependent) => {
        const { submit, index } = job.taskAt(dependent);
        if (submit.table.state(index) === Slot.Waiting) submit.requeued.push(index);
      });
    }
    for (const submit of job.submits) {
      if (!submit.description.deps) continue;
      const waiting = submit.requeued.toArray()
        .filter((index) => submit.table.state(index) === Slot.Waiting);
      submit.requeued.clear();
      // Ready tasks run in index order, as they would have without the restart.
      for (const index of waiting.sort((a, b) => a - b)) submit.requeued.push(index);
      if (submit.requeued.length > 0) this.#enqueue(submit);
    }
  }

  /** Cancels a restored submit's tasks that the journal names no state for (still waiting). */
  #cancelUntouched(submit: SubmitRecord): void {
    // A graph submit's tasks waiting for dependencies are in no queue: look at every task.
    const indices = submit.description.deps
      ? Array.from({ length: submit.ids.count }, (_, index) => index)
      : submit.requeued.toArray();
    for (const index of indices) {
      if (submit.table.state(index) === Slot.Waiting) this.#setSlot(submit, index, Slot.Canceled);
    }
    submit.requeued.clear();
    if (submit.untouchedWaiting && submit.cursor < submit.ids.count) {
      const count = submit.ids.count - submit.cursor;
      submit.untouchedWaiting = false;
      submit.table.setUntouched(submit.cursor, Slot.Canceled);
      submit.job.counts.waiting -= count;
      submit.job.counts.canceled += count;
    }
  }

  /** Moves a task to a final state, applies `--max-fails`, and completes the job if done. */
  #finishTask(submit: SubmitRecord, index: number, target: Slot): CoreCommand[] {
    this.#setSlot(submit, index, target);
    const job = submit.job;
    if (target === Slot.Failed && job.maxFails !== null && job.counts.failed > job.maxFails) {
      return this.#stopActiveTasks(job, Slot.Aborted);
    }
    if (job.graph) this.#settleDependents(job, submit.base + index, target === Slot.Finished);
    this.#checkCompleted(job);
    return [];
  }

  /** `idle`: an open job left with no active task is worth a `job-idle` event (not at creation). */
  #checkCompleted(job: JobRecord, idle = true): void {
    if (job.isCompleted && job.completedMs === null) {
      job.completedMs = this.#nowMs;
      this.#completedJobs.push(job);
    } else if (idle && this.recordHistory && job.isOpen && job.activeTasks === 0) {
      this.#history.push({ type: "job-idle", jobId: job.id });
    }
  }

  /**
   * What happened to tasks and workers since the last call, in order, as journal events (task
   * starts and ends, cancels, aborts, lost workers); empty unless `recordHistory` is on.
   */
  takeHistory(): JournalEvent[] {
    const events = this.#history;
    if (events.length > 0) this.#history = [];
    return events;
  }

  /**
   * The jobs that completed (closed, nothing waiting or running) since the last call, in order;
   * each job once (closed jobs never reopen).
   */
  takeCompletedJobs(): JobRecord[] {
    const jobs = this.#completedJobs;
    if (jobs.length > 0) this.#completedJobs = [];
    return jobs;
  }

  /** Sets a task's slot and keeps the job's counters in step. */
  #setSlot(submit: SubmitRecord, index: number, slot: Slot): void {
    const previous = submit.table.state(index);
    submit.table.setState(index, slot);
    if (previous === Slot.Assigned) {
      this.#assignedCount--;
      this.#assignedByPriority.set(
        submit.priority,
        this.#assignedByPriority.get(submit.priority)! - 1,
      );
    }
    if (slot === Slot.Assigned) {
      this.#assignedCount++;
      this.#assignedByPriority.set(
        submit.priority,
        (this.#assignedByPriority.get(submit.priority) ?? 0) + 1,
      );
    }
    const counts = submit.job.counts;
    counts[SLOT_STATES[previous]]--;
    counts[SLOT_STATES[slot]]++;
  }

  /** The task a worker reported, if that worker holds exactly that instance. */
  #locate(workerId: WorkerId, ref: TaskRef): Placement | null {
    const placement = this.#workers.get(workerId)?.placements.get(`${ref.jobId}:${ref.taskId}`);
    if (!placement) return null;
    if (placement.submit.table.instanceId(placement.index) !== ref.instanceId) return null;
    return placement;
  }

  /** Frees the resources a task held on a worker; the placement it had there, if any. */
  #release(
    worker: WorkerRecord | undefined,
    jobId: JobId,
    taskId: number,
  ): Placement | undefined {
    if (!worker) return undefined;
    const key = `${jobId}:${taskId}`;
    const placement = worker.placements.get(key);
    if (!placement) return undefined;
    worker.placements.delete(key);
    this.#addUse(
      worker,
      placement.submit.variants[placement.variant].needs,
      -1,
      placement.prefilled === true,
    );
    if (placement.nodes) {
      worker.exclusive = false;
      this.#refreshRoom(worker);
      this.#releaseOtherNodes(worker, placement);
    }
    if (worker.placements.size === 0) worker.idleSinceMs = this.#nowMs;
    return placement;
  }

  /** Puts tasks a worker gave back (never started there) back in the queue, same instance. */
  #onTasksRetracted(workerId: WorkerId, refs: TaskRef[]): void {
    for (const ref of refs) {
      const found = this.#locate(workerId, ref);
      if (!found || found.submit.table.state(found.index) !== Slot.Assigned) continue;
      const { submit, index } = found;
      this.#release(this.#workers.get(workerId), ref.jobId, ref.taskId);
      submit.table.setWorkerId(index, null);
      this.#setSlot(submit, index, Slot.Waiting);
      submit.requeued.push(index);
      this.#enqueue(submit);
    }
  }

  /** Ends a multi-node task's reservation of its workers other than `root`. */
  #releaseOtherNodes(root: WorkerRecord, placement: Placement): void {
    const task = placement.submit.ids.idAt(placement.index);
    const key = `${placement.submit.job.id}:${task}`;
    for (const workerId of placement.nodes!) {
      const worker = this.#workers.get(workerId);
      if (!worker || worker === root || worker.placements.get(key) !== placement) continue;
      worker.placements.delete(key);
      worker.exclusive = false;
      this.#refreshRoom(worker);
      if (worker.placements.size === 0) worker.idleSinceMs = this.#nowMs;
    }
  }

  #resourceId(name: string): number {
    let id = this.#resourceIds.get(name);
    if (id === undefined) {
      id = this.#resourceIds.size;
      this.#resourceIds.set(name, id);
    }
    return id;
  }

  #totalsOf(configuration: WorkerConfiguration): number[] {
    const totals: number[] = [];
    for (const item of configuration.resources.resources) {
      const size = resourceItemSize(item);
      totals[this.#resourceId(item.name)] = item.kind === "sum" ? size : size * AMOUNT_FRACTIONS;
    }
    return totals;
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling (resources spec §5): priority first, then job id; each worker is filled first with
  // what fits its free resources, then prefilled. A lower-priority task never takes resources on
  // a worker where a waiting higher-priority task fits but has to wait for them.

  /**
   * Resources spec §5.3: at equal priority, tasks that take a larger share of the cluster go
   * first; a task's value is weight × Σ amount / cluster total (over its best variant). The
   * cluster's totals change only when workers come and go, and then the queue is re-sorted.
   */
  #changeClusterTotals(worker: WorkerRecord, sign: 1 | -1): void {
    worker.totals.forEach((total, id) => {
      this.#clusterTotals[id] = (this.#clusterTotals[id] ?? 0) + sign * (total ?? 0);
    });
    this.#queue.revalue((group) => group.first ? this.#valueOf(group.first) : 0);
  }

  #valueOf(submit: SubmitRecord): number {
    let best = 0;
    for (const variant of submit.variants) best = Math.max(best, this.#variantValue(variant));
    return best;
  }

  #variantValue(variant: VariantNeeds): number {
    let share = 0;
    for (const need of variant.needs) {
      const total = this.#clusterTotals[need.resourceId] ?? 0;
      // `all` takes a whole pool: counted as one worker's worth, the most it can be.
      if (total > 0) share += need.all ? 1 : need.amount / total;
    }
    return variant.weight * share;
  }

  #enqueue(submit: SubmitRecord): void {
    this.#queue.add(
      submit,
      `${submit.priority}|${submit.shapeId}|${submit.nodes}`,
      () => this.#valueOf(submit),
    );
  }

  #schedule(): CoreCommand[] {
    const assigned = new Map<WorkerId, AssignedTask[]>();
    const add = (workerId: WorkerId, task: AssignedTask) => {
      const tasks = assigned.get(workerId);
      if (tasks) tasks.push(task);
      else assigned.set(workerId, [task]);
    };
    if (!this.#queue.isEmpty) {
      this.#placeMultiNode(add);
      this.#placeSingleNode(add, assigned);
      this.#queue.prune(false);
    }
    const commands: CoreCommand[] = [...assigned].map(([workerId, tasks]) => ({
      type: "assign-tasks",
      workerId,
      tasks,
    }));
    if (!this.#queue.isEmpty) commands.push(...this.#retractForPriority());
    if (this.#queue.isEmpty && this.#assignedCount > 0) commands.push(...this.#rebalance());
    return commands;
  }

  /** Multi-node tasks go first: they need whole idle workers, which single-node tasks would take. */
  #placeMultiNode(add: (workerId: WorkerId, task: AssignedTask) => void): void {
    for (const group of this.#queue.groups()) {
      if (group.nodes === 0) continue;
      let submit: SubmitRecord | null;
      let nodes: WorkerRecord[] | null;
      while ((submit = group.front()) && (nodes = this.#idleGroup(submit, group.nodes))) {
        const index = submit.takeNext();
        if (index >= 0) add(nodes[0].id, this.#assignNodes(nodes, submit, index));
      }
      this.#queue.touch();
    }
  }

  /**
   * Two passes over the queue, in its order: first what fits the workers' free resources, then
   * prefill up to PREFILL_FACTOR. A submit is placed on every worker it fits (lowest ids first)
   * before the next one is looked at; if some of its tasks still wait, the workers it is capable
   * of but that are busy are closed to lower priorities for the rest of the pass (resources spec
   * §5.2, strict priority). A pass ends as soon as no open worker has room.
   */
  #placeSingleNode(
    add: (workerId: WorkerId, task: AssignedTask) => void,
    assigned: Map<WorkerId, AssignedTask[]>,
  ): void {
    const skipped = new Set<WorkerRecord>();
    const cpuless = this.#queue.groups().some((group) => !group.needsCpus);
    for (const prefill of [false, true]) {
      const factorOf = (worker: WorkerRecord) => prefill ? worker.prefill : 1;
      const workers: WorkerRecord[] = [];
      for (const worker of cpuless ? this.#runningRecords() : this.#roomy) {
        if (worker.stopReason !== null || worker.exclusive || skipped.has(worker)) continue;
        if (cpuless || hasCpuRoom(worker, factorOf(worker))) workers.push(worker);
      }
      if (workers.length === 0) continue;
      workers.sort((a, b) => a.id - b.id);
      const hasRoom = (worker: WorkerRecord) => cpuless || hasCpuRoom(worker, factorOf(worker));
      const blocked = new Set<WorkerRecord>();
      // Within a pass a worker only fills up, so a request that did not fit it never will.
      const misfits = new Map<WorkerRecord, Set<number>>();
      const fit = (worker: WorkerRecord, submit: SubmitRecord): Fit => {
        let shapes = misfits.get(worker);
        if (shapes?.has(submit.shapeId)) return Fit.Busy;
        const result = this.#fit(worker, submit, factorOf(worker));
        if (result !== Fit.Now) {
          if (!shapes) misfits.set(worker, shapes = new Set());
          shapes.add(submit.shapeId);
        }
        return result;
      };
      let open = workers.length;
      let pending: WorkerRecord[] = [];
      let level = NaN;
      const ordered = this.#queue.groups();
      for (let at = 0; at < ordered.length; at++) {
        const group = ordered[at];
        if (open === 0) break;
        if (group.priority !== level) {
          for (const worker of pending) {
            if (blocked.has(worker)) continue;
            blocked.add(worker);
            if (hasRoom(worker)) open--;
          }
          pending = [];
          level = group.priority;
          if (open === 0) break;
          const levelGroups = prefill ? [] : jointCandidates(ordered, at);
          if (levelGroups.length >= 2) {
            for (const worker of workers) {
              if (blocked.has(worker) || !hasRoom(worker)) continue;
              this.#placeJointly(worker, levelGroups, add);
              if (!hasRoom(worker)) open--;
            }
            if (open === 0) break;
          }
        }
        if (group.nodes > 0) continue;
        // Every submit of a group asks the same: one fit check serves all of them.
        let submit = group.front();
        if (submit === null) continue;
        for (const worker of workers) {
          if (blocked.has(worker) || !hasRoom(worker)) continue;
          while (submit !== null && fit(worker, submit) === Fit.Now) {
            const index = submit.takeNext();
            if (index < 0) {
              submit = group.front();
              this.#queue.touch();
              continue;
            }
            add(worker.id, this.#assign(worker, submit, index, prefill));
          }
          if (!hasRoom(worker)) open--;
          if (submit === null || open === 0) break;
        }
        if (submit === null || group.front() === null) continue;
        for (const worker of workers) {
          if (blocked.has(worker) || !hasRoom(worker)) continue;
          if (this.#fit(worker, submit, factorOf(worker)) === Fit.Busy) pending.push(worker);
        }
      }
      if (prefill) continue;
      for (const worker of workers) {
        // Server-worker spec §4.1: no tasks unless that much of the CPUs would be in use.
        const { minUtilization } = worker.configuration;
        const cpus = worker.totals[0] ?? 0;
        if (minUtilization > 0 && cpus > 0 && (worker.used[0] ?? 0) < minUtilization * cpus) {
          skipped.add(worker);
          const tasks = assigned.get(worker.id);
          if (tasks) {
            assigned.delete(worker.id);
            this.#unassign(worker, tasks);
          }
        }
      }
    }
  }

  /**
   * Resources spec §5.3 (and §5.4 `--min-utilization`): at one priority level, the tasks of
   * different requests placed on a worker are chosen jointly to maximise the summed value, not
   * greedily by value per task (a 12-CPU worker takes four 3-CPU tasks of weight 2 before one
   * `all` task of weight 1), and only sets that keep the worker's minimal utilization count.
   * When the greedy order already is the best set, nothing is placed here: the caller's greedy
   * loop does it, so common rounds are unchanged. Levels with one request, and requests with
   * variants, stay greedy.
   */
  #placeJointly(
    worker: WorkerRecord,
    candidates: readonly QueueGroup[],
    add: (workerId: WorkerId, task: AssignedTask) => void,
  ): void {
    const groups: QueueGroup[] = [];
    for (const group of candidates) {
      const submit = group.front();
      if (submit === null) continue;
      if (this.#fitVariant(worker, submit.variants[0], 1) !== Fit.Now) continue;
      groups.push(group);
    }
    if (groups.length < 2) return;
    // Room per resource: free at 1x, and within the prefill factor for all the worker holds.
    const room = worker.totals.map((total, id) =>
      Math.min(
        (total ?? 0) - (worker.used[id] ?? 0),
        (total ?? 0) * worker.prefill - (worker.used[id] ?? 0) - (worker.prefilled[id] ?? 0),
      )
    );
    const amountsOf = groups.map((group) =>
      group.first!.variants[0].needs.map((need) => ({
        id: need.resourceId,
        amount: need.all ? worker.totals[need.resourceId] ?? 0 : need.amount,
      }))
    );
    const limits = groups.map((group, g) => {
      let limit = JOINT_MAX_COUNT;
      for (const { id, amount } of amountsOf[g]) {
        if (amount > 0) limit = Math.min(limit, Math.floor((room[id] ?? 0) / amount));
      }
      return group.countWaiting(limit);
    });
    // Room for every waiting task of the level: greedy takes them all, which no set beats.
    const wanted: number[] = [];
    amountsOf.forEach((amounts, g) => {
      for (const { id, amount } of amounts) wanted[id] = (wanted[id] ?? 0) + limits[g] * amount;
    });
    if (wanted.every((amount, id) => amount === undefined || amount <= (room[id] ?? 0))) return;
    const cpus = worker.totals[0] ?? 0;
    const minCpus = worker.configuration.minUtilization * cpus - (worker.used[0] ?? 0);
    // Depth first, larger counts of earlier groups first: the first complete set is the greedy
    // one, and only a strictly better set replaces it.
    const counts = groups.map(() => 0);
    let best: number[] | null = null;
    let bestValue = -1;
    let greedy: number[] | null = null;
    let budget = JOINT_SEARCH_NODES;
    // Value per CPU unit of the best remaining request: what the free CPUs could add at most.
    const densityFrom: number[] = [];
    densityFrom[groups.length] = 0;
    for (let g = groups.length - 1; g >= 0; g--) {
      const cpuAmount = amountsOf[g].find((entry) => entry.id === 0)?.amount ?? 0;
      const density = cpuAmount > 0 ? groups[g].value / cpuAmount : Infinity;
      densityFrom[g] = Math.max(densityFrom[g + 1], density);
    }
    const search = (g: number, value: number, cpusTaken: number): void => {
      if (budget-- <= 0) return;
      if (best !== null && value + (room[0] ?? 0) * densityFrom[g] <= bestValue + 1e-12) return;
      if (g === groups.length) {
        greedy ??= counts.slice();
        const qualifies = worker.configuration.minUtilization <= 0 || cpusTaken >= minCpus;
        if (qualifies && value > bestValue + 1e-12) {
          best = counts.slice();
          bestValue = value;
        }
        return;
      }
      const amounts = amountsOf[g];
      let most = limits[g];
      for (const { id, amount } of amounts) {
        if (amount > 0) most = Math.min(most, Math.floor((room[id] ?? 0) / amount));
      }
      const cpuAmount = amounts.find((entry) => entry.id === 0)?.amount ?? 0;
      for (let count = most; count >= 0; count--) {
        for (const { id, amount } of amounts) room[id] -= count * amount;
        counts[g] = count;
        search(g + 1, value + count * groups[g].value, cpusTaken + count * cpuAmount);
        for (const { id, amount } of amounts) room[id] += count * amount;
      }
      counts[g] = 0;
    };
    search(0, 0, 0);
    const chosen: number[] | null = best;
    if (chosen === null || sameCounts(chosen, greedy)) return;
    groups.forEach((group, g) => {
      let submit = group.front();
      for (let placed = 0; placed < chosen[g] && submit !== null;) {
        const index = submit.takeNext();
        if (index < 0) {
          submit = group.front();
          this.#queue.touch();
          continue;
        }
        this.#fittingVariant = 0;
        add(worker.id, this.#assign(worker, submit, index));
        placed++;
      }
    });
  }

  *#runningRecords(): Iterable<WorkerRecord> {
    for (const workerId of this.#running) yield this.#workers.get(workerId)!;
  }

  /** Keeps `#roomy` (workers that could take more CPU tasks at all) in step with a worker. */
  #refreshRoom(worker: WorkerRecord): void {
    const roomy = worker.ended === null && worker.stopReason === null && !worker.exclusive &&
      hasCpuRoom(worker, worker.prefill);
    if (roomy) this.#roomy.add(worker);
    else this.#roomy.delete(worker);
  }

  /**
   * Nothing waits at the server, yet some workers have free CPUs while others hold more queued
   * tasks than they can start: ask those to give back what is beyond their CPUs (newest first,
   * each task instance at most once), so it can start at once where there is room instead of
   * waiting behind a busy worker's queue (resources spec §5.1, retracting prefilled tasks).
   */
  #rebalance(): CoreCommand[] {
    const hungry: WorkerRecord[] = [];
    for (const worker of this.#roomy) {
      if (
        !worker.exclusive && (worker.totals[0] ?? 0) - (worker.used[0] ?? 0) >= AMOUNT_FRACTIONS
      ) {
        hungry.push(worker);
      }
    }
    if (hungry.length === 0) return [];
    const commands: CoreCommand[] = [];
    const reserved: Array<[WorkerRecord, readonly ResourceNeed[]]> = [];
    for (const donor of this.#runningRecords()) {
      let excess = donor.prefilled[0] ?? 0;
      if (excess <= 0 || donor.placements.size <= donor.runningTasks) continue;
      const tasks: TaskRef[] = [];
      const placements = [...donor.placements.values()];
      for (let i = placements.length - 1; i >= 0 && excess > 0; i--) {
        const placement = placements[i];
        const { submit, index } = placement;
        const table = submit.table;
        if (placement.retracting || placement.nodes || !placement.prefilled) continue;
        if (table.state(index) !== Slot.Assigned) continue;
        const instanceId = table.instanceId(index);
        if (table.retractedInstance(index) === instanceId) continue;
        const taker = hungry.find((worker) => this.#fit(worker, submit, 1) === Fit.Now);
        if (!taker) continue;
        // Counted on the taker until this round ends, so it is not promised more than it has.
        const needs = submit.variants[this.#fittingVariant].needs;
        this.#addUse(taker, needs, 1);
        reserved.push([taker, needs]);
        placement.retracting = true;
        table.setRetractedInstance(index, instanceId);
        excess -= submit.variants[placement.variant].needs
          .find((need) => need.resourceId === 0)?.amount ?? 0;
        tasks.push({ jobId: submit.job.id, taskId: submit.ids.idAt(index), instanceId });
      }
      if (tasks.length > 0) commands.push({ type: "retract-tasks", workerId: donor.id, tasks });
    }
    for (const [taker, needs] of reserved) this.#addUse(taker, needs, -1);
    return commands;
  }

  /** Takes back this round's assignments to a worker, restoring the queue's order. */
  #unassign(worker: WorkerRecord, tasks: AssignedTask[]): void {
    for (const task of tasks.reverse()) {
      const found = this.#locate(worker.id, task);
      if (!found) continue;
      this.#release(worker, task.jobId, task.taskId);
      found.submit.table.setWorkerId(found.index, null);
      this.#setSlot(found.submit, found.index, Slot.Waiting);
      found.submit.requeued.unshift(found.index);
      this.#enqueue(found.submit);
    }
  }

  /**
   * Higher-priority tasks wait while workers they could run on hold queued (not started) tasks of
   * lower priority: ask for those back (each instance once), so the next round can place the
   * higher priority there (resources spec §5.1: prefilled tasks are retracted when
   * higher-priority work appears).
   */
  #retractForPriority(): CoreCommand[] {
    const top = this.#queue.groups()[0]?.first;
    if (!top || top.nodes > 0) return [];
    let lowerQueued = false;
    for (const [priority, count] of this.#assignedByPriority) {
      if (priority < top.priority && count > 0) lowerQueued = true;
    }
    if (!lowerQueued) return [];
    const commands: CoreCommand[] = [];
    for (const worker of this.#runningRecords()) {
      if (worker.stopReason !== null || worker.exclusive) continue;
      if (worker.placements.size <= worker.runningTasks) continue;
      if (this.#fit(worker, top, worker.prefill) === Fit.Never) continue;
      const tasks: TaskRef[] = [];
      for (const placement of worker.placements.values()) {
        const { submit, index } = placement;
        const table = submit.table;
        if (submit.priority >= top.priority || placement.retracting || placement.nodes) continue;
        if (table.state(index) !== Slot.Assigned) continue;
        const instanceId = table.instanceId(index);
        if (table.retractedInstance(index) === instanceId) continue;
        placement.retracting = true;
        table.setRetractedInstance(index, instanceId);
        tasks.push({ jobId: submit.job.id, taskId: submit.ids.idAt(index), instanceId });
      }
      if (tasks.length > 0) commands.push({ type: "retract-tasks", workerId: worker.id, tasks });
    }
    return commands;
  }

  #addUse(
    worker: WorkerRecord,
    needs: readonly ResourceNeed[],
    sign: 1 | -1,
    prefilled = false,
  ): void {
    const amounts = prefilled ? worker.prefilled : worker.used;
    for (const need of needs) {
      const amount = need.all ? worker.totals[need.resourceId] : need.amount;
      amounts[need.resourceId] = (amounts[need.resourceId] ?? 0) + sign * amount;
    }
    if (prefilled) worker.prefilledTasks += sign;
    this.#refreshRoom(worker);
  }

  /**
   * Whether one more task of the submit fits the worker with its resources counted `factor`
   * times (1: its free resources, prefilled tasks not counted, but all it holds within its
   * prefill factor) (resources spec §4.1: capable = every resource present and large enough, and the
   * worker lives long enough for the time request). The worker picks concrete labels itself.
   */
  #fit(worker: WorkerRecord, submit: SubmitRecord, factor: number): Fit {
    const variants = submit.variants;
    if (variants.length === 1) {
      this.#fittingVariant = 0;
      return this.#fitVariant(worker, variants[0], factor);
    }
    // Of the variants that fit now, the one of highest value (§5.3); the lower index on a tie.
    let best: Fit = Fit.Never;
    let bestValue = -1;
    for (let variant = 0; variant < variants.length; variant++) {
      const fit = this.#fitVariant(worker, variants[variant], factor);
      if (fit === Fit.Now) {
        const value = this.#variantValue(variants[variant]);
        if (value > bestValue) {
          bestValue = value;
          this.#fittingVariant = variant;
        }
        best = Fit.Now;
      } else if (fit === Fit.Busy && best === Fit.Never) best = fit;
    }
    return best;
  }

  /** `#fit` for one request variant (resources spec §3.6: the first that fits wins). */
  #fitVariant(worker: WorkerRecord, variant: VariantNeeds, factor: number): Fit {
    const { timeRequestMs } = variant;
    if (timeRequestMs > 0 && worker.endMs !== null && this.#nowMs + timeRequestMs > worker.endMs) {
      return Fit.Never;
    }
    let fit: Fit = Fit.Now;
    for (const need of variant.needs) {
      const total = worker.totals[need.resourceId] ?? 0;
      const amount = need.all ? total : need.amount;
      if (total === 0 || amount > total) return Fit.Never;
      const used = worker.used[need.resourceId] ?? 0;
      const held = used + (worker.prefilled[need.resourceId] ?? 0);
      if (factor === 1 && used + amount > total) fit = Fit.Busy;
      if (held + amount > total * Math.max(factor, worker.prefill)) fit = Fit.Busy;
    }
    return fit;
  }

  /**
   * `count` entirely idle workers of one group (lowest ids first), each living long enough for
   * the time request (resources spec §5.5), or null.
   */
  #idleGroup(submit: SubmitRecord, count: number): WorkerRecord[] | null {
    const timeRequestMs = submit.description.template.timeRequestMs;
    const groups = new Map<string, WorkerRecord[]>();
    for (const workerId of this.#running) {
      const worker = this.#workers.get(workerId)!;
      if (worker.stopReason !== null || worker.placements.size > 0) continue;
      if (worker.endMs !== null && this.#nowMs + timeRequestMs > worker.endMs) continue;
      const group = groups.get(worker.configuration.group) ?? [];
      group.push(worker);
      if (group.length === count) return group.sort((a, b) => a.id - b.id);
      groups.set(worker.configuration.group, group);
    }
    return null;
  }

  #assignNodes(nodes: WorkerRecord[], submit: SubmitRecord, index: number): AssignedTask {
    const table = submit.table;
    this.#setSlot(submit, index, Slot.Assigned);
    table.setWorkerId(index, nodes[0].id);
    const taskId = submit.ids.idAt(index);
    const placement: Placement = {
      submit,
      index,
      nodes: nodes.map((worker) => worker.id),
      variant: 0,
    };
    table.setNodeIds(index, placement.nodes!);
    for (const worker of nodes) {
      worker.placements.set(`${submit.job.id}:${taskId}`, placement);
      worker.exclusive = true;
      this.#refreshRoom(worker);
      worker.idleSinceMs = null;
    }
    const task = assignedTask(submit, index);
    task.nodes = nodes.map((worker) => worker.configuration.hostname);
    return task;
  }

  #assign(
    worker: WorkerRecord,
    submit: SubmitRecord,
    index: number,
    prefill = false,
  ): AssignedTask {
    const table = submit.table;
    this.#setSlot(submit, index, Slot.Assigned);
    table.setWorkerId(index, worker.id);
    const taskId = submit.ids.idAt(index);
    // The variant the last `#fit` of this submit on this worker chose.
    const variant = this.#fittingVariant;
    const placement: Placement = { submit, index, variant };
    if (prefill) placement.prefilled = true;
    worker.placements.set(`${submit.job.id}:${taskId}`, placement);
    this.#addUse(worker, submit.variants[variant].needs, 1, prefill);
    worker.idleSinceMs = null;
    const task = assignedTask(submit, index);
    if (submit.variants.length > 1) task.variant = variant;
    return task;
  }

  #runningWorker(workerId: WorkerId): WorkerRecord | undefined {
    return this.#running.has(workerId) ? this.#workers.get(workerId) : undefined;
  }
}

/** How many requests of one priority `#placeJointly` weighs together (more: greedy). */
const JOINT_MAX_GROUPS = 8;
/** How many partial sets it looks at before it keeps the best found so far. */
const JOINT_SEARCH_NODES = 4_000;
/** The most tasks of one request it considers for one worker (tasks that take nothing). */
const JOINT_MAX_COUNT = 1_024;

/**
 * The groups of the priority level starting at `ordered[from]` that `#placeJointly` weighs:
 * single-node, one request variant, tasks waiting; none when there are more than
 * JOINT_MAX_GROUPS of them.
 */
function jointCandidates(ordered: readonly QueueGroup[], from: number): QueueGroup[] {
  const priority = ordered[from].priority;
  const groups: QueueGroup[] = [];
  for (let at = from; at < ordered.length && ordered[at].priority === priority; at++) {
    const group = ordered[at];
    if (group.nodes > 0) continue;
    const submit = group.front();
    if (submit === null || submit.variants.length !== 1) continue;
    groups.push(group);
    if (groups.length > JOINT_MAX_GROUPS) return [];
  }
  return groups;
}

function sameCounts(a: readonly number[], b: readonly number[] | null): boolean {
  return b !== null && a.every((count, i) => count === b[i]);
}

/** What a worker is told of a task placed on it. */
function assignedTask(submit: SubmitRecord, index: number): AssignedTask {
  return {
    jobId: submit.job.id,
    taskId: submit.ids.idAt(index),
    instanceId: submit.table.instanceId(index),
    submitIndex: submit.index,
    entry: submit.description.entries?.[index] ?? null,
  };
}

/**
 * Whether the worker's CPUs are taken less than `factor` times (no CPUs: never room); at 1x,
 * prefilled tasks do not count, but everything it holds stays within its prefill factor.
 */
function hasCpuRoom(worker: WorkerRecord, factor: number): boolean {
  const cpus = worker.totals[0] ?? 0;
  const used = worker.used[0] ?? 0;
  const held = used + (worker.prefilled[0] ?? 0);
  if (factor === 1 && used >= cpus) return false;
  return cpus > 0 && held < cpus * Math.max(factor, worker.prefill);
}

/** Spec §5.2: `clamp(min(heartbeat, idle_timeout / 16), 0.5 s, 5 min)`. */
export function checkIntervalMs(configuration: WorkerConfiguration): number {
  let interval = configuration.heartbeatIntervalMs;
  if (configuration.idleTimeoutMs !== null) {
    interval = Math.min(interval, configuration.idleTimeoutMs / 16);
  }
  return Math.min(Math.max(interval, MIN_CHECK_INTERVAL_MS), MAX_CHECK_INTERVAL_MS);
}
