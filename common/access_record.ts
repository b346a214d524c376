/**
 * The access record (`access.json`, spec §2.3): where the server's two endpoints are and their
 * keys. The full record is the server's; a client file holds only `client`, a worker file only
 * `worker`.
 */
import { HqError, ServerDirError } from "./errors.ts";
import { HQ_VERSION } from "./version.ts";

export interface Endpoint {
  host: string;
  port: number;
  /** 32 random bytes, or null when the endpoint runs without authentication. */
  secretKey: Uint8Array | null;
}

export interface AccessRecord {
  version: string;
  /** Absent from the split client and worker files. */
  serverUid?: string;
  client?: Endpoint;
  worker?: Endpoint;
}

export const ACCESS_FILE_NAME = "access.json";

/** The access file was written by another `hq` version. */
export class VersionMismatchError extends HqError {}

export function generateSecretKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

const UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Six characters of `[A-Za-z0-9]`. */
export function generateServerUid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => UID_ALPHABET[b % UID_ALPHABET.length]).join("");
}

/** Reads and validates an access file; the version must equal ours exactly. */
export function readAccessRecord(path: string): Promise<AccessRecord> {
  try {
    return Promise.resolve(readAccessRecordSync(path));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `readAccessRecord` without the promise, for the start of client commands. */
export function readAccessRecordSync(path: string): AccessRecord {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new ServerDirError(`Cannot load access record from "${path}"`, { cause: error });
  }
  const record = parseAccessRecord(text, path);
  if (record.version !== HQ_VERSION) {
    throw new VersionMismatchError(
      `Hyperqueue version mismatch detected.\nAccess record contains version ${record.version}, but the current version is ${HQ_VERSION}.`,
    );
  }
  return record;
}

/** Parses the JSON of an access file, without the version check. */
export function parseAccessRecord(text: string, path: string): AccessRecord {
  const fail = (detail: string) =>
    new ServerDirError(`Cannot load access record from "${path}"`, { cause: new Error(detail) });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error));
  }
  if (typeof json !== "object" || json === null) throw fail("the record is not a JSON object");
  const raw = json as Record<string, unknown>;
  if (typeof raw.version !== "string") throw fail("missing field `version`");
  const serverUid = raw.server_uid;
  if (serverUid !== undefined && typeof serverUid !== "string") {
    throw fail("field `server_uid` is not a string");
  }
  const record: AccessRecord = { version: raw.version, serverUid };
  for (const side of ["client", "worker"] as const) {
    if (raw[side] === undefined) continue;
    const endpoint = parseEndpoint(raw[side]);
    if (typeof endpoint === "string") throw fail(`field \`${side}\`: ${endpoint}`);
    record[side] = endpoint;
  }
  return record;
}

function parseEndpoint(value: unknown): Endpoint | string {
  if (typeof value !== "object" || value === null) return "not an object";
  const raw = value as Record<string, unknown>;
  if (typeof raw.host !== "string") return "missing field `host`";
  if (
    typeof raw.port !== "number" || !Number.isInteger(raw.port) || raw.port < 0 || raw.port > 65535
  ) {
    return "field `port` is not a port number";
  }
  const key = raw.secret_key ?? null;
  if (key !== null && (typeof key !== "string" || !/^[0-9a-fA-F]{64}$/.test(key))) {
    return "field `secret_key` is not 64 hexadecimal characters";
  }
  return { host: raw.host, port: raw.port, secretKey: key === null ? null : fromHex(key) };
}

/** The file's JSON: pretty-printed, fields in the spec's order, keys as lowercase hex. */
export function serializeAccessRecord(record: AccessRecord): string {
  const out: Record<string, unknown> = { version: record.version };
  if (record.serverUid !== undefined) out.server_uid = record.serverUid;
  for (const side of ["client", "worker"] as const) {
    const endpoint = record[side];
    if (!endpoint) continue;
    out[side] = {
      host: endpoint.host,
      port: endpoint.port,
      secret_key: endpoint.secretKey === null ? null : toHex(endpoint.secretKey),
    };
  }
  return JSON.stringify(out, null, 2);
}

/** Creates the file exclusively (an existing file is an error) with mode 0400. */
// Synchronous writes: a starting server writes its access file before it is ready (see
// createInstanceDir).
// deno-lint-ignore require-await
export async function writeAccessRecord(path: string, record: AccessRecord): Promise<void> {
  try {
    Deno.writeTextFileSync(path, serializeAccessRecord(record), { createNew: true, mode: 0o400 });
    // The mode above passes through the umask; make sure nobody else can read the keys.
    Deno.chmodSync(path, 0o400);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new ServerDirError(`Cannot write access file "${path}": the file already exists`);
    }
    throw new ServerDirError(`Cannot write access file "${path}"`, { cause: error });
  }
}

/** The client-only or worker-only part of a full record. */
export function splitAccessRecord(record: AccessRecord, side: "client" | "worker"): AccessRecord {
  return { version: record.version, [side]: record[side] };
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
