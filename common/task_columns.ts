/**
 * The tasks of a `job info` answer in columns: about 25 bytes a task on the wire instead of ~110
 * for a msgpack map per task, and no object per task at the server. The client expands them back
 * into `TaskView`s. A 1,000,000-task job took 8.9 s and 526 MB to answer as objects, and a job of
 * 1.2M tasks no longer fitted in one frame.
 */
import { type JobDetailView, TASK_STATES, type TaskState, type TaskView } from "./job_types.ts";

/** Numeric columns travel as the bytes of native (little-endian) typed arrays. */
export interface TaskColumns {
  count: number;
  /** Uint32 task ids, ascending. */
  ids: Uint8Array;
  /** Index into `TASK_STATES`, one byte a task. */
  states: Uint8Array;
  /** Uint32 worker ids, 0 for none. */
  workerIds: Uint8Array;
  /** Float64 epoch milliseconds, 0 for none. */
  startedMs: Uint8Array;
  finishedMs: Uint8Array;
  /** The rare values, as `[position, value]`. */
  instanceIds: Array<[number, number]>;
  errors: Array<[number, string]>;
  nodeIds: Array<[number, number[]]>;
}

const STATE_INDEX = new Map<TaskState, number>(TASK_STATES.map((state, i) => [state, i]));

/** Collects tasks in any id order; `finish` sorts them by id. */
export class TaskColumnsBuilder {
  readonly #ids: Uint32Array;
  readonly #states: Uint8Array;
  readonly #workerIds: Uint32Array;
  readonly #startedMs: Float64Array;
  readonly #finishedMs: Float64Array;
  readonly #instanceIds = new Map<number, number>();
  readonly #errors = new Map<number, string>();
  readonly #nodeIds = new Map<number, number[]>();
  #count = 0;

  constructor(capacity: number) {
    this.#ids = new Uint32Array(capacity);
    this.#states = new Uint8Array(capacity);
    this.#workerIds = new Uint32Array(capacity);
    this.#startedMs = new Float64Array(capacity);
    this.#finishedMs = new Float64Array(capacity);
  }

  add(
    id: number,
    state: TaskState,
    instanceId: number,
    workerId: number | null,
    nodeIds: number[] | null,
    startedMs: number | null,
    finishedMs: number | null,
    error: string | null,
  ): void {
    const at = this.#count++;
    this.#ids[at] = id;
    this.#states[at] = STATE_INDEX.get(state)!;
    this.#workerIds[at] = workerId ?? 0;
    this.#startedMs[at] = startedMs ?? 0;
    this.#finishedMs[at] = finishedMs ?? 0;
    if (instanceId !== 0) this.#instanceIds.set(at, instanceId);
    if (error !== null) this.#errors.set(at, error);
    if (nodeIds !== null) this.#nodeIds.set(at, nodeIds);
  }

  finish(): TaskColumns {
    const count = this.#count;
    const ids = this.#ids.subarray(0, count);
    let sorted = true;
    for (let i = 1; i < count && sorted; i++) sorted = ids[i - 1] < ids[i];
    // Usually sorted already (one array, or submits in id order); otherwise reorder every column.
    const order = sorted ? null : Array.from({ length: count }, (_, i) => i)
      .sort((a, b) => ids[a] - ids[b]);
    const at = order === null ? null : new Uint32Array(count);
    if (order !== null) order.forEach((from, to) => (at![from] = to));
    const moved = <T extends Uint32Array | Uint8Array | Float64Array>(column: T): T => {
      const part = column.subarray(0, count) as T;
      if (order === null) return part;
      const out = new (part.constructor as new (n: number) => T)(count);
      for (let to = 0; to < count; to++) out[to] = part[order[to]];
      return out;
    };
    const sparse = <T>(values: Map<number, T>): Array<[number, T]> =>
      [...values].map(([from, value]) => [at === null ? from : at[from], value]);
    return {
      count,
      ids: bytesOf(moved(this.#ids)),
      states: moved(this.#states),
      workerIds: bytesOf(moved(this.#workerIds)),
      startedMs: bytesOf(moved(this.#startedMs)),
      finishedMs: bytesOf(moved(this.#finishedMs)),
      instanceIds: sparse(this.#instanceIds),
      errors: sparse(this.#errors),
      nodeIds: sparse(this.#nodeIds),
    };
  }
}

/** A job in detail as the server sends it: the tasks in columns (`expandJobDetail`). */
export type JobDetailWire = Omit<JobDetailView, "tasks"> & { taskColumns: TaskColumns };

/** The columns a `JobDetailView` was made from (`taskColumnsOf`). */
const COLUMNS_OF = new WeakMap<JobDetailView, TaskColumns>();

/**
 * The job with its tasks as objects. `lazy`: made on first use of `tasks` (a getter), and the
 * columns kept for `taskColumnsOf`, so that `job info --output-mode json` of a million tasks writes
 * them from the columns without ~100 MB of objects (the CLI; API users get a plain object).
 */
export function expandJobDetail(wire: JobDetailWire, lazy = false): JobDetailView {
  const { taskColumns, ...rest } = wire;
  if (!lazy) return { ...rest, tasks: expandTaskColumns(taskColumns) };
  let tasks: TaskView[] | null = null;
  const view = Object.defineProperty({ ...rest } as JobDetailView, "tasks", {
    get: () => (tasks ??= expandTaskColumns(taskColumns)),
    set: (value: TaskView[]) => {
      tasks = value;
      COLUMNS_OF.delete(view);
    },
    enumerable: true,
    configurable: true,
  });
  COLUMNS_OF.set(view, taskColumns);
  return view;
}

/** The wire's columns of a job from a lazy `expandJobDetail`, or null (tasks replaced, another source). */
export function taskColumnsOf(job: JobDetailView): TaskColumns | null {
  return COLUMNS_OF.get(job) ?? null;
}

/** The tasks as objects again, ascending by id. */
export function expandTaskColumns(columns: TaskColumns): TaskView[] {
  const ids = new Uint32Array(aligned(columns.ids).buffer);
  const workerIds = new Uint32Array(aligned(columns.workerIds).buffer);
  const startedMs = new Float64Array(aligned(columns.startedMs).buffer);
  const finishedMs = new Float64Array(aligned(columns.finishedMs).buffer);
  const tasks: TaskView[] = new Array(columns.count);
  for (let i = 0; i < columns.count; i++) {
    tasks[i] = {
      id: ids[i],
      state: TASK_STATES[columns.states[i]],
      instanceId: 0,
      workerId: workerIds[i] === 0 ? null : workerIds[i],
      nodeIds: null,
      startedMs: startedMs[i] === 0 ? null : startedMs[i],
      finishedMs: finishedMs[i] === 0 ? null : finishedMs[i],
      error: null,
    };
  }
  for (const [i, instanceId] of columns.instanceIds) tasks[i].instanceId = instanceId;
  for (const [i, error] of columns.errors) tasks[i].error = error;
  for (const [i, nodeIds] of columns.nodeIds) tasks[i].nodeIds = nodeIds;
  return tasks;
}

function bytesOf(array: Uint32Array | Float64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** A copy that starts at offset 0 of its own buffer (msgpack hands out unaligned views). */
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}
