/**
 * The open-file limit tasks get. Deno raises its soft RLIMIT_NOFILE to the hard limit at start, and
 * children inherit that; tasks should get the soft limit the worker was started with instead
 * (issue 15). The raised value overwrote it in this process, so it is read from the parent, which
 * had it when it started the worker (a shell that runs `ulimit -n 1024; hq worker start`). A
 * wrapper that `exec`s hq takes its own limit along, and then the parent's is the one told.
 */

export interface OpenFileLimits {
  soft: bigint;
  hard: bigint;
}

/** `Max open files` of a `/proc/<pid>/limits` text; null when unlimited or missing. */
export function parseOpenFileLimits(text: string): OpenFileLimits | null {
  const line = text.split("\n").find((line) => line.startsWith("Max open files"));
  const match = line?.match(/^Max open files\s+(\d+)\s+(\d+)/);
  if (!match) return null;
  return { soft: BigInt(match[1]), hard: BigInt(match[2]) };
}

/**
 * The soft limit to restore in tasks and this process's limits, or null when tasks already
 * inherit the right one (nothing raised it, or the parent cannot be read).
 */
export function startingOpenFileLimits(
  read: (path: string) => string = Deno.readTextFileSync,
  parentPid: number = Deno.ppid,
): { soft: bigint; own: OpenFileLimits } | null {
  try {
    const own = parseOpenFileLimits(read("/proc/self/limits"));
    if (own === null || parentPid <= 1) return null;
    const parent = parseOpenFileLimits(read(`/proc/${parentPid}/limits`));
    if (parent === null || parent.soft >= own.soft) return null;
    return { soft: parent.soft, own };
  } catch {
    return null;
  }
}

/** Free descriptors the worker keeps below the lowered limit while a spawn is in flight. */
const HEADROOM = 128;
/** How long a count of the worker's open descriptors is trusted. */
const COUNT_TTL_MS = 250;

/** `prlimit(pid, RLIMIT_NOFILE, limit, NULL)`, `pid` 0 for this process; 0 or -1. */
export type Prlimit = (pid: number, limit: Uint8Array) => number;

/**
 * Gives spawned tasks the starting soft limit. posix_spawn has no rlimit attribute and a child
 * takes its limits at clone time, so while spawns are in flight the worker's own soft limit is
 * lowered (two syscalls a burst of spawns; the descriptors it holds stay valid). That is done only
 * while the worker holds few enough descriptors that its own opens meanwhile cannot run out; else
 * each child's limit is set right after its spawn (it may have run a moment with the raised one).
 */
export class TaskOpenFileLimit {
  readonly #low = new Uint8Array(16);
  readonly #high = new Uint8Array(16);
  #inFlight = 0;
  #lowered = false;
  #count = 0;
  #countedAt = -Infinity;

  constructor(
    private readonly prlimit: Prlimit,
    soft: bigint,
    limits: OpenFileLimits,
    private readonly countOpen: () => number = countOpenDescriptors,
  ) {
    new BigUint64Array(this.#low.buffer).set([soft, limits.hard]);
    new BigUint64Array(this.#high.buffer).set([limits.soft, limits.hard]);
    this.soft = soft;
  }

  readonly soft: bigint;

  /** Before a spawn call: whether the child inherits the lowered limit (then `afterSpawn`'s). */
  beforeSpawn(): boolean {
    if (!this.#lowered) {
      const now = performance.now();
      if (now - this.#countedAt > COUNT_TTL_MS) {
        this.#count = this.countOpen();
        this.#countedAt = now;
      }
      if (BigInt(this.#count + HEADROOM) >= this.soft) return false;
      if (this.prlimit(0, this.#low) !== 0) return false;
      this.#lowered = true;
    }
    this.#inFlight++;
    return true;
  }

  /**
   * After the spawn call returned: the worker's limit goes back up once no spawn is in flight; a
   * child that got the raised limit (`inherited` false) is set now.
   */
  afterSpawn(inherited: boolean, pid: number | null): void {
    if (inherited) {
      if (--this.#inFlight === 0) {
        this.prlimit(0, this.#high);
        this.#lowered = false;
      }
    } else if (pid !== null) {
      // A task that ended already (a zombie) refuses; that changes nothing.
      this.prlimit(pid, this.#low);
    }
  }
}

function countOpenDescriptors(): number {
  let count = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
  return count;
}
