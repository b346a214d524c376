/**
 * The `hq journal …` commands (journal spec §1.5, §1.7): `export` and `report` read a journal file
 * without a server; `replay`, `stream`, `prune` and `flush` ask the running server.
 */
// Not through client/mod.ts: every client command loads that, and only `report` needs this.
import { type ExportedEvent, renderJournalReport } from "../client/journal_report.ts";
import { ConnectionError, describeError, HqError } from "../common/errors.ts";
import {
  type ExportedJournalEvent,
  exportJournalEvent,
  exportJournalLine,
} from "../common/journal/export_events.ts";
import { decodeJournalRecord, isPublicJournalEvent } from "../common/journal/journal_events.ts";
import {
  JournalCorruptedError,
  JournalReader,
  readJournalBytes,
} from "../common/journal/journal_file.ts";
import { logger } from "../common/log.ts";
import { writeStdout } from "../common/output/mod.ts";
import type { CliContext } from "./context.ts";
import type { JournalReportArgs } from "./journal_commands.ts";
import { withClient } from "./with_client.ts";

const log = logger("client");

// Lines are written in chunks of about this many characters: a write per line would make the
// export of a million-event journal spend most of its time in system calls.
const EXPORT_CHUNK_CHARS = 64 * 1024;

/**
 * `hq journal export <JOURNAL>`: one §1.6 line per record on stdout, in every output mode, then
 * `Outputted N events` in the log. Lines before a corrupted record are printed before the error.
 */
export async function runJournalExport(path: string, _context: CliContext): Promise<void> {
  let count = 0;
  let chunk = "";
  try {
    for (const exported of readExportedEvents(path, await readJournalBytes(path))) {
      chunk += `${JSON.stringify(exported)}\n`;
      count++;
      if (chunk.length >= EXPORT_CHUNK_CHARS) {
        writeStdout(chunk);
        chunk = "";
      }
    }
  } finally {
    writeStdout(chunk);
  }
  log.info(`Outputted ${count} ${count === 1 ? "event" : "events"}`);
}

/**
 * `hq journal replay` (`live` false) and `hq journal stream` (`live` true): prints the events the
 * server pushes as export lines. A stream ends without error when the server goes away.
 */
export async function runJournalReplay(
  options: { live: boolean },
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    client.onJournalRecords = (records) => {
      let text = "";
      for (const [timeMs, event] of records) {
        if (isPublicJournalEvent(event)) text += `${exportJournalLine({ timeMs, event })}\n`;
      }
      writeStdout(text);
    };
    try {
      await client.request({ type: "journal-replay", live: options.live });
    } catch (error) {
      // The server stopping is how a stream normally ends.
      if (options.live && isConnectionEnd(error)) return;
      throw error;
    }
  });
}

/** `hq journal prune` and `hq journal flush`: one request, nothing printed. */
export async function runJournalRequest(
  type: "journal-prune" | "journal-flush",
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    await client.request({ type });
  });
}

/** `hq journal report <JOURNAL> <OUTPUT>`: the HTML page of §1.7. */
export async function runJournalReport(
  args: JournalReportArgs,
  _context: CliContext,
): Promise<void> {
  const bytes = await readJournalBytes(args.journal);
  const events: ExportedEvent[] = [...readExportedEvents(args.journal, bytes)];
  const html = renderJournalReport(events, {
    startOffsetMs: args.startTime,
    endOffsetMs: args.endTime,
  });
  try {
    await Deno.writeTextFile(args.output, html);
  } catch (error) {
    throw new HqError(`Cannot write report "${args.output}": ${describeError(error)}`, {
      cause: error,
    });
  }
}

/**
 * The records of a journal file in order, exported. A torn tail ends the records (the server may
 * be writing the file right now); a record that does not decode or export is corruption, reported
 * at its byte offset like damage the reader finds itself.
 */
function* readExportedEvents(path: string, bytes: Uint8Array): Generator<ExportedJournalEvent> {
  const reader = new JournalReader(bytes, path);
  for (;;) {
    const offset = reader.validEnd;
    const payload = reader.nextRecord();
    if (payload === undefined) break;
    const record = decodeJournalRecord(payload);
    if (record === null) throw corrupted(path, offset, "the record cannot be decoded");
    // Ours, for the server's restore only: HyperQueue has no such event.
    if (!isPublicJournalEvent(record.event)) continue;
    let exported: ExportedJournalEvent;
    try {
      exported = exportJournalEvent(record);
    } catch (error) {
      throw corrupted(path, offset, describeError(error));
    }
    yield exported;
  }
  if (reader.tornBytes > 0) {
    log.debug(`Journal "${path}" ends with ${reader.tornBytes} bytes of an unfinished record`);
  }
}

function corrupted(path: string, offset: number, detail: string): JournalCorruptedError {
  return new JournalCorruptedError(
    `Journal "${path}" appears corrupted at byte ${offset}: ${detail}`,
  );
}

function isConnectionEnd(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.UnexpectedEof || error instanceof Deno.errors.BrokenPipe;
}
