/**
 * The server directory of spec §2: numbered instance directories under a root, an `hq-current`
 * symlink to the live one, and the rules clients and workers use to find `access.json`.
 */
import { ACCESS_FILE_NAME, type Endpoint, readAccessRecordSync } from "./access_record.ts";
import { ServerDirError } from "./errors.ts";
import { joinPath } from "./paths.ts";

export const CURRENT_LINK_NAME = "hq-current";

/** `$HOME/.hq-server`, or the system temp dir's `.hq-server` when there is no home. */
export function defaultServerDir(): string {
  const home = Deno.env.get("HOME");
  if (home) return joinPath(home, ".hq-server");
  return joinPath(Deno.env.get("TMPDIR") || "/tmp", ".hq-server");
}

/**
 * The directory holding the live access file (§2.2): the target of `hq-current` when it resolves
 * to a directory, else the root itself (a copied access file in a plain directory). Synchronous:
 * every client command starts here, and a few async fs calls cost it ~1.5 ms of start-up.
 */
export function resolveActiveDir(root: string): string {
  const current = joinPath(root, CURRENT_LINK_NAME);
  try {
    if (Deno.statSync(current).isDirectory) return Deno.realPathSync(current);
  } catch {
    // Missing or dangling link: fall back to the root.
  }
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(root).isDirectory;
  } catch {
    // Reported below.
  }
  if (!isDirectory) {
    throw new ServerDirError("Invalid server directory", {
      cause: new Error(`Error: "${root}" is not a directory`),
    });
  }
  return root;
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
  const record = readAccessRecordSync(path);
  if (!record.worker) {
    throw new ServerDirError(`Cannot load access record from "${path}"`, {
      cause: new Error("the record has no worker endpoint (is it a client access file?)"),
    });
  }
  return record.worker;
}
