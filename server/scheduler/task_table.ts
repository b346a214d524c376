/**
 * Per-task state of one submit, in columns of typed arrays allocated in chunks as tasks get
 * scheduled: an array's waiting tasks cost nothing until the scheduler reaches them, and a
 * finished task costs ~21 bytes instead of an object.
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

interface Chunk {
  state: Uint8Array;
  workerId: Uint32Array;
  startedMs: Float64Array;
  finishedMs: Float64Array;
}

export class TaskTable {
  readonly #chunks: Array<Chunk | undefined> = [];
  /** Rare per-task values, kept sparse. */
  readonly instanceIds = new Map<number, number>();
  readonly crashCounts = new Map<number, number>();
  readonly errors = new Map<number, string>();
  /** The workers of multi-node tasks, root first (kept current as non-root nodes are lost). */
  readonly nodeIds = new Map<number, number[]>();

  /** Instance ids of tasks already taken back once from a worker's queue, by index. */
  readonly retractedInstances = new Map<number, number>();

  /** State of never-touched tasks (waiting, or canceled/aborted in bulk). */
  #untouchedState: Slot = Slot.Waiting;

  /** @param count tasks in the table (chunks are never longer than needed). */
  constructor(private readonly count: number = Number.MAX_SAFE_INTEGER) {}

  state(index: number): Slot {
    const chunk = this.#chunks[index >> CHUNK_BITS];
    if (!chunk) return this.#untouchedState;
    return chunk.state[index & (CHUNK_SIZE - 1)] as Slot;
  }

  /** Gives every task from `fromIndex` on, none of which was touched yet, the state `state`. */
  setUntouched(fromIndex: number, state: Slot): void {
    this.#untouchedState = state;
    const chunk = this.#chunks[fromIndex >> CHUNK_BITS];
    chunk?.state.fill(state, fromIndex & (CHUNK_SIZE - 1));
    for (let number = (fromIndex >> CHUNK_BITS) + 1; number < this.#chunks.length; number++) {
      this.#chunks[number]?.state.fill(state);
    }
  }

  setState(index: number, state: Slot): void {
    this.#chunk(index).state[index & (CHUNK_SIZE - 1)] = state;
  }

  workerId(index: number): number | null {
    const value = this.#chunks[index >> CHUNK_BITS]?.workerId[index & (CHUNK_SIZE - 1)] ?? 0;
    return value === 0 ? null : value;
  }

  setWorkerId(index: number, workerId: number | null): void {
    this.#chunk(index).workerId[index & (CHUNK_SIZE - 1)] = workerId ?? 0;
  }

  startedMs(index: number): number | null {
    const value = this.#chunks[index >> CHUNK_BITS]?.startedMs[index & (CHUNK_SIZE - 1)] ?? 0;
    return value === 0 ? null : value;
  }

  setStartedMs(index: number, ms: number | null): void {
    this.#chunk(index).startedMs[index & (CHUNK_SIZE - 1)] = ms ?? 0;
  }

  finishedMs(index: number): number | null {
    const value = this.#chunks[index >> CHUNK_BITS]?.finishedMs[index & (CHUNK_SIZE - 1)] ?? 0;
    return value === 0 ? null : value;
  }

  setFinishedMs(index: number, ms: number | null): void {
    this.#chunk(index).finishedMs[index & (CHUNK_SIZE - 1)] = ms ?? 0;
  }

  instanceId(index: number): number {
    return this.instanceIds.get(index) ?? 0;
  }

  #chunk(index: number): Chunk {
    const number = index >> CHUNK_BITS;
    let chunk = this.#chunks[number];
    if (!chunk) {
      const size = Math.min(CHUNK_SIZE, this.count - (number << CHUNK_BITS));
      chunk = {
        state: new Uint8Array(size).fill(this.#untouchedState),
        workerId: new Uint32Array(size),
        startedMs: new Float64Array(size),
        finishedMs: new Float64Array(size),
      };
      this.#chunks[number] = chunk;
    }
    return chunk;
  }
}
