/**
 * The worker's output stream files (jobs spec §10.1): one `<12 random alphanumerics>.hqs` per
 * stream directory, created with the first streamed task for it and appended to by every later
 * one until the worker exits or a write fails. Records are buffered and written in batches; a
 * task's end is written before the task is reported (the spec's flush guarantee), and a timer
 * writes what running tasks printed so `hq output-log --allow-unfinished` sees it.
 */
import { describeError, HqError } from "../common/errors.ts";
import { joinPath } from "../common/paths.ts";
import type { TaskRefMessage } from "../common/protocol.ts";
import {
  encodeHeader,
  RECORD_CHUNK,
  RECORD_HEAD_BYTES,
  RECORD_START,
  STREAM_FILE_EXTENSION,
  type StreamChannel,
  type StreamRecordHead,
  writeRecordHead,
} from "../common/stream_log.ts";

/** Written at once past this many buffered bytes. */
const BATCH_BYTES = 256 * 1024;
/** Buffered output of running tasks reaches the file within this time. */
const FLUSH_INTERVAL_MS = 500;
/** A synchronous write slower than this makes the file's later writes asynchronous. */
const SLOW_SYNC_WRITE_MS = 50;
const NAME_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A stream directory could not be made, or its file not created or written. */
export class StreamError extends HqError {}

export interface OutputStreamsOptions {
  serverUid: string;
  workerId: number;
}

export class OutputStreams {
  readonly #byDir = new Map<string, Promise<StreamFile>>();

  constructor(private readonly options: OutputStreamsOptions) {}

  get serverUid(): string {
    return this.options.serverUid;
  }

  /** The file for `dir`, created (with `dir`) on first use; throws `StreamError`. */
  open(dir: string): Promise<StreamFile> {
    let file = this.#byDir.get(dir);
    if (!file) {
      file = StreamFile.create(dir, this.options, () => this.#byDir.delete(dir));
      this.#byDir.set(dir, file);
      file.catch(() => this.#byDir.delete(dir));
    }
    return file;
  }

  /** Writes what is buffered and closes every file (worker exit). */
  async closeAll(): Promise<void> {
    const files = await Promise.allSettled(this.#byDir.values());
    this.#byDir.clear();
    for (const file of files) if (file.status === "fulfilled") await file.value.close();
  }
}

export class StreamFile {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** The write in progress; the next batch waits for it. */
  #writing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Asynchronous batch writes queued or running. */
  #inFlight = 0;
  /** Whether a task's end is written synchronously (until one such write was slow). */
  #syncWrites = true;
  #error: StreamError | null = null;
  #closed = false;

  private constructor(
    readonly path: string,
    private readonly file: Deno.FsFile,
    private readonly onBroken: () => void,
  ) {}

  static async create(
    dir: string,
    options: OutputStreamsOptions,
    onBroken: () => void,
  ): Promise<StreamFile> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      throw new StreamError(`Cannot create stream directory ${dir}: ${describeError(error)}`);
    }
    for (;;) {
      const path = joinPath(dir, randomName() + STREAM_FILE_EXTENSION);
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) continue;
        throw new StreamError(`Cannot create stream file ${path}: ${describeError(error)}`);
      }
      const stream = new StreamFile(path, file, onBroken);
      stream.#append(encodeHeader(options));
      return stream;
    }
  }

  /** A task instance starts streaming. */
  start(task: TaskRefMessage): void {
    this.#record(RECORD_START, 0, task, null);
  }

  /** `data` is kept as it is until written (the pipe reader hands over bytes of its own). */
  chunk(task: TaskRefMessage, channel: StreamChannel, data: Uint8Array): void {
    if (data.length === 0) return; // a zero-length chunk would end the instance
    this.#record(RECORD_CHUNK, channel, task, data);
  }

  /** Ends the instance's output and resolves once all of it is written; throws `StreamError`. */
  end(task: TaskRefMessage): Promise<void> {
    this.#record(RECORD_CHUNK, 0, task, null);
    // Usually no write is in flight: the batch is written at once, a synchronous append of a few
    // KiB that costs less than a trip through Deno's thread pool (60-80 µs of worker CPU a task).
    // A file system slow enough to hold up the worker gets asynchronous writes from then on.
    if (
      this.#syncWrites && this.#inFlight === 0 && !this.#error && !this.#closed &&
      this.#pendingBytes > 0
    ) {
      const batch = this.#takeBatch();
      const started = performance.now();
      try {
        let written = 0;
        while (written < batch.length) written += this.file.writeSync(batch.subarray(written));
      } catch (error) {
        this.#broken(error);
      }
      if (performance.now() - started > SLOW_SYNC_WRITE_MS) this.#syncWrites = false;
    }
    return this.flush();
  }

  /** Resolves once everything recorded so far is written; throws the write's `StreamError`. */
  flush(): Promise<void> {
    if (this.#pendingBytes > 0) this.#writeBatch();
    return this.#writing.then(() => {
      if (this.#error) throw this.#error;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => {});
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.file.close();
    } catch { /* already closed after an error */ }
  }

  #record(
    kind: StreamRecordHead["kind"],
    channel: StreamChannel,
    task: TaskRefMessage,
    data: Uint8Array | null,
  ): void {
    if (this.#error) return;
    const { jobId, taskId, instanceId } = task;
    const head = { kind, channel, jobId, taskId, instanceId, timeMs: Date.now() };
    const bytes = new Uint8Array(RECORD_HEAD_BYTES);
    writeRecordHead(new DataView(bytes.buffer), 0, head, data?.length ?? 0);
    // The data is not copied behind its head here: the batch write copies both once.
    this.#append(bytes, data);
  }

  #append(bytes: Uint8Array, data: Uint8Array | null = null): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (data) {
      this.#pending.push(data);
      this.#pendingBytes += data.length;
    }
    if (this.#pendingBytes >= BATCH_BYTES) this.#writeBatch();
    // Not cleared by the batches written meanwhile (a task's end, say): one timer per interval
    // however many tasks start and end in it.
    else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#writeBatch();
      }, FLUSH_INTERVAL_MS);
    }
  }

  /** Takes everything buffered into one write, after the one in progress. */
  #writeBatch(): void {
    if (this.#pendingBytes === 0 || this.#closed) return;
    const batch = this.#takeBatch();
    this.#inFlight++;
    this.#writing = this.#writing.then(async () => {
      try {
        if (this.#error) return;
        let written = 0;
        while (written < batch.length) written += await this.file.write(batch.subarray(written));
      } catch (error) {
        this.#broken(error);
      } finally {
        this.#inFlight--;
      }
    });
  }

  #takeBatch(): Uint8Array {
    const batch = concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    return batch;
  }

  #broken(error: unknown): void {
    this.#error = new StreamError(`Cannot write ${this.path}: ${describeError(error)}`);
    this.onBroken();
    try {
      this.file.close();
    } catch { /* ignore */ }
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

function randomName(): string {
  const random = crypto.getRandomValues(new Uint8Array(12));
  let name = "";
  for (const byte of random) name += NAME_ALPHABET[byte % NAME_ALPHABET.length];
  return name;
}
