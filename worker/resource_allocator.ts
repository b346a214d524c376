/**
 * Worker-side resource allocation (resources spec §3.3–§4, §6): which labels, or how much of a sum
 * pool, a task gets when it starts on this worker. Pure and synchronous: the allocator holds the
 * worker's free state and nothing else; the task runner asks it before starting each task and
 * hands the allocation back when the task ends.
 *
 * State per pool:
 * - sum pools: the free size (1/10000 units), subtracted exactly (§4.4);
 * - flat indexed pools: a stack of fully free labels in descriptor order; allocation pops from the
 *   end and release pushes back in reverse, so the first task asking 2 of `range(0-3)` gets `3,2`
 *   and a release restores the stack exactly (§4.2 quirk);
 * - grouped indexed pools: per group, the fully free labels in ascending descriptor order (taken
 *   from the end, i.e. highest first, so a fresh worker behaves like the flat stack); the chosen
 *   labels are listed sorted by group then label (§4.3);
 * - indexed pools of both kinds: the partially used labels (fractional sharing, §3.5) with the
 *   share still free; a label is either fully free, partially used or fully used.
 *
 * Amounts are integers of 1/10000 units. An indexed amount `W + F/10000` takes `W` whole labels
 * and a share `F` of one more label: the best-fitting partially used label (smallest free share
 * that still holds `F`), else a fresh label; that label is listed last.
 *
 * Coupling (§2.4, §4.3 step 2d) is ignored for now: every grouped entry is solved on its own, by
 * group count and best fit only; forced policies compare group counts only.
 *
 * Cost: a flat pool with a whole amount pops `amount` labels; a grouped pool served from one group
 * scans the groups once. Only multi-group and fractional requests do more (sorting the groups,
 * scanning the partially used labels).
 */

import { AMOUNT_FRACTIONS, formatAmount } from "../common/resources/amount.ts";
import type {
  ResourceDescriptor,
  ResourceDescriptorItem,
} from "../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../common/resources/resource_request.ts";

/** What one request entry got. */
export interface AllocatedResource {
  name: string;
  /** Labels taken from an indexed pool, in env order (the partially used label last); [] for sum pools. */
  labels: string[];
  /** Amount taken, 1/10000 units. */
  amount: number;
}

export interface ResourceAllocation {
  /** One element per request entry, in request order. */
  entries: AllocatedResource[];
}

const UNIT = AMOUNT_FRACTIONS;

class SumPool {
  readonly kind = "sum";
  free: number;

  constructor(readonly name: string, readonly size: number) {
    this.free = size;
  }

  get total(): number {
    return this.size;
  }
}

class IndexedPool {
  readonly kind = "indexed";
  /** Every label, in descriptor order (group by group for grouped pools). */
  readonly labels: string[];
  readonly indexOf = new Map<string, number>();
  /** Label index → group index. */
  readonly groupOf: Uint32Array;
  readonly grouped: boolean;
  /** Per group the fully free label indices: flat = a stack; grouped = ascending. */
  readonly free: number[][];
  freeCount: number;
  /** Partially used label index → share still free (0 ≤ share < UNIT). */
  readonly partial = new Map<number, number>();
  /** Group sizes, descending: the empty worker, for forced policies. */
  readonly sizesDescending: number[];

  constructor(readonly name: string, groups: string[][], grouped: boolean) {
    this.grouped = grouped;
    this.labels = groups.flat();
    this.groupOf = new Uint32Array(this.labels.length);
    this.free = [];
    let index = 0;
    groups.forEach((group, g) => {
      const free: number[] = [];
      for (const label of group) {
        this.indexOf.set(label, index);
        this.groupOf[index] = g;
        free.push(index++);
      }
      this.free.push(free);
    });
    this.freeCount = this.labels.length;
    this.sizesDescending = groups.map((group) => group.length).sort((a, b) => b - a);
  }

  get total(): number {
    return this.labels.length * UNIT;
  }

  takeWhole(group: number): number {
    const index = this.free[group].pop();
    if (index === undefined) throw new Error(`internal: group ${group} of ${this.name} is empty`);
    this.freeCount--;
    return index;
  }

  returnWhole(index: number): void {
    const free = this.free[this.groupOf[index]];
    if (this.grouped) {
      free.splice(insertionPoint(free, index), 0, index);
    } else {
      free.push(index);
    }
    this.freeCount++;
  }

