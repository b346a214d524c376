/**
 * The worker's queue policy (resources spec §5.1, §5.2): which of the tasks the server handed to
 * this worker start now, in priority order then arrival, and which go back to the server. Pure
 * and synchronous: the resources come in as a `ResourcePool` (the allocator, or a fake), the
 * worker's remaining lifetime as a number; no processes, timers or messages.
 *
 * A task that fits the free resources starts at once, whatever prefilled tasks of higher priority
 * wait (HyperQueue's prefill is invisible to users). Strict priority is kept by reservation: the
 * first task of each request that does not fit reserves its amounts, and a task of lower priority
 * starts only if what it takes leaves the reserved amounts free (the gap rule: lower priorities
 * use what a blocked request cannot). A task whose time request exceeds the worker's remaining
 * time can never start here: it is handed back, so a worker holding only such tasks is idle.
 */
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import type { ResourceAllocation } from "../resource_allocator.ts";

/** What the queue needs of the worker's resources (`ResourceAllocator` has it). */
export interface ResourcePool {
  tryAllocate(request: readonly ResourceRequestEntry[]): ResourceAllocation | null;
  /** Free amount of a resource now, 1/10000 units. */
  freeAmount(name: string): number;
  /** Total of a resource, 1/10000 units (what an `all` entry takes). */
  totalAmount(name: string): number;
}

export interface QueuedTask<T> {
  /** The caller's own record of the task; the queue only hands it back. */
  item: T;
  /** The request (variant) the server chose; tasks of one submit share the same array. */
  request: readonly ResourceRequestEntry[];
  priority: number;
  /** 0 when the task has none. */
  timeRequestMs: number;
}

export type QueueDecision<T> =
  | { type: "start"; item: T; allocation: ResourceAllocation }
  | { type: "hand-back"; item: T };

export class LocalQueue<T> {
  /** By priority (higher first), then arrival. */
  #queue: QueuedTask<T>[] = [];

  constructor(private readonly pool: ResourcePool) {}

  get size(): number {
    return this.#queue.length;
  }

  add(task: QueuedTask<T>): void {
    const queue = this.#queue;
    // Usually in order already; otherwise after the last task of the same or higher priority.
    let at = queue.length;
    while (at > 0 && queue[at - 1].priority < task.priority) at--;
    if (at === queue.length) queue.push(task);
    else queue.splice(at, 0, task);
  }

  /** Takes the wanted tasks out of the queue (retracted, canceled), in queue order. */
  remove(wanted: (task: QueuedTask<T>) => boolean): QueuedTask<T>[] {
    const removed: QueuedTask<T>[] = [];
    this.#queue = this.#queue.filter((task) => {
      if (!wanted(task)) return true;
      removed.push(task);
      return false;
    });
    return removed;
  }

  /** Empties the queue, returning what it held. */
  clear(): QueuedTask<T>[] {
    const all = this.#queue;
    this.#queue = [];
    return all;
  }

  /** `next` collected in a list: what to start now and what to give back. */
  startable(remainingMs: number | null): QueueDecision<T>[] {
    const decisions: QueueDecision<T>[] = [];
    this.next(remainingMs, (decision) => decisions.push(decision));
    return decisions;
  }

  /**
   * Decides, in queue order, which tasks start now (their resources allocated) and which go back
   * to the server (time request beyond `remainingMs`; null: no time limit). Each decision is
   * passed to `act` at once, so a caller that frees resources in it (a zero worker) lets later
   * tasks of the same pass use them.
   */
  next(remainingMs: number | null, act: (decision: QueueDecision<T>) => void): void {
    const queue = this.#queue;
    // A request that did not fit is not tried again in the same pass: the pool only fills up.
    const blocked = new Set<readonly ResourceRequestEntry[]>();
    /** Amounts reserved by blocked requests of strictly higher priority than the current one. */
    const reservedAbove = new Map<string, number>();
    const reservedHere = new Map<string, number>();
    let level = NaN;
    let kept = 0;
    let read = 0;
    try {
      for (; read < queue.length; read++) {
        const task = queue[read];
        if (task.priority !== level) {
          for (const [name, amount] of reservedHere) {
            reservedAbove.set(name, (reservedAbove.get(name) ?? 0) + amount);
          }
          reservedHere.clear();
          level = task.priority;
        }
        if (remainingMs !== null && task.timeRequestMs > remainingMs) {
          act({ type: "hand-back", item: task.item });
          continue;
        }
        let allocation: ResourceAllocation | null = null;
        if (!blocked.has(task.request) && this.#leavesReserved(task.request, reservedAbove)) {
          allocation = this.pool.tryAllocate(task.request);
          if (allocation === null) {
            blocked.add(task.request);
            this.#reserve(task.request, reservedHere);
          }
        }
        if (allocation === null) {
          queue[kept++] = task;
          continue;
        }
        act({ type: "start", item: task.item, allocation });
      }
    } finally {
      // Also when `act` threw: the tasks not yet looked at stay queued.
      for (; read < queue.length; read++) queue[kept++] = queue[read];
      queue.length = kept;
    }
  }

  #amountOf(entry: ResourceRequestEntry): number {
    return entry.policy === "all" ? this.pool.totalAmount(entry.name) : entry.amount;
  }

  /** Whether taking the request leaves free what blocked higher priorities reserved. */
  #leavesReserved(
    request: readonly ResourceRequestEntry[],
    reserved: ReadonlyMap<string, number>,
  ): boolean {
    if (reserved.size === 0) return true;
    for (const entry of request) {
      const held = reserved.get(entry.name);
      if (held === undefined) continue;
      if (this.pool.freeAmount(entry.name) - this.#amountOf(entry) < held) return false;
    }
    return true;
  }

  #reserve(request: readonly ResourceRequestEntry[], reserved: Map<string, number>): void {
    for (const entry of request) {
      reserved.set(entry.name, (reserved.get(entry.name) ?? 0) + this.#amountOf(entry));
    }
  }
}
