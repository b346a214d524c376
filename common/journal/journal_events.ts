/**
 * What the server's journal records (journal spec §1.2), in our own compact shapes. Each record is
 * one event with its wall-clock time, msgpack-encoded as `[time ms, event]`. `hq journal export`
 * turns them into the spec's JSON shapes (export_events.ts).
 *
 * Changing any event shape changes the journal format: bump JOURNAL_VERSION.
 */
import type { QueueParams } from "../autoalloc.ts";
import type { SubmitDescription } from "../job_types.ts";
import type { HwState, WorkerConfiguration, WorkerLostReason } from "../protocol.ts";
import { decodeMsgpack, encodeMsgpack } from "../msgpack.ts";

export const JOURNAL_VERSION = 1;

/** A task of a job, as `[job id, task id]` (a pair is smaller than an object in 1M-task logs). */
export type JournalTaskRef = [jobId: number, taskId: number];

/** A task of a job with one of its instance ids, as `[job id, task id, instance id]`. */
export type JournalTaskInstance = [jobId: number, taskId: number, instanceId: number];

export type JournalEvent =
  /** The server started (also after a restore); the uid it runs with. */
  | {
    type: "server-start";
    serverUid: string;
    /**
     * The highest job and worker ids used so far, so that a restore never hands them out again,
     * even after `journal prune` dropped every event that named them. Not exported. Optional:
     * journals written before these fields restore from their other events.
     */
    lastJobId?: number;
    lastWorkerId?: number;
  }
  /** The server shut down; the last record of its run. */
  | { type: "server-stop" }
  | { type: "worker-connected"; workerId: number; configuration: WorkerConfiguration }
  | { type: "worker-lost"; workerId: number; reason: WorkerLostReason }
  /** A hardware overview of a worker started with `--overview-interval`. */
  | { type: "worker-overview"; workerId: number; hwState: HwState }
  /** `hq job open`. */
  | { type: "job-open"; jobId: number; name: string; maxFails: number | null }
  /**
   * A successful submit: a new closed job (`attached` false) or tasks added to an open job
   * (`attached` true; then `name` and `maxFails` are the open job's).
   */
  | {
    type: "job-created";
    jobId: number;
    name: string;
    maxFails: number | null;
    attached: boolean;
    submit: SubmitDescription;
    /**
     * The further submits of a graph request (`continuesGraph`), which make one submit with
     * `submit` for users: one event per job file, as HyperQueue journals it.
     */
    more?: SubmitDescription[];
  }
  | { type: "job-close"; jobId: number }
  | { type: "job-cancel"; jobId: number; reason: string | null }
  /** A closed job has no waiting or running task left. */
  | { type: "job-completed"; jobId: number }
  /** `workerIds`: one for a single-node task, root first for a multi-node one. */
  | {
    type: "task-started";
    jobId: number;
    taskId: number;
    instanceId: number;
    workerIds: number[];
    variant: number;
  }
  | { type: "task-finished"; jobId: number; taskId: number }
  | { type: "task-failed"; jobId: number; taskId: number; error: string }
  /** Tasks cancelled by a user (`job cancel`). */
  | { type: "tasks-canceled"; tasks: JournalTaskRef[] }
  /** Tasks aborted by the system (`--max-fails` exceeded). */
  | { type: "tasks-aborted"; tasks: JournalTaskRef[] }
  /**
   * Ours (not exported; HyperQueue has no such event): right after a `worker-lost`, the tasks
   * that had been assigned to the worker but not reported started, with the instance id each was
   * assigned as. The task may have started on the worker all the same, so that id is used up: the
   * server requeues it as the next one, and a restore must never hand it out again. Rare (worker
   * losses only). Readers that do not know it may skip it.
   */
  | { type: "tasks-taken-back"; tasks: JournalTaskInstance[] }
  /** `hq alloc add` (a restored queue records nothing). */
  | { type: "autoalloc-queue-created"; queueId: number; params: QueueParams }
  | { type: "autoalloc-queue-removed"; queueId: number }
  /** An allocation was submitted to the manager (journal-alloc spec §2.8). */
  | {
    type: "autoalloc-allocation-queued";
    queueId: number;
    allocationId: string;
    workerCount: number;
    /** Ours (not exported): the allocation's directory, so a restarted server can follow it. */
    workdir?: string;
  }
  | { type: "autoalloc-allocation-started"; queueId: number; allocationId: string }
  | { type: "autoalloc-allocation-finished"; queueId: number; allocationId: string }
  /** Live only (never in the file): an open job has no waiting or running task. */
  | { type: "job-idle"; jobId: number }
  /** Live only: a task's `hq task notify`. */
  | { type: "task-notify"; jobId: number; taskId: number; workerId: number; message: Uint8Array };

export type JournalEventType = JournalEvent["type"];

/** The events of ours that are for the server's restore only: never exported nor streamed. */
export type InternalJournalEvent = Extract<JournalEvent, { type: "tasks-taken-back" }>;

/** Whether an event is exported and streamed (all but `InternalJournalEvent`s). */
export function isPublicJournalEvent(
  event: JournalEvent,
): event is Exclude<JournalEvent, InternalJournalEvent> {
  return event.type !== "tasks-taken-back";
}

/** One journal record: when it happened and what. */
export interface JournalRecord {
  timeMs: number;
  event: JournalEvent;
}

/**
 * Task starts and finishes are most of a journal (two per task), so they are stored as flat
 * arrays with a numeric kind, `[time, kind, job, task, …]` (~18 bytes instead of ~60, and cheaper
 * to encode); every other event as `[time, event]`.
 */
