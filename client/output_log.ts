/**
 * Reading a directory of output stream files (`hq output-log`, jobs spec §10.2): the files' task
 * instances, of which only each task's last counts, and what `summary`, `cat`, `show` and
 * `export` make of them. Files may be written meanwhile: a record cut short at a file's end is
 * left out, nothing is ever written here.
 *
 * Memory does not grow with the data: reading scans the record heads in blocks of `BLOCK_BYTES`
 * and keeps where each chunk's data is; the data is read when it is printed, a block at a time.
 */
import { HqError } from "../common/errors.ts";
import { joinPath } from "../common/paths.ts";
import {
  decodeHeader,
  type ExportedTaskOutput,
  type OutputLogSummary,
  RECORD_CHUNK,
  RECORD_HEAD_BYTES,
  RECORD_START,
  STREAM_FILE_EXTENSION,
  type StreamChannel,
} from "../common/stream_log.ts";

/** The unit of reading: record heads are scanned and data is read this many bytes at a time. */
const BLOCK_BYTES = 1024 * 1024;

/** Where one chunk of a task instance's output is: its file and the data's place there. */
export interface StreamChunk {
  jobId: number;
  taskId: number;
  channel: StreamChannel;
  timeMs: number;
  /** Index of the file in the log. */
  file: number;
  /** Offset of the data in the file. */
  at: number;
  length: number;
}

/** One run of one task (an instance id), with its chunks in file order. */
export interface StreamInstance {
  jobId: number;
  taskId: number;
  instanceId: number;
  /** Time of its first record. */
  startMs: number;
  /** The zero-length chunk arrived. */
  finished: boolean;
  chunks: StreamChunk[];
  stdoutBytes: number;
  stderrBytes: number;
}

export class OutputLog {
  /** Open files for data reads, by file index; closed by `close()`. */
  readonly #open = new Map<number, Deno.FsFile>();
  /** The block last read, for the chunks that follow it in the same file. */
  #block: { file: number; at: number; bytes: Uint8Array } | null = null;
  /** The memory every block is read into. */
  #blockBuffer: Uint8Array | null = null;

  private constructor(
    readonly path: string,
    /** The stream files read, by index. */
    readonly files: string[],
    /** The last instance of each task, by job id then task id. */
    readonly tasksByJob: Map<number, Map<number, StreamInstance>>,
    readonly superseded: StreamInstance[],
  ) {}

  get fileCount(): number {
    return this.files.length;
  }

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
    const files: string[] = [];
    const uids = new Set<string>();
    const instances = new Map<string, StreamInstance>();
    for (const name of names) {
      const file = joinPath(path, name);
      const uid = await scanFile(file, files.length, serverUid, instances);
      if (uid === null) continue;
      uids.add(uid);
      files.push(file);
    }
    if (uids.size > 1) {
      throw new HqError(
        `Found streams from multiple server instances:\n${
          [...uids].join("\n")
        }\nUse --server-uid=... to specify server uid`,
      );
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
    return new OutputLog(path, files, tasksByJob, superseded);
  }

