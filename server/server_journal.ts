/**
 * The server's event log (journal spec §1): appends events to the journal file when there is
 * one, flushes it on the spec's schedule, and hands live events to `journal stream` listeners.
 * Appending only buffers; the file is written and synced by `flush` (before a modifying request
 * is answered, every flush period, at stop), off the scheduling path.
 */
import { describeError, type HqError } from "../common/errors.ts";
import {
  decodeJournalRecord,
  encodeJournalRecord,
  encodeJournalRecordView,
  type JournalEvent,
} from "../common/journal/journal_events.ts";
import {
  JOURNAL_FORMAT_VERSION,
  JOURNAL_HEADER_BYTES,
  JOURNAL_MAGIC,
  JournalCorruptedError,
  JournalReader,
  JournalReadError,
  JournalWriter,
} from "../common/journal/journal_file.ts";
import { logger } from "../common/log.ts";
import { timerPeriodMs } from "../common/long_timeout.ts";
import { JournalRestorer, type RestoredState } from "./journal_restore.ts";

const log = logger("server::journal");

/** A prune writes the new file in pieces of this many bytes. */
const PRUNE_FLUSH_BYTES = 16 * 1024 * 1024;

/** Records per `journal-records` push of a replay. */
const REPLAY_CHUNK = 4096;

export interface JournalOpenOptions {
  /**
   * Restore from a journal damaged in the middle up to the damage and cut the rest off, instead of
   * refusing to start (`--journal-truncate-corrupted`). @default {false}
   */
  truncateCorrupted?: boolean;
}

/**
 * Whether `bytes`, a whole file, is shorter than a journal header and holds nothing but a start
 * of one (or zeros, where the file system extended the file before the data reached the disk).
 */
function isUnfinishedHeader(bytes: Uint8Array): boolean {
  // An empty file stays the spec's error (§1.4); a new journal is created whole (header first,
  // then renamed into place), so our own crash never leaves one.
  if (bytes.length === 0 || bytes.length >= JOURNAL_HEADER_BYTES) return false;
  const header = new Uint8Array(JOURNAL_HEADER_BYTES);
  header.set(JOURNAL_MAGIC);
  new DataView(header.buffer).setUint32(JOURNAL_MAGIC.length, JOURNAL_FORMAT_VERSION, true);
  return bytes.every((byte) => byte === 0) || bytes.every((byte, i) => byte === header[i]);
}

