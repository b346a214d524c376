/**
 * A job and its submits as the core keeps them: counters per state, and per submit a task table
 * plus a cursor over the tasks not yet handed to the scheduler, so an array is only
 * materialized as fast as workers take its tasks.
 */
import { IdRanges } from "../../common/id_ranges.ts";
import {
  emptyCounts,
  jobState,
  type JobSummaryView,
  type SubmitDescription,
  type TaskCounts,
  type TaskState,
  type TaskView,
} from "../../common/job_types.ts";
import { Slot, TaskTable } from "./task_table.ts";
import type { TaskGraph } from "./task_graph.ts";
import { IndexQueue } from "./index_queue.ts";
import { type JobDetailWire, TaskColumnsBuilder } from "../../common/task_columns.ts";

/** One request variant of a submit's tasks, in the core's terms. */
export interface VariantNeeds {
  needs: readonly ResourceNeed[];
  timeRequestMs: number;
  weight: number;
}

/** One entry of a task's request, with the resource named by the core's number for it. */
export interface ResourceNeed {
  resourceId: number;
  /** 1/10000 units; ignored when `all`. */
  amount: number;
  all: boolean;
}

export const SLOT_STATES: readonly TaskState[] = [
  "waiting", // Waiting
  "waiting", // Assigned: not started yet, users see it waiting
  "running",
  "finished",
  "failed",
  "canceled",
  "aborted",
];

export class SubmitRecord {
  readonly ids: IdRanges;
  readonly table: TaskTable;
  readonly priority: number;
  /** Whole workers per task; 0 for single-node tasks. */
  readonly nodes: number;
  /** In the core's scheduling queue. */
  queued = false;
  /** Tasks at indexes ≥ cursor were never handed to the scheduler. */
  cursor = 0;
  /**
   * The workers this submit's template was sent to: one id, a set once there are several, or
   * null (kept by the server's worker hub; the core does not read it).
   */
  templateSentTo: number | Set<number> | null = null;
  /** Indexes put back to waiting after a worker loss, in order. */
  readonly requeued = new IndexQueue();
  /** Whether untouched tasks (≥ cursor) still wait; false after a bulk cancel or abort. */
  untouchedWaiting = true;
  /** Tasks of the job's earlier submits: task `index` is the job's task number `base + index`. */
  base = 0;

  constructor(
    readonly job: JobRecord,
    readonly index: number,
    readonly description: SubmitDescription,
  ) {
    this.ids = new IdRanges(description.ids);
    this.table = new TaskTable(this.ids.count);
    this.priority = description.template.priority;
    this.nodes = description.template.nodes;
  }

  /**
   * What one task needs, per request variant, by the core's resource ids (set by the core when
   * it adds the submit).
   */
  variants: readonly VariantNeeds[] = [];
  /** Whether its tasks need CPUs (or are multi-node); set with `needs`. */
  needsCpus = true;
  /** The core's number for its request; submits of one shape fit a worker alike. */
  shapeId = 0;

  hasWaitingTasks(): boolean {
    return this.requeued.length > 0 || (this.untouchedWaiting && this.cursor < this.ids.count);
  }

  /** Takes the next waiting task (requeued first), marking it assigned; -1 when none. */
  takeNext(): number {
    while (this.requeued.length > 0) {
      const index = this.requeued.shift()!;
      if (this.table.state(index) === Slot.Waiting) return index;
    }
    if (this.untouchedWaiting && this.cursor < this.ids.count) return this.cursor++;
    return -1;
  }

  taskView(index: number): TaskView {
    const table = this.table;
    const slot = table.state(index);
    const started = slot !== Slot.Waiting && slot !== Slot.Assigned;
    return {
      id: this.ids.idAt(index),
      state: SLOT_STATES[slot],
      instanceId: table.instanceId(index),
      workerId: started ? table.workerId(index) : null,
      nodeIds: started ? table.nodeIds(index) : null,
      startedMs: started ? table.startedMs(index) : null,
      finishedMs: started ? table.finishedMs(index) : null,
      error: slot === Slot.Failed ? table.error(index) : null,
    };
  }