  /** Takes `share` of a label that is partially used, or fully free and just taken. */
  takeShare(index: number, share: number, fresh: boolean): void {
    const left = fresh ? UNIT : this.partial.get(index);
    if (left === undefined || left < share) {
      throw new Error(`internal: label ${this.labels[index]} of ${this.name} has no share left`);
    }
    this.partial.set(index, left - share);
  }

  returnShare(index: number, share: number): void {
    const left = (this.partial.get(index) ?? NaN) + share;
    if (!(left <= UNIT)) {
      throw new Error(`Label ${this.labels[index]} of ${this.name} is not partially allocated`);
    }
    if (left === UNIT) {
      this.partial.delete(index);
      this.returnWhole(index);
    } else {
      this.partial.set(index, left);
    }
  }

  /** The partially used label with the smallest free share ≥ `share` (§3.5 best fit), or -1. */
  bestPartial(share: number): number {
    let best = -1;
    let bestLeft = Infinity;
    for (const [index, left] of this.partial) {
      if (left >= share && (left < bestLeft || (left === bestLeft && index < best))) {
        best = index;
        bestLeft = left;
      }
    }
    return best;
  }
}

type Pool = SumPool | IndexedPool;

function poolOf(item: ResourceDescriptorItem): Pool {
  switch (item.kind) {
    case "sum":
      return new SumPool(item.name, item.size);
    case "list":
      return new IndexedPool(item.name, [item.values], false);
    case "range": {
      const labels: string[] = [];
      for (let label = item.start; label <= item.end; label++) labels.push(String(label));
      return new IndexedPool(item.name, [labels], false);
    }
    case "groups":
      return new IndexedPool(item.name, item.groups, item.groups.length > 1);
  }
}

