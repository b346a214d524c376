/**
 * The server directory of spec §2: numbered instance directories under a root, an `hq-current`
 * symlink to the live one, and the rules clients and workers use to find `access.json`.
 *
 * Whoever can write the server directory can point the user's workers at their own server (whose
 * tasks then run as the user) and receive the user's submits. So, as ssh's StrictModes does, the
 * root, the live instance directory and `access.json` must belong to the user (or root) and must
 * not be writable by group or others; anything else is refused with the fix in the message.
 */
import { ACCESS_FILE_NAME, type Endpoint, readAccessRecordSync } from "./access_record.ts";
import { ServerDirError } from "./errors.ts";
import { joinPath } from "./paths.ts";

export const CURRENT_LINK_NAME = "hq-current";

/**
 * `$HOME/.hq-server`, or without a home a per-user `hq-server-<uid>` in the system temp dir (a
 * fixed shared name there would be anyone's to create first).
 */
export function defaultServerDir(): string {
  const home = Deno.env.get("HOME");
  if (home) return joinPath(home, ".hq-server");
  const user = Deno.uid() ?? Deno.env.get("USERNAME") ?? "user";
  return joinPath(Deno.env.get("TMPDIR") || "/tmp", `hq-server-${user}`);
}

/**
 * Throws `ServerDirError` unless `path` (a server directory, an instance directory or an access
 * file) belongs to this user or root and is not writable by group or others. Not checked where
 * the system has no owners and modes (Windows).
 */
export function checkServerDirTrust(path: string, info: Deno.FileInfo = Deno.statSync(path)): void {
  const uid = Deno.uid();
  if (uid === null || info.uid === null || info.mode === null) return;
  const what = info.isDirectory ? "server directory" : "access file";
  if (info.uid !== uid && info.uid !== 0) {
    throw new ServerDirError(
      `Refusing to use the ${what} "${path}": it belongs to uid ${info.uid}, not to you (uid ${uid}); whoever owns it can redirect your clients and workers`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o7777).toString(8).padStart(4, "0");
    throw new ServerDirError(
      `Refusing to use the ${what} "${path}": it is writable by ${
        (info.mode & 0o020) !== 0 ? "its group" : "others"
      } (mode ${mode}); fix it with \`chmod go-w "${path}"\``,
    );
  }
}

/**
 * The directory holding the live access file (§2.2): the target of `hq-current` when it resolves
 * to a directory, else the root itself (a copied access file in a plain directory). Synchronous:
 * every client command starts here, and a few async fs calls cost it ~1.5 ms of start-up.
 */
export function resolveActiveDir(root: string): string {
  let rootInfo: Deno.FileInfo | null = null;
  try {
    rootInfo = Deno.statSync(root);
  } catch {
    // Reported below.
  }
  if (!rootInfo?.isDirectory) {
    throw new ServerDirError("Invalid server directory", {
      cause: new Error(`Error: "${root}" is not a directory`),
    });
  }
  checkServerDirTrust(root, rootInfo);
  const current = joinPath(root, CURRENT_LINK_NAME);
  let currentInfo: Deno.FileInfo | null = null;
  try {
    currentInfo = Deno.statSync(current);
  } catch {
    // Missing or dangling link: fall back to the root.
  }
  if (!currentInfo?.isDirectory) return root;
  const active = Deno.realPathSync(current);
  checkServerDirTrust(active, currentInfo);
  return active;
}

/** The path of the access file in the active directory of `root`. */
export function accessFilePath(root: string): string {
  return joinPath(resolveActiveDir(root), ACCESS_FILE_NAME);
}

/**
 * Creates the next numbered instance directory (`001`, `002`, …) with mode 0700. Two servers
 * starting at once in one root each get their own number.
 */