  /** `taskView` into columns, without an object per task. */
  addTaskTo(columns: TaskColumnsBuilder, index: number): void {
    const table = this.table;
    const slot = table.state(index);
    const started = slot !== Slot.Waiting && slot !== Slot.Assigned;
    columns.add(
      this.ids.idAt(index),
      SLOT_STATES[slot],
      table.instanceId(index),
      started ? table.workerId(index) : null,
      started ? table.nodeIds(index) : null,
      started ? table.startedMs(index) : null,
      started ? table.finishedMs(index) : null,
      slot === Slot.Failed ? table.error(index) : null,
    );
  }
}

/** Beyond this many submits, `findTask` keeps an index of the small submits' ids. */
const LINEAR_FIND_SUBMITS = 8;
/** Submits this small are indexed by id; larger ones (arrays) are searched by their ranges. */
const INDEXED_SUBMIT_TASKS = 64;

export class JobRecord {
  readonly submits: SubmitRecord[] = [];
  /** Dependencies between the job's tasks, from its first graph submit on (else null). */
  graph: TaskGraph | null = null;
  /** The small submits by task id, and the others (built once there are many submits). */
  #submitById: Map<number, SubmitRecord> | null = null;
  #largeSubmits: SubmitRecord[] = [];
  readonly counts: TaskCounts = emptyCounts();
  taskCount = 0;
  cancelReason: string | null = null;
  completedMs: number | null = null;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly maxFails: number | null,
    public isOpen: boolean,
    readonly submittedMs: number,
  ) {}

  addSubmit(description: SubmitDescription): SubmitRecord {
    const submit = new SubmitRecord(this, this.submits.length, description);
    submit.base = this.taskCount;
    this.submits.push(submit);
    if (this.#submitById) this.#index(submit);
    this.taskCount += submit.ids.count;
    this.counts.waiting += submit.ids.count;
    this.completedMs = null;
    return submit;
  }

  /** The submit and index of a task id; null if the job has no such task. */
  findTask(taskId: number): { submit: SubmitRecord; index: number } | null {
    let candidates: readonly SubmitRecord[] = this.submits;
    if (this.submits.length > LINEAR_FIND_SUBMITS) {
      // A job file of 100,000 distinct tasks is 100,000 one-task submits.
      if (!this.#submitById) {
        this.#submitById = new Map();
        for (const submit of this.submits) this.#index(submit);
      }
      const submit = this.#submitById.get(taskId);
      if (submit) return { submit, index: submit.ids.indexOf(taskId) };
      candidates = this.#largeSubmits;
    }
    for (const submit of candidates) {
      const index = submit.ids.indexOf(taskId);
      if (index >= 0) return { submit, index };
    }
    return null;
  }

  /** The submit and index of the job's task number `number` (see `SubmitRecord.base`). */
  taskAt(number: number): { submit: SubmitRecord; index: number } {
    const submits = this.submits;
    let low = 0;
    let high = submits.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (submits[middle].base <= number) low = middle;
      else high = middle - 1;
    }
    return { submit: submits[low], index: number - submits[low].base };
  }

  #index(submit: SubmitRecord): void {
    if (submit.ids.count > INDEXED_SUBMIT_TASKS) {
      this.#largeSubmits.push(submit);
      return;
    }
    for (const id of submit.ids) this.#submitById!.set(id, submit);
  }

  /** The largest task id, or -1 for an empty job. */
  maxTaskId(): number {
    let max = -1;
    for (const submit of this.submits) max = Math.max(max, submit.ids.max());
    return max;
  }

  get activeTasks(): number {
    return this.counts.waiting + this.counts.running;
  }

  /** Closed and nothing waiting or running (spec §6.2). */
  get isCompleted(): boolean {
    return !this.isOpen && this.activeTasks === 0;
  }

  summary(): JobSummaryView {
    return {
      id: this.id,
      name: this.name,
      isOpen: this.isOpen,
      cancelReason: this.cancelReason,
      taskCount: this.taskCount,
      counts: { ...this.counts },
      state: jobState(this.counts, this.isOpen),
    };
  }

  detail(workerHostnames: Record<number, string>): JobDetailWire {
    const tasks = new TaskColumnsBuilder(this.taskCount);
    for (const submit of this.submits) {
      for (let index = 0; index < submit.ids.count; index++) submit.addTaskTo(tasks, index);
    }
    return {
      ...this.summary(),
      maxFails: this.maxFails,
      submittedMs: this.submittedMs,
      completedMs: this.completedMs,
      submits: this.submits.map((submit) => submit.description),
      taskColumns: tasks.finish(),
      workerHostnames,
    };
  }
}