/** Where `value` goes in the ascending `values`. */
function insertionPoint(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Fewest of `capacities` (whole labels per group) that together hold `need`; Infinity if none. */
function minGroupCount(capacities: readonly number[], need: number, sorted = false): number {
  if (need <= 0) return 0;
  const descending = sorted ? capacities : [...capacities].sort((a, b) => b - a);
  let sum = 0;
  for (let i = 0; i < descending.length; i++) {
    sum += descending[i];
    if (sum >= need) return i + 1;
  }
  return Infinity;
}

/**
 * `count` groups out of `candidates` holding `need` whole labels, preferring groups with fewer free
 * labels (best fit, §4.3 step 2c): each pick is the smallest group that still lets the remaining
 * picks complete. `count` must be the minimal count, so every pick is needed. Ascending.
 */
function bestFitGroups(
  candidates: readonly number[],
  capacities: readonly number[],
  count: number,
  need: number,
): number[] {
  const rest = [...candidates].sort((a, b) => capacities[a] - capacities[b] || a - b);
  const chosen: number[] = [];
  for (let slots = count; slots > 0; slots--) {
    const n = rest.length;
    // The other picks are at best the largest `slots - 1` groups: rest[boundary..].
    const boundary = n - (slots - 1);
    let largestOthers = 0;
    for (let i = boundary; i < n; i++) largestOthers += capacities[rest[i]];
    let pick = -1;
    for (let j = 0; j < n && pick < 0; j++) {
      const capacity = capacities[rest[j]];
      const others = j >= boundary
        ? largestOthers - capacity + capacities[rest[boundary - 1]]
        : largestOthers;
      if (capacity + others >= need) pick = j;
    }
    if (pick < 0) throw new Error("internal: no group set holds the request");
    const [group] = rest.splice(pick, 1);
    chosen.push(group);
    need -= capacities[group];
  }
  return chosen.sort((a, b) => a - b);
}

/** Labels chosen for one indexed entry before they are taken. */
interface IndexedPlan {
  /** Whole labels to take per group (group → count), in taking order. */
  takes: Array<[group: number, count: number]>;
  /** Partially used label serving the fraction, or -1 (then the last label taken serves it). */
  partial: number;
}

export class ResourceAllocator {
  readonly #pools = new Map<string, Pool>();

  constructor(descriptor: ResourceDescriptor) {
    for (const item of descriptor.resources) this.#pools.set(item.name, poolOf(item));
  }

  /** Whether the worker could ever run this request (capability, §4.1: every entry's pool exists and its total ≥ the amount; `all` needs ≥ 1 unit). */
  isCapable(request: readonly ResourceRequestEntry[]): boolean {
    return request.every((entry) => {
      const pool = this.#pools.get(entry.name);
      const need = entry.policy === "all" ? UNIT : entry.amount;
      return pool !== undefined && pool.total >= need;
    });
  }

  /** Allocates the request from the current free state, or returns null (leaving the state untouched) if it does not fit now (§4.1 availability, forced policies per §3.3/§4.3). All entries or none. */
  tryAllocate(request: readonly ResourceRequestEntry[]): ResourceAllocation | null {
    const entries: AllocatedResource[] = [];
    for (const entry of request) {
      const allocated = this.#allocateEntry(entry);
      if (allocated === null) {
        // Undo in reverse: flat stacks get back exactly the order they had.
        for (let i = entries.length - 1; i >= 0; i--) this.#releaseEntry(entries[i]);
        return null;
      }
      entries.push(allocated);
    }
    return { entries };
  }

  release(allocation: ResourceAllocation): void {
    for (let i = allocation.entries.length - 1; i >= 0; i--) {
      this.#releaseEntry(allocation.entries[i]);
    }
  }

  #allocateEntry(entry: ResourceRequestEntry): AllocatedResource | null {
    const { name, policy } = entry;
    const pool = this.#pools.get(name);
    if (pool === undefined) return null;
    if (pool.kind === "sum") {
      const amount = policy === "all" ? pool.size : entry.amount;
      if (policy === "all" ? pool.free !== pool.size : pool.free < amount) return null;
      pool.free -= amount;
      return { name, labels: [], amount };
    }
    if (policy === "all") {
      if (pool.freeCount !== pool.labels.length) return null;
      const taken: number[] = [];
      pool.free.forEach((free, group) => {
        for (let n = free.length; n > 0; n--) taken.push(pool.takeWhole(group));
      });
      if (pool.grouped) taken.sort((a, b) => a - b);
      return { name, labels: taken.map((index) => pool.labels[index]), amount: pool.total };
    }

    const whole = Math.floor(entry.amount / UNIT);
    const share = entry.amount % UNIT;
    const plan = !pool.grouped
      ? planFlat(pool, whole, share)
      : policy === "scatter"
      ? planScatter(pool, whole, share)
      : planGrouped(pool, whole, share, policy);
    if (plan === null) return null;

    const taken: number[] = [];
    for (const [group, count] of plan.takes) {
      for (let n = 0; n < count; n++) taken.push(pool.takeWhole(group));
    }
    let fractional = -1;
    if (share > 0) {
      const fresh = plan.partial < 0;
      fractional = fresh ? taken.pop()! : plan.partial;
      pool.takeShare(fractional, share, fresh);
    }
    if (pool.grouped) taken.sort((a, b) => a - b);
    if (fractional >= 0) taken.push(fractional);
    return { name, labels: taken.map((index) => pool.labels[index]), amount: entry.amount };
  }

  #releaseEntry(entry: AllocatedResource): void {
    const pool = this.#pools.get(entry.name);
    if (pool === undefined) throw new Error(`Unknown resource ${entry.name}`);
    if (pool.kind === "sum") {
      if (pool.free + entry.amount > pool.size) {
        throw new Error(`Releasing more ${entry.name} than allocated`);
      }
      pool.free += entry.amount;
      return;
    }
    const share = entry.amount % UNIT;
    const wholeCount = Math.floor(entry.amount / UNIT);
    if (entry.labels.length !== wholeCount + (share > 0 ? 1 : 0)) {
      throw new Error(`Allocation of ${entry.name} does not match its amount`);
    }
    const indices = entry.labels.map((label) => {
      const index = pool.indexOf.get(label);
      if (index === undefined) throw new Error(`Unknown label ${label} of ${entry.name}`);
      return index;
    });
    // Reverse of taking: the fractional label (last) first, then the whole labels.
    if (share > 0) pool.returnShare(indices[wholeCount], share);
    for (let i = wholeCount - 1; i >= 0; i--) pool.returnWhole(indices[i]);
  }
}

/** Flat pool, any policy (§3.3: policies do not matter): pop from the stack. */
function planFlat(pool: IndexedPool, whole: number, share: number): IndexedPlan | null {
  const partial = share > 0 ? pool.bestPartial(share) : -1;
  const need = whole + (share > 0 && partial < 0 ? 1 : 0);
  if (pool.freeCount < need) return null;
  return { takes: [[0, need]], partial };
}