/** The first bytes of the journal at `path` (up to a header's), to tell an unfinished one. */
async function readJournalHead(path: string): Promise<Uint8Array> {
  try {
    using file = await Deno.open(path, { read: true });
    const head = new Uint8Array(JOURNAL_HEADER_BYTES);
    let length = 0;
    while (length < head.length) {
      const read = await file.read(head.subarray(length));
      if (read === null) break;
      length += read;
    }
    return head.subarray(0, length);
  } catch (error) {
    throw new JournalReadError(`Cannot read journal "${path}": ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** Events of modifying requests: refused when their flush failed, so never written later. */
const REQUEST_EVENTS = new Set(["job-open", "job-created", "job-cancel", "job-close"]);

function keepAfterFailure(payload: Uint8Array): boolean {
  const record = decodeJournalRecord(payload);
  return record !== null && !REQUEST_EVENTS.has(record.event.type);
}

export type JournalListener = (records: Array<[number, JournalEvent]>) => void;

export class ServerJournal {
  readonly #listeners = new Set<JournalListener>();
  #live: Array<[number, JournalEvent]> = [];
  #livePending = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Records in the file once what is buffered is written (a replay reads up to there). */
  #records = 0;
  /** Each prune starts after the one before it ends: two never share the temporary file. */
  #lastPrune: Promise<void> = Promise.resolve();
  /** While a prune rewrites the file: copies of the records appended since its snapshot. */
  #sincePrune: Uint8Array[] | null = null;
  /** While a prune swaps files: flushes wait for it, then sync the file that stays. */
  #swapping: Promise<void> | null = null;
  /** A recovery of the failed writer in progress. */
  #recovering: Promise<boolean> | null = null;
  /** Whether a record that could not be appended was logged already. */
  #appendFailureLogged = false;

  private constructor(readonly path: string | null, private writer: JournalWriter | null) {}

  /** A log without a file: events only reach live listeners. */
  static inMemory(): ServerJournal {
    return new ServerJournal(null, null);
  }

  /**
   * Opens `path`, first restoring from it when it holds records (spec §1.4): a torn tail is cut
   * off with a warning; corruption in the middle is an error that names the byte offset.
   */
  static async open(
    path: string,
    flushPeriodMs: number,
    options: JournalOpenOptions = {},
  ): Promise<{ journal: ServerJournal; restored: RestoredState | null }> {
    let restored: RestoredState | null = null;
    let validEnd: number | undefined;
    let exists = await Deno.stat(path).then(() => true, (error) => {
      if (error instanceof Deno.errors.NotFound) return false;
      throw new JournalReadError(`Cannot read journal "${path}": ${describeError(error)}`, {
        cause: error,
      });
    });
    // The journal is read in chunks, not whole (only a short one is read here, for its header).
    const head = exists ? await readJournalHead(path) : null;
    if (head !== null && isUnfinishedHeader(head)) {
      // A crash between creating the file and syncing its header: nothing was ever recorded.
      log.warn(
        `Journal "${path}" holds only ${head.length} bytes of its header (a start that crashed ` +
          "while creating it); starting it anew",
      );
      await Deno.truncate(path, 0);
      exists = false;
    }
    if (exists) {
      const started = performance.now();
      ({ restored, validEnd } = restore(path, options.truncateCorrupted ?? false));
      restored.replayMs = performance.now() - started;
    }
    let writer: JournalWriter;
    try {
      writer = await JournalWriter.open(path, { validEnd });
    } catch (error) {
      // A journal this start created but could not write would block every later start.
      if (!exists) await Deno.remove(path).catch(() => {});
      throw error;
    }
    const journal = new ServerJournal(path, writer);
    journal.#records = restored?.events ?? 0;
    journal.#timer = setInterval(() => {
      if (journal.failure !== null) journal.recover();
      else journal.flush().catch(() => {}); // Logged by flush.
    }, timerPeriodMs(flushPeriodMs));
    return { journal, restored };
  }

  /** Whether events are wanted at all (a file, or someone streaming). */
  get wanted(): boolean {
    return this.writer !== null || this.#listeners.size > 0;
  }

  /** Whether events go to a file (not only to live listeners). */
  get hasFile(): boolean {
    return this.writer !== null;
  }

  /** Why the journal cannot be written any more, or null. */
  get failure(): HqError | null {
    return this.writer?.failure ?? null;
  }

  /**
   * Appends an event (buffered until the next flush) and hands it to live listeners. Never
   * throws: it runs inside worker message handlers and timers. Returns false when the event has a
   * file to go to but could not be appended (the writer failed, or the record is too large), so
   * that a modifying request can be refused instead of acknowledged.
   */
  record(event: JournalEvent, timeMs: number = Date.now()): boolean {
    if (this.#closed) return false;
    let appended = true;
    if (this.writer !== null) {
      // Appended even to a failed writer, which keeps it for its recovery; but a modifying
      // request that sees false is refused (and its record left out of the recovery).
      appended = this.#append(timeMs, event) && this.writer.failure === undefined;
    }
    this.recordLive(event, timeMs);
    return appended;
  }

  #append(timeMs: number, event: JournalEvent): boolean {
    try {
      const payload = encodeJournalRecordView(timeMs, event);
      this.writer!.append(payload);
      this.#sincePrune?.push(payload.slice());
      this.#records++;
      return true;
    } catch (error) {
      if (!this.#appendFailureLogged) {
        this.#appendFailureLogged = true;
        log.error(`Cannot journal a "${event.type}" event: ${describeError(error)}`);
      }
      return false;
    }
  }

  /**
   * Tries to make a failed journal writable again (the disk has room again): the records kept
   * since the failure are written, except those of modifying requests, which were refused. Never
   * throws; resolves with whether the journal is writable now.
   */
  async recover(): Promise<boolean> {
    const writer = this.writer;
    if (writer === null || writer.failure === undefined) return true;
    // A prune in progress fails on its own; the writer it leaves in place is recovered later.
    if (this.#sincePrune !== null || this.#swapping !== null) return false;
    this.#recovering ??= writer.recover(keepAfterFailure).then((left) => {
      this.#records -= left;
      log.info(`Journal "${this.path}" is writable again (${left} records left out)`);
      return true;
    }, () => false).finally(() => this.#recovering = null);
    return await this.#recovering;
  }

  /** Hands an event to live listeners only (job idle, task notifications: never in the file). */
  recordLive(event: JournalEvent, timeMs: number = Date.now()): void {
    if (this.#closed || this.#listeners.size === 0) return;
    this.#live.push([timeMs, event]);
    if (!this.#livePending) {
      this.#livePending = true;
      queueMicrotask(() => this.#sendLive());
    }
  }

  /**
   * Records the run's last event (`server-stop`), in the file only: as in HyperQueue, a
   * `journal stream` ends without it. Whatever happens later is not recorded.
   */
  recordLast(event: JournalEvent): void {
    if (!this.#closed && this.writer !== null && this.writer.failure === undefined) {
      this.writer.append(encodeJournalRecordView(Date.now(), event));
      this.#records++;
    }
    this.#closed = true;
  }

  /** Writes and syncs what is buffered; rejects (and logs) when the journal cannot be written. */
  async flush(): Promise<void> {
    if (this.writer === null) return;
    // Synced to the old file while a prune replaces it would not be synced to the new one.
    while (this.#swapping) await this.#swapping;
    try {
      await this.writer.flush();
    } catch (error) {
      log.error(describeError(error));
      throw error;
    }
  }

  /**
   * Every past event (from the file, or `history` without one) in chunks, then with `live` every
   * new one, with no gap and no repeat between the two: the live listener is in place before the
   * file is flushed and read, and the file is read up to the record that was last when it was.
   * Returns what ends the live part.
   */
  async replay(
    send: JournalListener,
    live: boolean,
    history: () => Array<[number, JournalEvent]>,
  ): Promise<() => void> {
    let queued: Array<[number, JournalEvent]> | null = [];
    const listener: JournalListener = (records) => {
      if (queued) queued.push(...records);
      else send(records);
    };
    if (live) this.#listeners.add(listener);
    const stop = () => void this.#listeners.delete(listener);
    try {
      const records = this.writer === null ? history() : await this.#fileRecords(this.#records);
      for (let at = 0; at < records.length; at += REPLAY_CHUNK) {
        send(records.slice(at, at + REPLAY_CHUNK));
      }
    } catch (error) {
      stop();
      throw error;
    }
    if (queued.length > 0) send(queued);
    queued = null;
    return stop;
  }

  /** The first `count` records of the file, once what is buffered is on disk. */
  async #fileRecords(count: number): Promise<Array<[number, JournalEvent]>> {
    await this.flush();
    const path = this.writer!.path;
    using reader = JournalReader.openFile(path);
    const records: Array<[number, JournalEvent]> = [];
    for (let payload = reader.nextRecord(); payload && count > 0; payload = reader.nextRecord()) {
      count--;
      const record = decodeJournalRecord(payload);
      if (record) records.push([record.timeMs, record.event]);
    }
    return records;
  }

  /**
   * Rewrites the journal keeping what `keep` returns for each event (the event, a trimmed copy,
   * or null to drop it; `hq journal prune`). The server keeps recording meanwhile: the records
   * appended since the snapshot follow the kept ones in the new file, which replaces the old one
   * only once it holds them all. When the rewrite fails (a full disk), the old file and its
   * writer stay as they were. Prunes run one at a time.
   */
  prune(keep: (event: JournalEvent) => JournalEvent | null): Promise<void> {
    const prune = this.#lastPrune.then(() => this.#prune(keep));
    this.#lastPrune = prune.catch(() => {});
    return prune;
  }

  async #prune(keep: (event: JournalEvent) => JournalEvent | null): Promise<void> {
    if (this.writer === null || this.#closed) return;
    const old = this.writer;
    const path = old.path;
    const temporaryPath = `${path}.tmp`;
    // The snapshot: the first `count` records; copies of later ones are collected from here on.
    const count = this.#records;
    this.#sincePrune = [];
    let replacement: JournalWriter | null = null;
    let reader: JournalReader | null = null;
    let finishSwap = () => {};
    try {
      await this.flush();
      reader = JournalReader.openFile(path);
      const mode = (await Deno.stat(path)).mode;
      await Deno.remove(temporaryPath).catch(() => {}); // A leftover of a crashed prune.
      replacement = await JournalWriter.open(temporaryPath);
      if (mode !== null) await Deno.chmod(temporaryPath, mode & 0o777);
      let kept = 0;
      for (let n = 0; n < count; n++) {
        const payload = reader.nextRecord();
        if (payload === undefined) break;
        const record = decodeJournalRecord(payload);
        const event = record && keep(record.event);
        if (!event) continue;
        replacement.append(
          event === record.event ? payload : encodeJournalRecord(record.timeMs, event),
        );
        kept++;
        if (replacement.bufferedBytes >= PRUNE_FLUSH_BYTES) await replacement.flush();
      }
      reader.close();
      kept += await this.#drainInto(replacement);
      // From here until the writers are swapped, a flush waits: acknowledging a record synced
      // only to the old file would lose it when the new file replaces the old one.
      this.#swapping = new Promise((resolve) => (finishSwap = resolve));
      kept += await this.#drainInto(replacement);
      await replacement.renameTo(path);
      kept += this.#moveCollected(replacement);
      this.writer = replacement;
      this.#records = kept;
      replacement = null;
      old.close().catch(() => {}); // Its records are in the new file.
    } finally {
      reader?.close();
      this.#sincePrune = null;
      this.#swapping = null;
      finishSwap();
      if (replacement !== null) {
        await replacement.close().catch(() => {});
        await Deno.remove(temporaryPath).catch(() => {});
      }
    }
  }

  /** Moves the collected records into `writer` and syncs it until none is left; their count. */
  async #drainInto(writer: JournalWriter): Promise<number> {
    let moved = 0;
    do {
      moved += this.#moveCollected(writer);
      await writer.flush();
    } while (this.#sincePrune!.length > 0);
    return moved;
  }

  #moveCollected(writer: JournalWriter): number {
    const collected = this.#sincePrune!;
    this.#sincePrune = [];
    for (const payload of collected) writer.append(payload);
    return collected.length;
  }

  /** Final flush and close (after `server-stop` was recorded). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.clear();
    if (this.writer === null) return;
    await this.writer.close().catch((error) => log.error(describeError(error)));
  }

  #sendLive(): void {
    this.#livePending = false;
    const records = this.#live;
    this.#live = [];
    for (const listener of this.#listeners) listener(records);
  }
}

function restore(
  path: string,
  truncateCorrupted: boolean,
): { restored: RestoredState; validEnd: number } {
  const options = { truncateCorrupted };
  let restorer: JournalRestorer;
  try {
    using first = JournalReader.openFile(path, options);
    restorer = new JournalRestorer(completedJobs(first));
  } catch (error) {
    if (!(error instanceof JournalCorruptedError)) throw error;
    throw new JournalCorruptedError(
      `${error.message}; to start anyway, dropping everything from the damage on, pass --journal-truncate-corrupted`,
    );
  }
  using reader = JournalReader.openFile(path, options);
  for (
    let at = reader.validEnd, payload = reader.nextRecord();
    payload;
    payload = reader.nextRecord()
  ) {
    const record = decodeJournalRecord(payload);
    if (!record) {
      throw new JournalCorruptedError(`Journal "${path}" appears corrupted at byte ${at}`);
    }
    restorer.apply(record.timeMs, record.event);
    at = reader.validEnd;
  }
  if (reader.corruptedAt !== null) {
    log.warn(
      `The journal "${path}" is damaged at byte ${reader.corruptedAt}; the ${reader.tornBytes} bytes from there on will be removed`,
    );
  } else if (reader.tornBytes > 0) {
    log.warn(
      `The journal "${path}" ends with ${reader.tornBytes} bytes of a record that was not fully written; they will be removed`,
    );
  }
  return { restored: restorer.finish(), validEnd: reader.validEnd };
}

/**
 * The jobs with a `job-completed` record. Only records other than the compact task starts and
 * finishes (a msgpack fixarray of 2, `0x92`, first byte) are decoded: a fraction of the file.
 */
function completedJobs(reader: JournalReader): Set<number> {
  const jobs = new Set<number>();
  for (let payload = reader.nextRecord(); payload; payload = reader.nextRecord()) {
    if (payload[0] !== 0x92) continue;
    const event = decodeJournalRecord(payload)?.event;
    if (event?.type === "job-completed") jobs.add(event.jobId);
  }
  return jobs;
}
