/**
 * The first steps of `hq server start` (spec §3.1 steps 1–4): refuse a live server, open both
 * ports, and publish `access.json` and `hq-current`. Kept apart from the server, with light
 * imports only, so that the access file can be written before the rest of the server is even
 * loaded: tools start the server and issue their first command ~0.2 s later, and a client that
 * connects while the server still loads just waits for the handshake in the listen backlog.
 */
import {
  ACCESS_FILE_NAME,
  type AccessRecord,
  generateSecretKey,
  generateServerUid,
  readAccessRecord,
  writeAccessRecord,
} from "../common/access_record.ts";
import { HqError, ServerDirError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { joinPath } from "../common/paths.ts";
import { checkServerDirTrust, createInstanceDir, linkCurrent } from "../common/server_dir.ts";
import { HQ_VERSION } from "../common/version.ts";
import { findLiveServer } from "./live_server_check.ts";

const log = logger("server::hq_server");

export interface ServerAccessOptions {
  /** Root server directory (absolute). */
  serverDir: string;
  /** Advertised to clients and workers. @default {Deno.hostname()} */
  host?: string;
  /** @default {0} (a free port) */
  clientPort?: number;
  /** @default {0} (a free port) */
  workerPort?: number;
  /** Reuse hosts, ports, keys and server uid from this full access record. */
  accessFile?: string;
  disableClientAuthentication?: boolean;
  disableWorkerAuthentication?: boolean;
}

/** Open ports and the published access record of a server being started. */
export interface ServerAccess {
  clientListener: Deno.TcpListener;
  workerListener: Deno.TcpListener;
  record: AccessRecord;
  instanceDir: string;
  /** The server directory's lock from `refuseLiveServer`, held while the server runs. */
  lock?: Deno.FsFile;
}

/** Held (flock) by the server of a server directory from its start to its end. */
export const LOCK_FILE_NAME = "hq-server.lock";

/**
 * Throws when a live server already owns the server directory (spec §3.1 step 1), or another
 * `hq server start` is starting there; else returns the directory's lock, which the caller holds
 * while its server runs (closing it releases it; so does the end of the process, also a crash).
 */
export async function refuseLiveServer(root: string): Promise<Deno.FsFile> {
  let lock: Deno.FsFile;
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
    checkServerDirTrust(root);
    lock = await Deno.open(joinPath(root, LOCK_FILE_NAME), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
  } catch (error) {
    if (error instanceof HqError) throw error;
    throw new ServerDirError(`Cannot lock server directory "${root}"`, { cause: error });
  }
  let locked = false;
  try {
    locked = await lock.tryLock(true);
    // A server of an older hq, or on another host of a shared file system, holds no lock.
    if (locked && !(await findLiveServer(root))) return lock;
  } catch (error) {
    lock.close();
    throw new ServerDirError(`Cannot lock server directory "${root}"`, { cause: error });
  }
  lock.close();
  throw new HqError(
    `Server at ${root} is already online, please stop it first using \`hq server stop --server-dir ${root}\``,
  );
}

/**
 * Opens the client and worker ports and writes the access file into a new instance directory,
 * pointed at by `hq-current`. `serverUid` is a restored server's (journal spec §1.4).
 */
export async function openServerAccess(
  options: ServerAccessOptions,
  serverUid?: string,
  lock?: Deno.FsFile,
): Promise<ServerAccess> {
  const template = options.accessFile ? await loadTemplate(options.accessFile) : null;
  const host = options.host ?? template?.client?.host ?? Deno.hostname();
  const clientListener = listen(options.clientPort ?? template?.client?.port ?? 0);
  let workerListener: Deno.TcpListener;
  try {
    workerListener = listen(options.workerPort ?? template?.worker?.port ?? 0);
  } catch (error) {
    clientListener.close();
    throw error;
  }
  const clientKey = template
    ? template.client!.secretKey
    : options.disableClientAuthentication
    ? null
    : generateSecretKey();
  const workerKey = template
    ? template.worker!.secretKey
    : options.disableWorkerAuthentication
    ? null
    : generateSecretKey();
  if (clientKey === null) warnUnauthenticated("client", clientListener.addr.port);
  if (workerKey === null) warnUnauthenticated("worker", workerListener.addr.port);

  const record: AccessRecord = {
    version: HQ_VERSION,
    serverUid: template?.serverUid || serverUid || generateServerUid(),
    client: {
      host: options.host ?? template?.client?.host ?? host,
      port: clientListener.addr.port,
      secretKey: clientKey,
    },
    worker: {
      host: options.host ?? template?.worker?.host ?? host,
      port: workerListener.addr.port,
      secretKey: workerKey,
    },
  };
  try {
    const instanceDir = await createInstanceDir(options.serverDir);
    const accessPath = joinPath(instanceDir, ACCESS_FILE_NAME);
    log.info(`Storing access file as '${accessPath}'`);
    await writeAccessRecord(accessPath, record);
    await linkCurrent(options.serverDir, instanceDir);
    return { clientListener, workerListener, record, instanceDir, lock };
  } catch (error) {
    clientListener.close();
    workerListener.close();
    throw error;
  }
}

function listen(port: number): Deno.TcpListener {
  try {
    return Deno.listen({ hostname: "0.0.0.0", port });
  } catch (error) {
    throw new HqError("Cannot create HQ server socket", { cause: error });
  }
}

async function loadTemplate(path: string): Promise<AccessRecord> {
  const record = await readAccessRecord(path);
  if (!record.client || !record.worker) {
    throw new HqError(`Access file "${path}" must be a full record with both client and worker`);
  }
  return record;
}

function warnUnauthenticated(role: "client" | "worker", port: number): void {
  const line = "#".repeat(72);
  log.warn(
    [
      line,
      `# ${role.toUpperCase()} AUTHENTICATION AND ENCRYPTION IS DISABLED on port ${port}.`,
      `# Anyone who can reach this port can ${
        role === "client" ? "submit and cancel jobs and stop the server" : "join as a worker"
      },`,
      "# and all traffic on it travels in plain text.",
      line,
    ].join("\n"),
  );
}