/** `scatter` on a grouped pool: one label per group per pass from group 0 (§4.3 step 5). */
function planScatter(pool: IndexedPool, whole: number, share: number): IndexedPlan | null {
  const partial = share > 0 ? pool.bestPartial(share) : -1;
  let need = whole + (share > 0 && partial < 0 ? 1 : 0);
  if (pool.freeCount < need) return null;
  const left = pool.free.map((free) => free.length);
  const takes: Array<[number, number]> = [];
  while (need > 0) {
    for (let group = 0; group < left.length && need > 0; group++) {
      if (left[group] > 0) {
        left[group]--;
        need--;
        takes.push([group, 1]);
      }
    }
  }
  return { takes, partial };
}

/**
 * `compact`/`tight` (forced or not) on a grouped pool (§4.3 steps 2–4): the fewest groups holding
 * the request, best fit among them, then round-robin (compact) or whole-largest-first (tight).
 */
function planGrouped(
  pool: IndexedPool,
  whole: number,
  share: number,
  policy: "compact" | "compact!" | "tight" | "tight!",
): IndexedPlan | null {
  const capacities = pool.free.map((free) => free.length);
  const fresh = whole + (share > 0 ? 1 : 0);
  const choice = share > 0
    ? chooseFractionalGroups(pool, capacities, whole, share)
    : chooseWholeGroups(capacities, whole);
  if (choice === null) return null;
  const { groups, partial } = choice;
  if (policy.endsWith("!") && groups.length > minGroupCount(pool.sizesDescending, fresh, true)) {
    return null;
  }
  const need = partial < 0 ? fresh : whole;
  const takes = policy.startsWith("compact")
    ? roundRobin(groups, capacities, need)
    : tightFill(groups, capacities, need);
  return { takes, partial };
}

interface GroupChoice {
  groups: number[];
  partial: number;
}

function chooseWholeGroups(capacities: readonly number[], need: number): GroupChoice | null {
  // Common case: one group holds it; the best fit is the one with the fewest free labels.
  let single = -1;
  for (let group = 0; group < capacities.length; group++) {
    const capacity = capacities[group];
    if (capacity >= need && (single < 0 || capacity < capacities[single])) single = group;
  }
  if (single >= 0) return { groups: [single], partial: -1 };
  const count = minGroupCount(capacities, need);
  if (count === Infinity) return null;
  const all = capacities.map((_, group) => group);
  return { groups: bestFitGroups(all, capacities, count, need), partial: -1 };
}

/**
 * A fractional amount needs `whole` labels plus either a partially used label in one of the
 * chosen groups or one more whole label. Fewest groups first; at equal counts a partially used
 * label (best fit, §3.5) is preferred over opening a fresh one.
 */
function chooseFractionalGroups(
  pool: IndexedPool,
  capacities: readonly number[],
  whole: number,
  share: number,
): GroupChoice | null {
  const all = capacities.map((_, group) => group);
  const freshCount = minGroupCount(capacities, whole + 1);
  // Best partially used label per group.
  const bestInGroup = new Map<number, number>();
  for (const [index, left] of pool.partial) {
    if (left < share) continue;
    const group = pool.groupOf[index];
    const best = bestInGroup.get(group);
    const bestLeft = best === undefined ? Infinity : pool.partial.get(best)!;
    if (best === undefined || left < bestLeft || (left === bestLeft && index < best)) {
      bestInGroup.set(group, index);
    }
  }
  let partial = -1;
  let partialCount = Infinity;
  let partialLeft = Infinity;
  for (const [group, index] of bestInGroup) {
    const others = all.filter((other) => other !== group).map((other) => capacities[other]);
    const count = 1 + minGroupCount(others, whole - capacities[group]);
    if (count === Infinity) continue;
    const left = pool.partial.get(index)!;
    const better = count < partialCount ||
      (count === partialCount && (left < partialLeft || (left === partialLeft && index < partial)));
    if (better) {
      partial = index;
      partialCount = count;
      partialLeft = left;
    }
  }
  if (partial >= 0 && partialCount <= freshCount) {
    const group = pool.groupOf[partial];
    const others = all.filter((other) => other !== group);
    const rest = bestFitGroups(others, capacities, partialCount - 1, whole - capacities[group]);
    return { groups: [group, ...rest].sort((a, b) => a - b), partial };
  }
  if (freshCount === Infinity) return null;
  return { groups: bestFitGroups(all, capacities, freshCount, whole + 1), partial: -1 };
}

