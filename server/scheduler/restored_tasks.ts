/**
 * The tasks of a job restored from the journal (journal spec §1.4), in columns: a half-done
 * 1,000,000-task job restores as a few typed arrays instead of an object per touched task (the
 * restorer's, then the event's, then the core's: ~400 MB peak before, issue 18).
 */

/** A task's state as the journal left it. */
export interface RestoredTask {
  taskId: number;
  /** "waiting" also for tasks that were running when the server stopped. */
  state: RestoredTaskState;
  instanceId: number;
  crashes: number;
  workerId: number | null;
  startedMs: number | null;
  finishedMs: number | null;
  error: string | null;
}

export const RESTORED_TASK_STATES = [
  "waiting",
  "finished",
  "failed",
  "canceled",
  "aborted",
] as const;
export type RestoredTaskState = typeof RESTORED_TASK_STATES[number];

/** `RestoredTask`s as columns, position by position. */
export interface RestoredTaskColumns {
  count: number;
  taskIds: Uint32Array;
  /** Index into `RESTORED_TASK_STATES`. */
  states: Uint8Array;
  instanceIds: Uint32Array;
  crashes: Uint32Array;
  /** 0 for none (worker ids start at 1). */
  workerIds: Uint32Array;
  /** NaN for none. */
  startedMs: Float64Array;
  finishedMs: Float64Array;
  /** The few errors, by position. */
  errors: Map<number, string>;
}

/** Task objects into columns (tests and small callers). */
export function restoredTaskColumns(tasks: readonly RestoredTask[]): RestoredTaskColumns {
  const count = tasks.length;
  const columns: RestoredTaskColumns = {
    count,
    taskIds: new Uint32Array(count),
    states: new Uint8Array(count),
    instanceIds: new Uint32Array(count),
    crashes: new Uint32Array(count),
    workerIds: new Uint32Array(count),
    startedMs: new Float64Array(count),
    finishedMs: new Float64Array(count),
    errors: new Map(),
  };
  tasks.forEach((task, at) => {
    columns.taskIds[at] = task.taskId;
    columns.states[at] = RESTORED_TASK_STATES.indexOf(task.state);
    columns.instanceIds[at] = task.instanceId;
    columns.crashes[at] = task.crashes;
    columns.workerIds[at] = task.workerId ?? 0;
    columns.startedMs[at] = task.startedMs ?? NaN;
    columns.finishedMs[at] = task.finishedMs ?? NaN;
    if (task.error !== null) columns.errors.set(at, task.error);
  });
  return columns;
}

/** The columns as task objects, in position order (tests and small callers). */
export function restoredTaskList(columns: RestoredTaskColumns): RestoredTask[] {
  const orNull = (value: number) => Number.isNaN(value) ? null : value;
  return Array.from({ length: columns.count }, (_, at) => ({
    taskId: columns.taskIds[at],
    state: RESTORED_TASK_STATES[columns.states[at]],
    instanceId: columns.instanceIds[at],
    crashes: columns.crashes[at],
    workerId: columns.workerIds[at] === 0 ? null : columns.workerIds[at],
    startedMs: orNull(columns.startedMs[at]),
    finishedMs: orNull(columns.finishedMs[at]),
    error: columns.errors.get(at) ?? null,
  }));
}
