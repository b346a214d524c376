/**
 * `hq worker deploy-ssh` (spec §4.7): runs `hq worker start` on every host of a hostfile through
 * `ssh`, waits for them all, and closes them on SIGINT.
 */
import { describeError, HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { joinPath } from "../common/paths.ts";
import type { SshHost } from "./hostfile.ts";

const log = logger("worker::deploy_ssh");

/** How long the ssh processes get to end after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** `ssh` is not on PATH. */
export class SshNotFoundError extends HqError {
  constructor() {
    super("Cannot find `ssh` binary. Make sure that OpenSSH is installed.");
  }
}

/** At least one ssh ended with a non-zero code (the remote worker's, or ssh's own 255). */
export class WorkersFailedError extends HqError {
  constructor() {
    super("Some workers have ended with an error");
  }
}

export interface DeploySshOptions {
  /** The ssh client (`findSsh`). */
  ssh: string;
  /** Absolute path of the `hq` the remote hosts run (the same path on every host). */
  hqPath: string;
  /** `hq worker start` arguments, passed verbatim (already validated). */
  workerArgs: string[];
  /** Pass the output of the ssh processes through instead of discarding it. @default {false} */
  showOutput?: boolean;
}

/** The `ssh` on `path` (a PATH value); throws SshNotFoundError when there is none. */
export function findSsh(path: string = Deno.env.get("PATH") ?? ""): string {
  const ssh = findExecutable("ssh", path);
  if (ssh === undefined) throw new SshNotFoundError();
  return ssh;
}

/**
 * Starts one `ssh <host> -t -t [-p <port>] -- <hq> worker start <args>` per host and resolves when
 * all have ended. Throws `WorkersFailedError` when one ended with a non-zero code, unless they
 * were closed by SIGINT/SIGTERM. `-t -t` gives the remote worker a terminal, so that it gets a
 * SIGHUP when its ssh goes away.
 */
export async function deploySsh(hosts: SshHost[], options: DeploySshOptions): Promise<void> {
  const remoteCommand = [options.hqPath, "worker", "start", ...options.workerArgs];
  const output = options.showOutput ? "inherit" : "null";

  const children: Deno.ChildProcess[] = [];
  let closing = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    if (closing) return;
    closing = true;
    for (const child of children) killQuietly(child, "SIGTERM");
    killTimer = setTimeout(() => {
      for (const child of children) killQuietly(child, "SIGKILL");
    }, KILL_GRACE_MS);
  };
  const onSignal = (signal: Deno.Signal) => () => {
    if (!closing) log.info(`${signal} received, closing workers`);
    close();
  };
  const onSigint = onSignal("SIGINT");
  const onSigterm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);

  let failed = false;
  try {
    const ended: Promise<void>[] = [];
    log.info(`Starting workers on ${hosts.length} host${hosts.length === 1 ? "" : "s"} over ssh`);
    for (const host of hosts) {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(options.ssh, {
          args: sshArgs(host, remoteCommand),
          stdin: "null",
          stdout: output,
          stderr: output,
        }).spawn();
      } catch (error) {
        close();
        await Promise.all(ended);
        throw new HqError(`Cannot start ssh for ${host.line}: ${describeError(error)}`, {
          cause: error,
        });
      }
      log.debug(`Started worker on ${host.line} (ssh pid ${child.pid})`);
      children.push(child);
      // Reported as each ends: a worker may fail hours after the others started.
      ended.push(child.status.then((status) => {
        if (closing) return;
        if (status.success) {
          log.info(`Worker on ${host.line} ended`);
          return;
        }
        failed = true;
        log.error(`Worker on ${host.line} ended with ${describeStatus(status)}`);
      }));
    }
    await Promise.all(ended);
  } finally {
    clearTimeout(killTimer);
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
  }
  if (failed) {
    if (!options.showOutput) log.info("Run with --show-output to see what the workers printed");
    throw new WorkersFailedError();
  }
}

/** The argv of one ssh; the remote words are quoted for the remote shell, which ssh hands them to. */
export function sshArgs(host: SshHost, remoteCommand: string[]): string[] {
  const port = host.port === undefined ? [] : ["-p", String(host.port)];
  return [host.hostname, "-t", "-t", ...port, "--", ...remoteCommand.map(shellQuote)];
}

/** `word` as one word of a POSIX shell command line; left bare when nothing in it is special. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function describeStatus(status: Deno.CommandStatus): string {
  return status.signal === null ? `exit code ${status.code}` : `signal ${status.signal}`;
}

function findExecutable(name: string, path: string): string | undefined {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = joinPath(dir, name);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already ended.
  }
}
