/**
 * What the server's journal records (journal spec §1.2), in our own compact shapes. Each record is
 * one event with its wall-clock time, msgpack-encoded as `[time ms, event]`. `hq journal export`
 * turns them into the spec's JSON shapes (export_events.ts).
 *
 * Changing any event shape changes the journal format: bump JOURNAL_VERSION.
 */
import type { SubmitDescription } from "../job_types.ts";
import type { WorkerConfiguration, WorkerLostReason } from "../protocol.ts";
import { decodeMsgpack, encodeMsgpack } from "../msgpack.ts";

export const JOURNAL_VERSION = 1;

/** A task of a job, as `[job id, task id]` (a pair is smaller than an object in 1M-task logs). */
export type JournalTaskRef = [jobId: number, taskId: number];

export type JournalEvent =
  /** The server started (also after a restore); the uid it runs with. */
  | { type: "server-start"; serverUid: string }
  /** The server shut down; the last record of its run. */
  | { type: "server-stop" }
  | { type: "worker-connected"; workerId: number; configuration: WorkerConfiguration }
  | { type: "worker-lost"; workerId: number; reason: WorkerLostReason }
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
  | { type: "tasks-aborted"; tasks: JournalTaskRef[] };

export type JournalEventType = JournalEvent["type"];

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

export function encodeJournalRecord(timeMs: number, event: JournalEvent): Uint8Array {
  if (event.type === "task-finished") {
    return encodeMsgpack([timeMs, TASK_FINISHED, event.jobId, event.taskId]);
  }
  if (event.type === "task-started" && event.workerIds.length === 1 && event.variant === 0) {
    return encodeMsgpack([
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

/** Decodes one record's payload; null when it is not a record of ours (a corrupted journal). */
export function decodeJournalRecord(payload: Uint8Array): JournalRecord | null {
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
