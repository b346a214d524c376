/**
 * Reading a directory of output stream files (`hq output-log`, jobs spec §10.2): the files' task
 * instances, of which only each task's last counts, and what `summary`, `cat`, `show` and
 * `export` make of them. Files may be written meanwhile: a record cut short at a file's end is
 * left out, nothing is ever written here.
 */
import { HqError } from "../common/errors.ts";
import { joinPath } from "../common/paths.ts";
import {
  decodeHeader,
  decodeRecords,
  type ExportedTaskOutput,
  type OutputLogSummary,
  RECORD_START,
  STREAM_FILE_EXTENSION,
  type StreamChannel,
  type StreamRecord,
} from "../common/stream_log.ts";

/** One run of one task (an instance id), with its chunks in file order. */
export interface StreamInstance {
  jobId: number;
  taskId: number;
  instanceId: number;
  /** Time of its first record. */
  startMs: number;
  /** The zero-length chunk arrived. */
  finished: boolean;
  chunks: StreamRecord[];
  stdoutBytes: number;
  stderrBytes: number;
}

export class OutputLog {
  private constructor(
    readonly path: string,
    readonly fileCount: number,
    /** The last instance of each task, by job id then task id. */
    readonly tasksByJob: Map<number, Map<number, StreamInstance>>,
    readonly superseded: StreamInstance[],
  ) {}

  /**
   * Reads every `*.hqs` directly in `path` (files with a bad header are skipped). Throws
   * `HqError` without files, or with files of several server uids and no `serverUid` to choose.
   */
  static async read(path: string, serverUid?: string): Promise<OutputLog> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) {
        if (entry.name.endsWith(STREAM_FILE_EXTENSION) && !entry.isDirectory) {
          names.push(entry.name);
        }
      }
    } catch (error) {
      throw new HqError(error instanceof Error ? error.message : String(error));
    }
    if (names.length === 0) throw new HqError("No log files found");
    names.sort();
    const files: Array<{ uid: string; records: StreamRecord[] }> = [];
    for (const name of names) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(joinPath(path, name));
      } catch {
        continue;
      }
      const decoded = decodeHeader(bytes);
      if (decoded === null) continue;
      if (serverUid !== undefined && decoded.header.serverUid !== serverUid) continue;
      files.push({
        uid: decoded.header.serverUid,
        records: decodeRecords(bytes, decoded.recordsAt),
      });
    }
    const uids = [...new Set(files.map((file) => file.uid))];
    if (uids.length > 1) {
      throw new HqError(
        `Found streams from multiple server instances:\n${
          uids.join("\n")
        }\nUse --server-uid=... to specify server uid`,
      );
    }
    return OutputLog.#fromRecords(path, files.length, files.map((file) => file.records));
  }

  static #fromRecords(path: string, fileCount: number, files: StreamRecord[][]): OutputLog {
    const instances = new Map<string, StreamInstance>();
    for (const [fileIndex, records] of files.entries()) {
      for (const record of records) {
        // Per file too: a server restored from its journal may run an instance id again.
        const key = `${record.jobId}:${record.taskId}:${record.instanceId}:${fileIndex}`;
        let instance = instances.get(key);
        if (!instance) {
          instance = {
            jobId: record.jobId,
            taskId: record.taskId,
            instanceId: record.instanceId,
            startMs: record.timeMs,
            finished: false,
            chunks: [],
            stdoutBytes: 0,
            stderrBytes: 0,
          };
          instances.set(key, instance);
        }
        if (record.kind === RECORD_START) continue;
        if (record.data.length === 0) {
          instance.finished = true;
          continue;
        }
        instance.chunks.push(record);
        if (record.channel === 0) instance.stdoutBytes += record.data.length;
        else instance.stderrBytes += record.data.length;
      }
    }
    const tasksByJob = new Map<number, Map<number, StreamInstance>>();
    const superseded: StreamInstance[] = [];
    for (const instance of instances.values()) {
      let tasks = tasksByJob.get(instance.jobId);
      if (!tasks) tasksByJob.set(instance.jobId, tasks = new Map());
      const other = tasks.get(instance.taskId);
      if (other === undefined || isLater(instance, other)) {
        tasks.set(instance.taskId, instance);
        if (other) superseded.push(other);
      } else {
        superseded.push(instance);
      }
    }
    return new OutputLog(path, fileCount, tasksByJob, superseded);
  }

  jobIds(): number[] {
    return [...this.tasksByJob.keys()].sort((a, b) => a - b);
  }

  summary(): OutputLogSummary {
    const summary: OutputLogSummary = {
      path: this.path,
      files: this.fileCount,
      jobs: this.tasksByJob.size,
      tasks: 0,
      streams: this.superseded.length,
      opened: 0,
      superseded: this.superseded.length,
      stdoutBytes: 0,
      stderrBytes: 0,
      supersededStdoutBytes: 0,
      supersededStderrBytes: 0,
    };
    for (const tasks of this.tasksByJob.values()) {
      for (const instance of tasks.values()) {
        summary.tasks++;
        summary.streams++;
        if (!instance.finished) summary.opened++;
        summary.stdoutBytes += instance.stdoutBytes;
        summary.stderrBytes += instance.stderrBytes;
      }
    }
    for (const instance of this.superseded) {
      summary.supersededStdoutBytes += instance.stdoutBytes;
      summary.supersededStderrBytes += instance.stderrBytes;
    }
    return summary;
  }

  /**
   * The last instances of a job's tasks (all, or `taskIds`), ascending; throws `HqError` for a
   * job or task that is not in the log.
   */
  tasksOf(jobId: number, taskIds?: Iterable<number>): StreamInstance[] {
    const tasks = this.tasksByJob.get(jobId);
    if (!tasks) throw new HqError(`Job ${jobId} not found`);
    if (taskIds === undefined) return [...tasks.values()].sort((a, b) => a.taskId - b.taskId);
    const selected: StreamInstance[] = [];
    for (const taskId of [...taskIds].sort((a, b) => a - b)) {
      const instance = tasks.get(taskId);
      if (!instance) throw new HqError(`Task ${taskId} not found`);
      selected.push(instance);
    }
    return selected;
  }

  /** Every task's last instance, by job then task id. */
  allTasks(): StreamInstance[] {
    return this.jobIds().flatMap((jobId) => this.tasksOf(jobId));
  }
}