const TASK_STARTED = 1;
const TASK_FINISHED = 2;
/** Reused: a DataView per record decoded cost as much as the decoding. */
let decodeView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

export function encodeJournalRecord(timeMs: number, event: JournalEvent): Uint8Array {
  return encodeJournalRecordView(timeMs, event).slice();
}

/**
 * `encodeJournalRecord` without a copy for the hot path: the bytes may be a view into a buffer
 * the next call overwrites, so append (copy) them at once. Allocating a fresh buffer per task
 * record cost ~1 µs.
 */
export function encodeJournalRecordView(timeMs: number, event: JournalEvent): Uint8Array {
  if (event.type === "task-finished") {
    return encodeCompact([timeMs, TASK_FINISHED, event.jobId, event.taskId]);
  }
  if (event.type === "task-started" && event.workerIds.length === 1 && event.variant === 0) {
    return encodeCompact([
      timeMs,
      TASK_STARTED,
      event.jobId,
      event.taskId,
      event.instanceId,
      event.workerIds[0],
    ]);
  }
  return encodeMsgpack([timeMs, event]);
}

const scratch = new Uint8Array(64);
const scratchView = new DataView(scratch.buffer);

/**
 * A msgpack fixarray of numbers, written by hand: the general encoder costs ~2 µs a call, which
 * at two records per task would be a tenth of the server's time per task.
 */
function encodeCompact(numbers: number[]): Uint8Array {
  scratch[0] = 0x90 | numbers.length;
  let at = 1;
  for (const n of numbers) {
    if (!Number.isSafeInteger(n) || n < 0) {
      scratch[at] = 0xcb;
      scratchView.setFloat64(at + 1, n);
      at += 9;
    } else if (n <= 0x7f) {
      scratch[at++] = n;
    } else if (n <= 0xff) {
      scratch[at] = 0xcc;
      scratch[at + 1] = n;
      at += 2;
    } else if (n <= 0xffff) {
      scratch[at] = 0xcd;
      scratchView.setUint16(at + 1, n);
      at += 3;
    } else if (n <= 0xffff_ffff) {
      scratch[at] = 0xce;
      scratchView.setUint32(at + 1, n);
      at += 5;
    } else {
      scratch[at] = 0xcf;
      scratchView.setUint32(at + 1, Math.floor(n / 0x1_0000_0000));
      scratchView.setUint32(at + 5, n >>> 0);
      at += 9;
    }
  }
  return scratch.subarray(0, at);
}

/** Decodes one record's payload; null when it is not a record of ours (a corrupted journal). */
export function decodeJournalRecord(payload: Uint8Array): JournalRecord | null {
  return decodeCompact(payload) ?? decodeGeneral(payload);
}

/**
 * The compact task records without the msgpack decoder (a restore reads two per task, and the
 * general decoder costs ~3x as much): a fixarray of 4 or 6 non-negative numbers. Anything else
 * is left to the general path.
 */
function decodeCompact(payload: Uint8Array): JournalRecord | null {
  const head = payload[0];
  if (head !== 0x94 && head !== 0x96) return null;
  const numbers: number[] = [];
  if (decodeView.buffer !== payload.buffer) decodeView = new DataView(payload.buffer);
  const view = decodeView;
  const base = payload.byteOffset;
  let at = 1;
  while (at < payload.length) {
    const tag = payload[at];
    if (tag <= 0x7f) {
      numbers.push(tag);
      at += 1;
    } else if (tag === 0xcc && at + 2 <= payload.length) {
      numbers.push(payload[at + 1]);
      at += 2;
    } else if (tag === 0xcd && at + 3 <= payload.length) {
      numbers.push(view.getUint16(base + at + 1));
      at += 3;
    } else if (tag === 0xce && at + 5 <= payload.length) {
      numbers.push(view.getUint32(base + at + 1));
      at += 5;
    } else if (tag === 0xcf && at + 9 <= payload.length) {
      numbers.push(
        view.getUint32(base + at + 1) * 0x1_0000_0000 + view.getUint32(base + at + 5),
      );
      at += 9;
    } else if (tag === 0xcb && at + 9 <= payload.length) {
      numbers.push(view.getFloat64(base + at + 1));
      at += 9;
    } else {
      return null;
    }
  }
  if (numbers.length !== (head & 0x0f)) return null;
  return compactRecord(numbers);
}

function compactRecord(value: number[]): JournalRecord | null {
  const timeMs = value[0];
  if (value[1] === TASK_FINISHED && value.length === 4) {
    return { timeMs, event: { type: "task-finished", jobId: value[2], taskId: value[3] } };
  }
  if (value[1] === TASK_STARTED && value.length === 6) {
    return {
      timeMs,
      event: {
        type: "task-started",
        jobId: value[2],
        taskId: value[3],
        instanceId: value[4],
        workerIds: [value[5]],
        variant: 0,
      },
    };
  }
  return null;
}

function decodeGeneral(payload: Uint8Array): JournalRecord | null {
  let value: unknown;
  try {
    value = decodeMsgpack(payload);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || typeof value[0] !== "number") return null;
  const timeMs = value[0];
  if (value.length === 2) {
    const event = value[1];
    if (typeof event !== "object" || event === null || typeof event.type !== "string") return null;
    return { timeMs, event: event as JournalEvent };
  }
  if (!value.every((item) => typeof item === "number")) return null;
  return compactRecord(value);
}