// Synchronous file operations on purpose: these few calls run before a starting server is ready,
// and each async one waits for a round trip through Deno's thread pool (bench/server_ready).
// deno-lint-ignore require-await
export async function createInstanceDir(root: string): Promise<string> {
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ServerDirError(`Cannot create server directory "${root}"`, { cause: error });
  }
  checkServerDirTrust(root);
  let next: number;
  try {
    next = highestInstanceNumber(root) + 1;
  } catch (error) {
    throw new ServerDirError(`Cannot read server directory "${root}"`, { cause: error });
  }
  for (let attempt = 0; attempt < 100; attempt++, next++) {
    const path = joinPath(root, String(next).padStart(3, "0"));
    try {
      Deno.mkdirSync(path, { mode: 0o700 });
      Deno.chmodSync(path, 0o700);
      return path;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw new ServerDirError(`Cannot create server directory "${path}"`, { cause: error });
    }
  }
  throw new ServerDirError(`Cannot create a new instance directory in "${root}"`);
}

function highestInstanceNumber(root: string): number {
  let highest = 0;
  for (const entry of Deno.readDirSync(root)) {
    if (!entry.isDirectory || !/^\d+$/.test(entry.name)) continue;
    highest = Math.max(highest, Number(entry.name));
  }
  return highest;
}

/** Points `hq-current` at `instanceDir` (absolute), replacing any old or dangling link. */
// deno-lint-ignore require-await
export async function linkCurrent(root: string, instanceDir: string): Promise<void> {
  const link = joinPath(root, CURRENT_LINK_NAME);
  const temporary = `${link}.${Deno.pid}.tmp`;
  try {
    removeIfPresent(temporary);
    Deno.symlinkSync(instanceDir, temporary);
    // rename() replaces the old link atomically, so a client never sees no link at all.
    Deno.renameSync(temporary, link);
  } catch (error) {
    try {
      removeIfPresent(temporary);
    } catch {
      // Reported below.
    }
    throw new ServerDirError(`Cannot create symlink "${link}"`, { cause: error });
  }
}

/** Removes `hq-current` if it still points at `instanceDir` (another server may own it now). */
export async function unlinkCurrent(root: string, instanceDir: string): Promise<void> {
  const link = joinPath(root, CURRENT_LINK_NAME);
  try {
    if ((await Deno.readLink(link)) === instanceDir) await Deno.remove(link);
  } catch {
    // Already gone.
  }
}

/** `checkServerDirTrust` of an access file that may be missing (then the read reports it). */
function checkAccessFileTrust(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return;
  }
  checkServerDirTrust(path, info);
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Reads the client endpoint from the access file of `root`, with the spec's error messages. */
export function loadClientEndpoint(root: string): Endpoint {
  const activeDir = resolveActiveDir(root);
  const path = joinPath(activeDir, ACCESS_FILE_NAME);
  try {
    Deno.lstatSync(path);
  } catch {
    throw new ServerDirError(
      `No running instance of HQ found at "${activeDir}".\nTry to start the server: \`hq server start${
        serverDirHint(root)
      }\` or use a different server directory.`,
    );
  }
  checkServerDirTrust(path);
  const record = readAccessRecordSync(path);
  if (!record.client) {
    throw new ServerDirError(`Cannot load access record from "${path}"`, {
      cause: new Error("the record has no client endpoint (is it a worker access file?)"),
    });
  }
  return record.client;
}

/** ` --server-dir <root>` when the root is not the default, as the spec's hints print it. */
export function serverDirHint(root: string): string {
  return root === defaultServerDir() ? "" : ` --server-dir ${root}`;
}

/** Reads the worker endpoint from the access file of `root`, with the spec's worker errors. */
export function loadWorkerEndpoint(root: string): Endpoint {
  let activeDir: string;
  try {
    activeDir = resolveActiveDir(root);
  } catch (error) {
    throw new ServerDirError("Cannot load server directory", { cause: error });
  }
  const path = joinPath(activeDir, ACCESS_FILE_NAME);
  checkAccessFileTrust(path);
  const record = readAccessRecordSync(path);
  if (!record.worker) {
    throw new ServerDirError(`Cannot load access record from "${path}"`, {
      cause: new Error("the record has no worker endpoint (is it a client access file?)"),
    });
  }
  return record.worker;
}