/**
 * Whether `a` supersedes `b`: a higher instance id; for the same id (run again by a restored
 * server, in another file) a finished one, else the one that started later.
 */
function isLater(a: StreamInstance, b: StreamInstance): boolean {
  if (a.instanceId !== b.instanceId) return a.instanceId > b.instanceId;
  if (a.finished !== b.finished) return a.finished;
  return a.startMs > b.startMs;
}

/** One channel's bytes of the instances, in their order (`output-log cat`). */
export function channelBytes(instances: StreamInstance[], channel: StreamChannel): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const instance of instances) {
    for (const chunk of instance.chunks) if (chunk.channel === channel) parts.push(chunk.data);
  }
  return parts;
}

/**
 * The chunks of `output-log show`, sorted by time (ties keep file order): each as its prefix
 * `<J>.<T>:<C>> ` (ids zero-padded to the widest id of the whole log) and data that ends with a
 * newline.
 */
export function showLines(
  log: OutputLog,
  instances: StreamInstance[],
  channel: StreamChannel | null,
): Array<{ taskId: number; prefix: string; data: Uint8Array }> {
  let maxJob = 0;
  let maxTask = 0;
  for (const instance of log.allTasks()) {
    maxJob = Math.max(maxJob, instance.jobId);
    maxTask = Math.max(maxTask, instance.taskId);
  }
  const jobWidth = String(maxJob).length;
  const taskWidth = String(maxTask).length;
  const chunks = instances.flatMap((instance) =>
    instance.chunks.filter((chunk) => channel === null || chunk.channel === channel)
  );
  chunks.sort((a, b) => a.timeMs - b.timeMs);
  return chunks.map((chunk) => {
    const data = chunk.data.at(-1) === 0x0a ? chunk.data : withNewline(chunk.data);
    return {
      taskId: chunk.taskId,
      prefix: `${String(chunk.jobId).padStart(jobWidth, "0")}.${
        String(chunk.taskId).padStart(taskWidth, "0")
      }:${chunk.channel}> `,
      data,
    };
  });
}

function withNewline(data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(data.length + 1);
  bytes.set(data);
  bytes[data.length] = 0x0a;
  return bytes;
}

/** `output-log export`: stdout only **(quirk)**, as lossy UTF-8. */
export function exportTasks(instances: StreamInstance[]): ExportedTaskOutput[] {
  const decoder = new TextDecoder();
  return instances.map((instance) => {
    const parts = channelBytes([instance], 0);
    const length = parts.reduce((sum, part) => sum + part.length, 0);
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return { finished: instance.finished, id: instance.taskId, stdout: decoder.decode(bytes) };
  });
}