/** `compact*`: one label per chosen group per pass, groups in ascending order (§4.3 step 3). */
function roundRobin(
  groups: readonly number[],
  capacities: readonly number[],
  need: number,
): Array<[number, number]> {
  const left = groups.map((group) => capacities[group]);
  const takes: Array<[number, number]> = [];
  while (need > 0) {
    const before = need;
    for (let i = 0; i < groups.length && need > 0; i++) {
      if (left[i] > 0) {
        left[i]--;
        need--;
        takes.push([groups[i], 1]);
      }
    }
    if (need === before) throw new Error("internal: chosen groups do not hold the request");
  }
  return takes;
}

/**
 * `tight*`: the whole largest group while the remainder does not fit a single group, then the
 * remainder from the smallest group that holds it (§4.3 step 3). Ties go to the lower group.
 */
function tightFill(
  groups: readonly number[],
  capacities: readonly number[],
  need: number,
): Array<[number, number]> {
  const rest = [...groups];
  const takes: Array<[number, number]> = [];
  while (need > 0) {
    if (rest.length === 0) throw new Error("internal: chosen groups do not hold the request");
    let largest = 0;
    let smallestFit = -1;
    for (let i = 0; i < rest.length; i++) {
      const capacity = capacities[rest[i]];
      if (capacity > capacities[rest[largest]]) largest = i;
      if (capacity >= need && (smallestFit < 0 || capacity < capacities[rest[smallestFit]])) {
        smallestFit = i;
      }
    }
    if (smallestFit >= 0) {
      takes.push([rest[smallestFit], need]);
      return takes;
    }
    const [group] = rest.splice(largest, 1);
    takes.push([group, capacities[group]]);
    need -= capacities[group];
  }
  return takes;
}

/** Env var name part of a resource name (§1.1): every char outside `[A-Za-z0-9]` → `_`. */
function envName(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, "_");
}

/** `HQ_RESOURCE_REQUEST_*` text (§6): `all`, or `<amount> <policy>`. */
function requestText(entry: ResourceRequestEntry): string {
  return entry.policy === "all" ? "all" : `${formatAmount(entry.amount)} ${entry.policy}`;
}

/** The task env vars of §6 derived from a request and its allocation: HQ_RESOURCE_REQUEST_<N> (every entry, text "<amount> <policy>" or "all", amount via formatAmount), HQ_RESOURCE_VALUES_<N> (indexed pools only, comma-separated, no spaces), HQ_CPUS (= values of cpus when cpus allocated), CUDA_VISIBLE_DEVICES + CUDA_DEVICE_ORDER=PCI_BUS_ID for gpus/nvidia, ROCR_VISIBLE_DEVICES for gpus/amd, OMP_NUM_THREADS = whole cpus amount unless `userEnv` sets it or the cpus amount is fractional. <N> normalised: every char outside [A-Za-z0-9] → "_". */
export function allocationEnv(
  request: readonly ResourceRequestEntry[],
  allocation: ResourceAllocation,
  userEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  if (request.length !== allocation.entries.length) {
    throw new Error("The allocation does not belong to the request");
  }
  const env: Record<string, string> = {};
  request.forEach((entry, i) => {
    const allocated = allocation.entries[i];
    const name = envName(entry.name);
    env[`HQ_RESOURCE_REQUEST_${name}`] = requestText(entry);
    // Indexed pools always hand out at least one label; sum pools never do.
    if (allocated.labels.length === 0) return;
    const values = allocated.labels.join(",");
    env[`HQ_RESOURCE_VALUES_${name}`] = values;
    switch (entry.name) {
      case "cpus":
        env.HQ_CPUS = values;
        if (allocated.amount % UNIT === 0 && !Object.hasOwn(userEnv, "OMP_NUM_THREADS")) {
          env.OMP_NUM_THREADS = String(allocated.amount / UNIT);
        }
        break;
      case "gpus/nvidia":
        env.CUDA_VISIBLE_DEVICES = values;
        env.CUDA_DEVICE_ORDER = "PCI_BUS_ID";
        break;
      case "gpus/amd":
        env.ROCR_VISIBLE_DEVICES = values;
        break;
    }
  });
  return env;
}
