/**
 * The core's queue of submits with waiting tasks, grouped by priority and request shape (an
 * array is one submit; many one-task jobs asking the same are one group), so that a scheduling
 * round costs per group and worker, not per waiting task or submit. Groups are ordered by
 * priority (higher first), then value (a larger share of the cluster first, resources spec
 * §5.3), then the job id of their first submit; inside a group, submits keep job order.
 */
import type { SubmitRecord } from "./job_record.ts";

export class QueueGroup {
  /** Submits in job order; those at the front with nothing left are dropped lazily. */
  readonly submits: SubmitRecord[] = [];
  /** Resources spec §5.3 value of one task (the same for every submit of the group). */
  value = 0;

  constructor(
    readonly key: string,
    readonly priority: number,
    readonly nodes: number,
    readonly needsCpus: boolean,
  ) {}

  /** The first submit with waiting tasks (dropping spent ones from the front), or null. */
  front(): SubmitRecord | null {
    const submits = this.submits;
    while (submits.length > 0 && !submits[0].hasWaitingTasks()) submits.shift()!.queued = false;
    return submits[0] ?? null;
  }

  insert(submit: SubmitRecord): void {
    const submits = this.submits;
    let low = 0;
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
    for (const submit of this.submits) if (!submit.hasWaitingTasks()) submit.queued = false;
    const kept = this.submits.filter((submit) => submit.queued);
    this.submits.length = 0;
    this.submits.push(...kept);
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
  const frontA = a.submits[0];
  const frontB = b.submits[0];
  if (!frontA || !frontB) return frontA ? -1 : frontB ? 1 : 0;
  return submitOrder(frontA, frontB);
}
