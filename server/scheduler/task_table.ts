/**
 * Per-task state of one submit, in columns of typed arrays allocated in chunks as tasks get
 * scheduled: an array's waiting tasks cost nothing until the scheduler reaches them, and a
 * finished task costs 20 bytes instead of an object.
 */

/** Internal task states; `Assigned` reads as waiting to users (spec §6.1). */
export const Slot = {
  Waiting: 0,
  Assigned: 1,
  Running: 2,
  Finished: 3,
  Failed: 4,
  Canceled: 5,
  Aborted: 6,
} as const;
export type Slot = typeof Slot[keyof typeof Slot];

const CHUNK_BITS = 14;
const CHUNK_SIZE = 1 << CHUNK_BITS;
const STATE_MASK = 0xff;
const WORKER_SHIFT = 8;

/** Tables this small keep plain arrays: a typed array costs ~200 bytes before its first element. */
const SMALL_TABLE = 64;

/**
 * Two columns per chunk: the state in the low 8 bits of `slot` with the worker id above it (ids
 * below 2^24), and the start and finish times interleaved in `times`. Typed arrays, except in
 * small tables (100,000 one-task jobs would otherwise spend 420 bytes each on them).
 */
interface Chunk {
  slot: Uint32Array | number[];
  times: Float64Array | number[];
}

/** What few tasks have: an instance id above 0, crashes, an error, nodes, a retraction. */
interface RareTaskInfo {
  instanceId: number;
  crashes: number;
  error: string | null;
  /** The workers of a multi-node task, root first (kept current as non-root nodes are lost). */
  nodeIds: number[] | null;
  /** The instance id already taken back once from a worker's queue, or -1. */
  retractedInstance: number;
}

export class TaskTable {
  readonly #chunks: Array<Chunk | undefined> = [];
  /** Rare per-task values by index; created with the first of them. */
  #rare: Map<number, RareTaskInfo> | null = null;

  /** State of never-touched tasks (waiting, or canceled/aborted in bulk). */
  #untouchedState: Slot = Slot.Waiting;
  /**
   * The instance id of tasks without their own (0, or more after a crash: `setFirstInstance`),
   * except for those that had ended by `#firstInstanceSinceMs`, which keep 0.
   */
  #firstInstance = 0;
  #firstInstanceSinceMs = 0;

  /** @param count tasks in the table (chunks are never longer than needed). */
  constructor(private readonly count: number = Number.MAX_SAFE_INTEGER) {}

  state(index: number): Slot {
    const chunk = this.#chunks[index >> CHUNK_BITS];
    if (!chunk) return this.#untouchedState;
    return (chunk.slot[index & (CHUNK_SIZE - 1)] & STATE_MASK) as Slot;
  }

  /** Gives every task from `fromIndex` on, none of which was touched yet, the state `state`. */
  setUntouched(fromIndex: number, state: Slot): void {
    this.#untouchedState = state;
    const chunk = this.#chunks[fromIndex >> CHUNK_BITS];
    chunk?.slot.fill(state, fromIndex & (CHUNK_SIZE - 1));
    for (let number = (fromIndex >> CHUNK_BITS) + 1; number < this.#chunks.length; number++) {
      this.#chunks[number]?.slot.fill(state);
    }
  }

  setState(index: number, state: Slot): void {
    const slot = this.#chunk(index).slot;
    const at = index & (CHUNK_SIZE - 1);
    slot[at] = (slot[at] & ~STATE_MASK) | state;
  }

  workerId(index: number): number | null {
    const chunk = this.#chunks[index >> CHUNK_BITS];
    const value = chunk ? chunk.slot[index & (CHUNK_SIZE - 1)] >>> WORKER_SHIFT : 0;
    return value === 0 ? null : value;
  }

