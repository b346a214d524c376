/**
 * The byte format of output stream files (`*.hqs`, jobs spec §10.1; **(ours)**, only
 * `hq output-log` reads it). Written by workers, read by the client.
 *
 * File: `HQSTRM01`, u32 worker id, u16 length + UTF-8 server uid. Then records, each a 28-byte
 * head and its data, all little-endian: u8 kind (0 = a task instance starts, 1 = chunk), u8
 * channel (0 stdout, 1 stderr), u16 zero, u32 job id, u32 task id, u32 instance id, f64 time (ms
 * since the epoch), u32 data length. A zero-length chunk ends the instance's output.
 *
 * A writer appends whole records but a reader may see the file mid-write: a record cut short at
 * the end of the file is not there yet, and everything before it is intact.
 */

export const STREAM_FILE_EXTENSION = ".hqs";
const MAGIC = new TextEncoder().encode("HQSTRM01");
export const RECORD_HEAD_BYTES = 28;

export const RECORD_START = 0;
export const RECORD_CHUNK = 1;

export type StreamChannel = 0 | 1;

export interface StreamFileHeader {
  workerId: number;
  serverUid: string;
}

export function encodeHeader(header: StreamFileHeader): Uint8Array {
  const uid = new TextEncoder().encode(header.serverUid);
  const bytes = new Uint8Array(MAGIC.length + 6 + uid.length);
  bytes.set(MAGIC);
  const view = new DataView(bytes.buffer);
  view.setUint32(MAGIC.length, header.workerId, true);
  view.setUint16(MAGIC.length + 4, uid.length, true);
  bytes.set(uid, MAGIC.length + 6);
  return bytes;
}

/** The header and where the records start, or null for a file that is not a stream file. */
export function decodeHeader(
  bytes: Uint8Array,
): { header: StreamFileHeader; recordsAt: number } | null {
  if (bytes.length < MAGIC.length + 6) return null;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const workerId = view.getUint32(MAGIC.length, true);
  const uidLength = view.getUint16(MAGIC.length + 4, true);
  const recordsAt = MAGIC.length + 6 + uidLength;
  if (bytes.length < recordsAt) return null;
  let serverUid: string;
  try {
    serverUid = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(MAGIC.length + 6, recordsAt),
    );
  } catch {
    return null;
  }
  return { header: { workerId, serverUid }, recordsAt };
}

export interface StreamRecordHead {
  kind: typeof RECORD_START | typeof RECORD_CHUNK;
  channel: StreamChannel;
  jobId: number;
  taskId: number;
  instanceId: number;
  timeMs: number;
}

/** Writes a record head for `dataLength` bytes of data into `into` at `at`. */
export function writeRecordHead(
  into: DataView,
  at: number,
  head: StreamRecordHead,
  dataLength: number,
): void {
  into.setUint8(at, head.kind);
  into.setUint8(at + 1, head.channel);
  into.setUint16(at + 2, 0, true);
  into.setUint32(at + 4, head.jobId, true);
  into.setUint32(at + 8, head.taskId, true);
  into.setUint32(at + 12, head.instanceId, true);
  into.setFloat64(at + 16, head.timeMs, true);
  into.setUint32(at + 24, dataLength, true);
}

/** What `hq output-log summary` shows (jobs spec §10.2); sizes in bytes. */
export interface OutputLogSummary {
  /** The directory as given. */
  path: string;
  files: number;
  jobs: number;
  tasks: number;
  streams: number;
  opened: number;
  superseded: number;
  stdoutBytes: number;
  stderrBytes: number;
  supersededStdoutBytes: number;
  supersededStderrBytes: number;
}

/** One task of `hq output-log export`. */
export interface ExportedTaskOutput {
  finished: boolean;
  id: number;
  stdout: string;
}

/** `<n> B` below 2048, then KiB below 2 MiB, MiB below 2 GiB, else GiB (two decimals). */
export function formatStreamSize(bytes: number): string {
  if (bytes < 2048) return `${bytes} B`;
  if (bytes < 2 * 1024 ** 2) return `${(bytes / 1024).toFixed(2)} KiB`;
  if (bytes < 2 * 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(2)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
