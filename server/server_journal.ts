/**
 * The server's event log (journal spec §1): appends events to the journal file when there is
 * one, flushes it on the spec's schedule, and hands live events to `journal stream` listeners.
 * Appending only buffers; the file is written and synced by `flush` (before a modifying request
 * is answered, every flush period, at stop), off the scheduling path.
 */
import { describeError, HqError } from "../common/errors.ts";
import {
  decodeJournalRecord,
  encodeJournalRecord,
  encodeJournalRecordView,
  type JournalEvent,
} from "../common/journal/journal_events.ts";
import {
  JournalCorruptedError,
  JournalReader,
  JournalWriter,
  readJournalBytes,
  rewriteJournal,
} from "../common/journal/journal_file.ts";
import { logger } from "../common/log.ts";
import { JournalRestorer, type RestoredState } from "./journal_restore.ts";

const log = logger("server::journal");

/** Records per `journal-records` push of a replay. */
const REPLAY_CHUNK = 4096;

export type JournalListener = (records: Array<[number, JournalEvent]>) => void;

export class ServerJournal {
  readonly #listeners = new Set<JournalListener>();
  #live: Array<[number, JournalEvent]> = [];
  #livePending = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Records in the file once what is buffered is written (a replay reads up to there). */
  #records = 0;

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
  ): Promise<{ journal: ServerJournal; restored: RestoredState | null }> {
    let restored: RestoredState | null = null;
    let validEnd: number | undefined;
    const bytes = await readJournalBytes(path).catch((error) => {
      if (error instanceof HqError && error.cause instanceof Deno.errors.NotFound) return null;
      throw error;
    });
    if (bytes !== null) {
      const started = performance.now();
      ({ restored, validEnd } = restore(bytes, path));
      restored.replayMs = performance.now() - started;
    }
    let writer: JournalWriter;
    try {
      writer = await JournalWriter.open(path, { validEnd });
    } catch (error) {
      // A journal this start created but could not write would block every later start.
      if (bytes === null) await Deno.remove(path).catch(() => {});
      throw error;
    }
    const journal = new ServerJournal(path, writer);
    journal.#records = restored?.events ?? 0;
    journal.#timer = setInterval(() => {
      journal.flush().catch(() => {}); // Logged by flush.
    }, flushPeriodMs);
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

  record(event: JournalEvent, timeMs: number = Date.now()): void {
    if (this.#closed) return;
    if (this.writer !== null && this.writer.failure === undefined) {
      this.writer.append(encodeJournalRecordView(timeMs, event));
      this.#records++;
    }
    this.recordLive(event, timeMs);
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
    const reader = new JournalReader(await readJournalBytes(path), path);
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
   * or null to drop it; `hq journal prune`); the writer continues on the new file.
   */
  async prune(keep: (event: JournalEvent) => JournalEvent | null): Promise<void> {
    if (this.writer === null) return;
    await this.flush();
    const path = this.writer.path;
    const bytes = await readJournalBytes(path);
    const reader = new JournalReader(bytes, path);
    const kept: Uint8Array[] = [];
    for (let payload = reader.nextRecord(); payload; payload = reader.nextRecord()) {
      const record = decodeJournalRecord(payload);
      const event = record && keep(record.event);
      if (!event) continue;
      kept.push(event === record.event ? payload : encodeJournalRecord(record.timeMs, event));
    }
    await this.writer.close();
    await rewriteJournal(path, kept);
    this.writer = await JournalWriter.open(path);
    this.#records = kept.length;
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

function restore(bytes: Uint8Array, path: string): { restored: RestoredState; validEnd: number } {
  const restorer = new JournalRestorer(completedJobs(bytes, path));
  const reader = new JournalReader(bytes, path);
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
  if (reader.tornBytes > 0) {
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
function completedJobs(bytes: Uint8Array, path: string): Set<number> {
  const jobs = new Set<number>();
  const reader = new JournalReader(bytes, path);
  for (let payload = reader.nextRecord(); payload; payload = reader.nextRecord()) {
    if (payload[0] !== 0x92) continue;
    const event = decodeJournalRecord(payload)?.event;
    if (event?.type === "job-completed") jobs.add(event.jobId);
  }
  return jobs;
}