  setWorkerId(index: number, workerId: number | null): void {
    const slot = this.#chunk(index).slot;
    const at = index & (CHUNK_SIZE - 1);
    slot[at] = ((workerId ?? 0) << WORKER_SHIFT) | (slot[at] & STATE_MASK);
  }

  startedMs(index: number): number | null {
    return this.#time(index, 0);
  }

  setStartedMs(index: number, ms: number | null): void {
    this.#chunk(index).times[(index & (CHUNK_SIZE - 1)) << 1] = ms ?? 0;
  }

  finishedMs(index: number): number | null {
    return this.#time(index, 1);
  }

  setFinishedMs(index: number, ms: number | null): void {
    this.#chunk(index).times[((index & (CHUNK_SIZE - 1)) << 1) + 1] = ms ?? 0;
  }

  instanceId(index: number): number {
    const own = this.#rare?.get(index)?.instanceId;
    if (own !== undefined) return own;
    if (this.#firstInstance === 0) return 0;
    const state = this.state(index);
    if (state >= Slot.Finished && (this.finishedMs(index) ?? 0) < this.#firstInstanceSinceMs) {
      return 0; // Ended before the restore that set the first instance.
    }
    return this.#firstInstance;
  }

  /**
   * From a restore at `sinceMs` on, tasks without an instance id of their own have `instanceId`
   * (a crashed run may have started them with lower ones, unjournaled); those ended by then keep 0.
   */
  setFirstInstance(instanceId: number, sinceMs: number): void {
    this.#firstInstance = instanceId;
    this.#firstInstanceSinceMs = sinceMs;
  }

  setInstanceId(index: number, instanceId: number): void {
    this.#rareInfo(index).instanceId = instanceId;
  }

  /** Counts one more crash of the task (a lost worker) and returns the count. */
  addCrash(index: number): number {
    return ++this.#rareInfo(index).crashes;
  }

  crashes(index: number): number {
    return this.#rare?.get(index)?.crashes ?? 0;
  }

  error(index: number): string | null {
    return this.#rare?.get(index)?.error ?? null;
  }

  setError(index: number, error: string): void {
    this.#rareInfo(index).error = error;
  }

  nodeIds(index: number): number[] | null {
    return this.#rare?.get(index)?.nodeIds ?? null;
  }

  setNodeIds(index: number, nodeIds: number[]): void {
    this.#rareInfo(index).nodeIds = nodeIds;
  }

  /** The instance id already taken back once from a worker's queue, or -1. */
  retractedInstance(index: number): number {
    return this.#rare?.get(index)?.retractedInstance ?? -1;
  }

  setRetractedInstance(index: number, instanceId: number): void {
    this.#rareInfo(index).retractedInstance = instanceId;
  }

  #time(index: number, which: 0 | 1): number | null {
    const chunk = this.#chunks[index >> CHUNK_BITS];
    const value = chunk ? chunk.times[((index & (CHUNK_SIZE - 1)) << 1) + which] : 0;
    return value === 0 ? null : value;
  }

  #rareInfo(index: number): RareTaskInfo {
    const rare = this.#rare ??= new Map();
    let info = rare.get(index);
    if (!info) {
      info = {
        instanceId: this.instanceId(index),
        crashes: 0,
        error: null,
        nodeIds: null,
        retractedInstance: -1,
      };
      rare.set(index, info);
    }
    return info;
  }

  #chunk(index: number): Chunk {
    const number = index >> CHUNK_BITS;
    let chunk = this.#chunks[number];
    if (!chunk) {
      const size = Math.min(CHUNK_SIZE, this.count - (number << CHUNK_BITS));
      chunk = size <= SMALL_TABLE
        ? {
          slot: new Array<number>(size).fill(this.#untouchedState),
          times: new Array<number>(size * 2).fill(0),
        }
        : {
          slot: new Uint32Array(size).fill(this.#untouchedState),
          times: new Float64Array(size * 2),
        };
      this.#chunks[number] = chunk;
    }
    return chunk;
  }
}
