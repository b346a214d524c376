/**
 * The core's queue of submits with waiting tasks, grouped by priority and request shape (an
 * array is one submit; many one-task jobs asking the same are one group), so that a scheduling
 * round costs per group and worker, not per waiting task or submit. Groups are ordered by
 * priority (higher first), then value (a larger share of the cluster first, resources spec
 * §5.3), then the job id of their first submit; inside a group, submits keep job order.
 */
import type { SubmitRecord } from "./job_record.ts";

export class QueueGroup {
  /**
   * Submits in job order from `#head` on; spent ones at the front are skipped by moving the head
   * (`shift` would copy the array each time) and cut off once they are half of it.
   */
  #submits: SubmitRecord[] = [];
  #head = 0;
  /** Resources spec §5.3 value of one task (the same for every submit of the group). */
  value = 0;

  constructor(
    readonly key: string,
    readonly priority: number,
    readonly nodes: number,
    readonly needsCpus: boolean,
  ) {}

  /** The first queued submit, spent or not (for ordering), or undefined. */
  get first(): SubmitRecord | undefined {
    return this.#submits[this.#head];
  }

  /** The queued submits, in job order. */
  get submits(): readonly SubmitRecord[] {
    return this.#head === 0 ? this.#submits : this.#submits.slice(this.#head);
  }

  /** The first submit with waiting tasks (dropping spent ones from the front), or null. */
  front(): SubmitRecord | null {
    const submits = this.#submits;
    while (this.#head < submits.length && !submits[this.#head].hasWaitingTasks()) {
      submits[this.#head++].queued = false;
    }
    if (this.#head > 1024 && this.#head * 2 > submits.length) {
      this.#submits = submits.slice(this.#head);
      this.#head = 0;
    }
    return this.#submits[this.#head] ?? null;
  }

  /** How many tasks its submits have waiting, counted no further than `limit`. */
  countWaiting(limit: number): number {
    let count = 0;
    for (let i = this.#head; i < this.#submits.length && count < limit; i++) {
      const submit = this.#submits[i];
      count += submit.requeued.length +
        (submit.untouchedWaiting ? submit.ids.count - submit.cursor : 0);
    }
    return Math.min(count, limit);
  }

  insert(submit: SubmitRecord): void {
    const submits = this.#submits;
    let low = this.#head;
    let high = submits.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (submitOrder(submits[middle], submit) <= 0) low = middle + 1;
      else high = middle;
    }
    submits.splice(low, 0, submit);
  }

  /** Drops every spent submit (after a cancel, which can empty submits anywhere). */
  dropSpent(): void {
    const kept: SubmitRecord[] = [];
    for (let i = this.#head; i < this.#submits.length; i++) {
      const submit = this.#submits[i];
      if (submit.hasWaitingTasks()) kept.push(submit);
      else submit.queued = false;
    }
    this.#submits = kept;
    this.#head = 0;
  }
}

export class TaskQueue {
  readonly #groups = new Map<string, QueueGroup>();
  #ordered: QueueGroup[] = [];
  #dirty = false;

  get isEmpty(): boolean {
    return this.#groups.size === 0;
  }

  /** Groups in scheduling order (re-sorted when their fronts or values changed). */
  groups(): readonly QueueGroup[] {
    if (this.#dirty) {
      this.#ordered.sort(groupOrder);
      this.#dirty = false;
    }
    return this.#ordered;
  }

  /** Adds a submit (no-op if queued); `value` is computed for a new group only. */
  add(submit: SubmitRecord, key: string, value: () => number): void {
    if (submit.queued) return;
    submit.queued = true;
    let group = this.#groups.get(key);
    if (!group) {
      group = new QueueGroup(key, submit.priority, submit.nodes, submit.needsCpus);
      group.value = value();
      this.#groups.set(key, group);
      this.#ordered.push(group);
    }
    group.insert(submit);
    this.#dirty = true;
  }

  /** Recomputes every group's value (the cluster changed). */
  revalue(value: (group: QueueGroup) => number): void {
    for (const group of this.#ordered) group.value = value(group);
    this.#dirty = true;
  }

  /** Marks the order stale (a group's front submit changed). */
  touch(): void {
    this.#dirty = true;
  }

  /** Removes spent submits (`everywhere`: not only at group fronts) and empty groups. */
  prune(everywhere: boolean): void {
    let removed = false;
    for (const group of this.#ordered) {
      if (everywhere) group.dropSpent();
      if (group.front() === null) {
        this.#groups.delete(group.key);
        removed = true;
      }
    }
    if (removed) this.#ordered = this.#ordered.filter((group) => this.#groups.has(group.key));
    this.#dirty = true;
  }

  /** Every queued submit, group by group (for tests and views). */
  *submits(): Iterable<SubmitRecord> {
    for (const group of this.groups()) yield* group.submits;
  }
}

function submitOrder(a: SubmitRecord, b: SubmitRecord): number {
  return a.job.id - b.job.id || a.index - b.index;
}

function groupOrder(a: QueueGroup, b: QueueGroup): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.value !== b.value) return b.value - a.value;
  const frontA = a.first;
  const frontB = b.first;
  if (!frontA || !frontB) return frontA ? -1 : frontB ? 1 : 0;
  return submitOrder(frontA, frontB);
}