  /**
   * The chunk's data. The bytes may be a view of a block that the next read replaces: use (or
   * copy) them before asking for more.
   */
  async chunkData(chunk: StreamChunk): Promise<Uint8Array> {
    const block = this.#block;
    if (
      block && block.file === chunk.file && chunk.at >= block.at &&
      chunk.at + chunk.length <= block.at + block.bytes.length
    ) {
      return block.bytes.subarray(chunk.at - block.at, chunk.at - block.at + chunk.length);
    }
    let file = this.#open.get(chunk.file);
    if (!file) {
      file = await Deno.open(this.files[chunk.file], { read: true });
      this.#open.set(chunk.file, file);
    }
    if (chunk.length > BLOCK_BYTES) {
      return await readAt(file, chunk.at, new Uint8Array(chunk.length));
    }
    this.#blockBuffer ??= new Uint8Array(BLOCK_BYTES);
    this.#block = null;
    const bytes = await readAt(file, chunk.at, this.#blockBuffer, chunk.length);
    this.#block = { file: chunk.file, at: chunk.at, bytes };
    return bytes.subarray(0, chunk.length);
  }

  /** One channel's data of the instances, chunk by chunk in their order (`output-log cat`). */
  async *channelData(
    instances: StreamInstance[],
    channel: StreamChannel,
  ): AsyncGenerator<Uint8Array> {
    for (const instance of instances) {
      for (const chunk of instance.chunks) {
        if (chunk.channel === channel) yield await this.chunkData(chunk);
      }
    }
  }

  /** Closes the files opened for reading data. */
  close(): void {
    for (const file of this.#open.values()) file.close();
    this.#open.clear();
    this.#block = null;
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

/**
 * The chunks of `output-log show`, sorted by time (ties keep file order), with their data: each
 * as its prefix `<J>.<T>:<C>> ` (ids zero-padded to the widest id of the whole log), its data (a
 * view the next line may replace) and whether a newline must follow, so that every line ends
 * with one.
 */
export async function* showLines(
  log: OutputLog,
  instances: StreamInstance[],
  channel: StreamChannel | null,
): AsyncGenerator<{ taskId: number; prefix: string; data: Uint8Array; newline: boolean }> {
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
  for (const chunk of chunks) {
    const data = await log.chunkData(chunk);
    yield {
      taskId: chunk.taskId,
      prefix: `${String(chunk.jobId).padStart(jobWidth, "0")}.${
        String(chunk.taskId).padStart(taskWidth, "0")
      }:${chunk.channel}> `,
      data,
      newline: data.at(-1) !== 0x0a,
    };
  }
}

/** `output-log export`: stdout only **(quirk)**, as lossy UTF-8. */
export async function exportTasks(
  log: OutputLog,
  instances: StreamInstance[],
): Promise<ExportedTaskOutput[]> {
  const out: ExportedTaskOutput[] = [];
  for (const instance of instances) {
    const bytes = new Uint8Array(instance.stdoutBytes);
    let at = 0;
    for await (const part of log.channelData([instance], 0)) {
      bytes.set(part, at);
      at += part.length;
    }
    out.push({
      finished: instance.finished,
      id: instance.taskId,
      stdout: new TextDecoder().decode(bytes),
    });
  }
  return out;
}

/**
 * Scans a stream file's record heads into `instances` (keyed per file too: a server restored
 * from its journal may run an instance id again); returns the file's server uid, or null for a
 * file that is unreadable, not a stream file, or of another server than `serverUid`. Only the
 * records complete when the scan began count; one that makes no sense (damage) ends the file.
 */
async function scanFile(
  path: string,
  fileIndex: number,
  serverUid: string | undefined,
  instances: Map<string, StreamInstance>,
): Promise<string | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  let uid: string | null = null;
  try {
    const size = (await file.stat()).size;
    const buffer = new Uint8Array(Math.min(BLOCK_BYTES, size));
    let block = await readAt(file, 0, buffer);
    let blockAt = 0;
    const decoded = decodeHeader(block);
    if (decoded === null) return null;
    if (serverUid !== undefined && decoded.header.serverUid !== serverUid) return null;
    uid = decoded.header.serverUid;
    let at = decoded.recordsAt;
    while (at + RECORD_HEAD_BYTES <= size) {
      if (at + RECORD_HEAD_BYTES > blockAt + block.length) {
        block = await readAt(file, at, buffer.subarray(0, Math.min(buffer.length, size - at)));
        blockAt = at;
      }
      const view = new DataView(block.buffer, block.byteOffset + at - blockAt, RECORD_HEAD_BYTES);
      const kind = view.getUint8(0);
      const channel = view.getUint8(1);
      if ((kind !== RECORD_START && kind !== RECORD_CHUNK) || channel > 1) break;
      const length = view.getUint32(24, true);
      const dataAt = at + RECORD_HEAD_BYTES;
      if (dataAt + length > size) break;
      const jobId = view.getUint32(4, true);
      const taskId = view.getUint32(8, true);
      const instanceId = view.getUint32(12, true);
      const timeMs = view.getFloat64(16, true);
      at = dataAt + length;
      const key = `${jobId}:${taskId}:${instanceId}:${fileIndex}`;
      let instance = instances.get(key);
      if (!instance) {
        instance = {
          jobId,
          taskId,
          instanceId,
          startMs: timeMs,
          finished: false,
          chunks: [],
          stdoutBytes: 0,
          stderrBytes: 0,
        };
        instances.set(key, instance);
      }
      if (kind === RECORD_START) continue;
      if (length === 0) {
        instance.finished = true;
        continue;
      }
      instance.chunks.push({
        jobId,
        taskId,
        channel: channel as StreamChannel,
        timeMs,
        file: fileIndex,
        at: dataAt,
        length,
      });
      if (channel === 0) instance.stdoutBytes += length;
      else instance.stderrBytes += length;
    }
    return uid;
  } catch {
    // Unreadable from some point on: what was read before counts (its instances are in).
    return uid;
  } finally {
    file.close();
  }
}

/**
 * The file's bytes from `at` on into `bytes`, as many as fit (fewer at its end), at least `need`
 * unless the file is shorter than that now; returns the part of `bytes` filled.
 */
async function readAt(
  file: Deno.FsFile,
  at: number,
  bytes: Uint8Array,
  need = bytes.length,
): Promise<Uint8Array> {
  await file.seek(at, Deno.SeekMode.Start);
  const length = bytes.length;
  let filled = 0;
  while (filled < length) {
    const count = await file.read(bytes.subarray(filled));
    if (count === null) break;
    filled += count;
  }
  if (filled < need) throw new HqError(`Stream file ended early (${filled} of ${need} bytes)`);
  return bytes.subarray(0, filled);
}
