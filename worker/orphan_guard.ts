/**
 * Ends a worker's tasks when the worker dies without cleaning up (SIGKILL, OOM killer), which
 * HyperQueue gets from the parent-death signal. Tasks are started with posix_spawn, which cannot
 * set one, so a small `awk` process watches instead: the worker writes `+<pgid>` when a task
 * group starts and `-<pgid>` once its leader is reaped, on a pipe only the worker holds. When the
 * pipe closes (the worker is gone, however it ended) awk sends SIGTERM to the groups still
 * listed, then SIGKILL a second later. It runs in a session of its own (`setsid`, where the
 * system has it) and ignores the terminal's and batch system's signals, so it outlives a worker
 * killed with its whole process group, even by SIGKILL, which it could not ignore. One process per worker, a few
 * hundred KB; lines are batched and written every FLUSH_MS (a write per task cost ~10% of the
 * task rate), so a task started within that time before a SIGKILL may outlive its worker.
 */
import { describeError } from "../common/errors.ts";
import { logger } from "../common/log.ts";

const log = logger("worker::orphan_guard");

const FLUSH_MS = 20;
const encoder = new TextEncoder();

const AWK_PROGRAM = `
$1 == "+" { live[$2] = 1; next }
$1 == "-" { delete live[$2]; next }
END {
  list = ""
  for (pgid in live) list = list " -" pgid
  if (list != "") system("kill -TERM" list " 2>/dev/null; sleep 1; kill -KILL" list " 2>/dev/null")
}`;

export class OrphanGuard {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = "";
  #broken = false;

  private constructor(writer: WritableStreamDefaultWriter<Uint8Array>) {
    this.#writer = writer;
  }

  /** Starts the watcher; null (with a warning) where `sh`/`awk` cannot be started. */
  static start(): OrphanGuard | null {
    try {
      const shell = ["sh", "-c", 'trap "" HUP INT TERM QUIT; exec awk "$1"', "sh", AWK_PROGRAM];
      let child: Deno.ChildProcess;
      try {
        child = spawnWatcher(["setsid", ...shell]);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        // No `setsid`: still in the worker's group, out of reach of a group SIGKILL only.
        child = spawnWatcher(shell);
      }
      child.unref();
      child.status.catch(() => {});
      return new OrphanGuard(child.stdin.getWriter());
    } catch (error) {
      log.warn(
        `Cannot start the task watcher (tasks will outlive a killed worker): ${
          describeError(error)
        }`,
      );
      return null;
    }
  }

  /** A task's process group started. */
  add(pgid: number): void {
    this.#queue(`+ ${pgid}\n`);
  }

  /** A task's group leader was reaped. */
  remove(pgid: number): void {
    this.#queue(`- ${pgid}\n`);
  }

  #queue(line: string): void {
    if (this.#broken) return;
    const first = this.#pending === "";
    this.#pending += line;
    if (first) setTimeout(() => this.#flush(), FLUSH_MS);
  }

  #flush(): void {
    const text = this.#pending;
    this.#pending = "";
    this.#writer.write(encoder.encode(text)).catch((error) => {
      if (this.#broken) return;
      this.#broken = true;
      log.warn(
        `The task watcher ended (tasks will outlive a killed worker): ${describeError(error)}`,
      );
    });
  }
}

function spawnWatcher([program, ...args]: string[]): Deno.ChildProcess {
  return new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
