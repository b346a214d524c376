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
 * Coupling (§2.4, §4.3 step 2). When the descriptor has coupling weights, the `compact`,
 * `compact!`, `tight` and `tight!` entries of one request on grouped pools that are coupled to each
 * other (two requested resources with a weight between them, or one requested resource with a
 * weight between two of its own groups) are solved together; every other entry is served on its
 * own exactly as without coupling. Their group sets are chosen by these criteria, in this order:
 *   1. group count: every resource uses the fewest groups its current free state allows (2b), the
 *      same count as without coupling; coupling never costs an extra group;
 *   2. coupling score: the sum of the weights of every coupled pair whose two groups are both
 *      chosen (for a pair inside one resource, both groups in that resource's set), maximised (2d);
 *   3. best fit (2c), resource by resource in name (descriptor) order, so the result does not
 *      depend on the order of the request's entries: the set whose groups, sorted by (free labels,
 *      group index), form the lexicographically smallest sequence; for a fractional amount a set
 *      using a partially used label (smallest free share, then label index, §3.5) comes before
 *      one opening a fresh label. This is exactly the set the uncoupled path picks, so with all
 *      weights 0 the result is the uncoupled one.
 * Why this order: (c) is stated as a tie-break "among equal counts", while (d) is what the search
 * maximises, and §3.3/§4.3 step 4 define the objective as (group count, coupling score) only;
 * with best fit before coupling, coupling would only matter among groups with equal free counts
 * (in practice only on an idle worker), and an unrelated 1-cpu task elsewhere would cost a task
 * its coupled placement. Best fit stays the tie-break, so it still decides when scores are equal.
 *
 * Forced policies in a joint solve: each forced entry needs its empty-worker group count (as
 * without coupling), and the joint coupling score must reach the best score of the same joint
 * request on a completely free worker (§3.3, §4.3 step 4; cached per resources and label counts). So a
 * forced entry waits while only uncoupled (or less coupled) combinations are free, also when the
 * missing coupled group belongs to a non-forced entry of the request.
 *
 * Search: per resource, every set of the minimal group count that holds the amount (C(n, k): at
 * most 70 for 8 groups), sorted by best fit; then a depth-first walk over the product of these
 * lists in name order, pruned by an upper bound, keeping the first best score (= best fit among
 * equals). Beyond MAX_GROUP_SETS sets for one resource only its uncoupled best-fit set is used,
 * beyond MAX_COMBINATIONS combinations the sets are chosen greedily in name order; either way
 * forced policies then compare group counts only (the optimum is not known). A coupled resource
 * requested twice in one request disables coupling for that request.
 *
 * Cost: a flat pool with a whole amount pops `amount` labels; a grouped pool served from one group
 * scans the groups once. Only multi-group and fractional requests do more (sorting the groups,
 * scanning the partially used labels). Without weights the coupling code costs one null check per
 * request; with weights, a request without a coupled pair (e.g. the default `cpus = 1`) one
 * allocation-free scan of its entries. A coupled request costs a few µs for two resources of two
 * groups and ~50 µs for 64 cpus + 4 gpus on 8 NUMA nodes (70 × 70 candidate sets); the weight index
 * per set of requested resources is built once.
 */

import { AMOUNT_FRACTIONS, formatAmount } from "../common/resources/amount.ts";
import type {
  CouplingWeight,
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
  /** Group sizes in group order: the empty worker, for the coupling optimum of forced policies. */
  readonly sizes: number[];
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
    this.sizes = groups.map((group) => group.length);
    this.sizesDescending = [...this.sizes].sort((a, b) => b - a);
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
  /** Null without coupling weights: then every request takes the uncoupled path. */
  readonly #coupling: Coupling | null = null;

  constructor(descriptor: ResourceDescriptor) {
    for (const item of descriptor.resources) this.#pools.set(item.name, poolOf(item));
    if (descriptor.coupling.weights.length > 0) {
      this.#coupling = couplingOf(descriptor, this.#pools);
    }
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
    if (this.#coupling !== null) {
      const joint = this.#jointPlans(this.#coupling, request);
      if (joint === null) return null;
      if (joint !== undefined) return this.#allocateJoint(request, joint);
    }
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

  /** How much of a resource is free now (1/10000 units; whole free labels plus partial shares). */
  freeAmount(name: string): number {
    const pool = this.#pools.get(name);
    if (pool === undefined) return 0;
    if (pool.kind === "sum") return pool.free;
    let free = pool.freeCount * UNIT;
    for (const share of pool.partial.values()) free += share;
    return free;
  }

  /** A resource's total (1/10000 units), 0 when the worker has none. */
  totalAmount(name: string): number {
    const pool = this.#pools.get(name);
    if (pool === undefined) return 0;
    return pool.total;
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
    return takePlan(pool, entry, plan);
  }

  /** The request with the plans of its jointly solved entries; the others as usual. All or none. */
  #allocateJoint(
    request: readonly ResourceRequestEntry[],
    joint: Map<number, IndexedPlan>,
  ): ResourceAllocation | null {
    const entries: AllocatedResource[] = [];
    for (let i = 0; i < request.length; i++) {
      const plan = joint.get(i);
      const allocated = plan === undefined
        ? this.#allocateEntry(request[i])
        : takePlan(this.#pools.get(request[i].name) as IndexedPool, request[i], plan);
      if (allocated === null) {
        for (let j = entries.length - 1; j >= 0; j--) this.#releaseEntry(entries[j]);
        return null;
      }
      entries.push(allocated);
    }
    return { entries };
  }

  /**
   * Plans of the entries solved together because of coupling (request index → plan), or null if
   * they do not fit now (forced policies included), or undefined if the request has no coupled
   * pair (then the uncoupled path serves it). Leaves the state untouched.
   */
  #jointPlans(
    coupling: Coupling,
    request: readonly ResourceRequestEntry[],
  ): Map<number, IndexedPlan> | null | undefined {
    // Cheap screen, no allocation: two entries on resources coupled to others, or one coupled
    // inside itself (the default `cpus = 1 compact` request mostly ends here).
    let crossCoupled = 0;
    let selfCoupled = false;
    for (const { name, policy } of request) {
      if (policy === "scatter" || policy === "all") continue;
      const kind = coupling.kindOf.get(name);
      if (kind === undefined) continue;
      if (kind & CROSS_COUPLED) crossCoupled++;
      if (kind & SELF_COUPLED) selfCoupled = true;
    }
    if (crossCoupled < 2 && !selfCoupled) return undefined;

    // The compact*/tight* entries on coupled pools. A coupled resource asked for twice (any
    // policy) is served entry by entry as without coupling.
    const requested: number[] = [];
    const requestIndex: number[] = [];
    for (let i = 0; i < request.length; i++) {
      const { name, policy } = request[i];
      if (!coupling.kindOf.has(name)) continue;
      for (let j = 0; j < i; j++) if (request[j].name === name) return undefined;
      if (policy === "scatter" || policy === "all") continue;
      requested.push(coupling.indexOf.get(name)!);
      requestIndex.push(i);
    }
    const key = requested.slice().sort((a, b) => a - b).join(",");
    let shape = coupling.shapes.get(key);
    if (shape === undefined) {
      shape = jointShape(coupling, requested);
      coupling.shapes.set(key, shape);
    }
    if (shape === null) return undefined;

    const entries: JointEntry[] = [];
    for (const pool of shape.pools) {
      const index = requestIndex[requested.indexOf(coupling.indexOf.get(pool.name)!)];
      const whole = Math.floor(request[index].amount / UNIT);
      const share = request[index].amount % UNIT;
      const capacities = pool.free.map((free) => free.length);
      const choice = share > 0
        ? chooseFractionalGroups(pool, capacities, whole, share)
        : chooseWholeGroups(capacities, whole);
      if (choice === null) return null;
      const { sets, truncated } = groupSets(capacities, whole, share, pool, choice);
      entries.push({ index, pool, whole, share, capacities, sets, truncated });
    }
    const solution = solveJoint(shape, entries);

    let forced = false;
    for (let i = 0; i < entries.length; i++) {
      const { pool, whole, share, index } = entries[i];
      if (!request[index].policy.endsWith("!")) continue;
      forced = true;
      const fresh = whole + (share > 0 ? 1 : 0);
      const count = solution.chosen[i].groups.length;
      if (count > minGroupCount(pool.sizesDescending, fresh, true)) return null;
    }
    if (forced && !solution.truncated) {
      const optimum = emptyWorkerScore(shape, entries);
      if (optimum !== null && solution.score < optimum) return null;
    }

    const plans = new Map<number, IndexedPlan>();
    for (let i = 0; i < entries.length; i++) {
      const { index, whole, share, capacities } = entries[i];
      const policy = request[index].policy as GroupedPolicy;
      plans.set(index, planChoice(solution.chosen[i], capacities, whole, share, policy));
    }
    return plans;
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

/** Takes the labels of `plan` for `entry` from `pool` (the partially used label last). */
function takePlan(
  pool: IndexedPool,
  entry: ResourceRequestEntry,
  plan: IndexedPlan,
): AllocatedResource {
  const share = entry.amount % UNIT;
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
  const labels = taken.map((index) => pool.labels[index]);
  return { name: entry.name, labels, amount: entry.amount };
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
  policy: GroupedPolicy,
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

type GroupedPolicy = "compact" | "compact!" | "tight" | "tight!";

/**
 * Labels to take inside the chosen groups: round-robin (compact) or whole-largest-first (tight).
 * For the joint (coupled) path; `planGrouped` keeps its own inline copy, as the extra call cost
 * the uncoupled grouped path ~25 ns (7%) per allocation.
 */
function planChoice(
  choice: GroupChoice,
  capacities: readonly number[],
  whole: number,
  share: number,
  policy: GroupedPolicy,
): IndexedPlan {
  const { groups, partial } = choice;
  const need = partial < 0 ? whole + (share > 0 ? 1 : 0) : whole;
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

// --- coupling (§2.4, §4.3 step 2d/4); see the header for the criteria and their order ---

/** More group sets of one resource than this: only its uncoupled best-fit set is considered. */
const MAX_GROUP_SETS = 1024;
/** More combinations of group sets than this: the sets are chosen greedily in name order. */
const MAX_COMBINATIONS = 16_384;

/** `Coupling.kindOf` bits: coupled with another resource, coupled between two of its groups. */
const CROSS_COUPLED = 1;
const SELF_COUPLED = 2;

/** The descriptor's coupling weights, indexed by resource. */
interface Coupling {
  /** Descriptor index (what the weights refer to) of every pool name. */
  readonly indexOf: Map<string, number>;
  /** By descriptor index: the grouped pools, undefined for the others. */
  readonly pools: Array<IndexedPool | undefined>;
  /** CROSS_COUPLED | SELF_COUPLED per name of a grouped pool having weights. */
  readonly kindOf: Map<string, number>;
  /** The weights between groups of grouped pools (others can never apply). */
  readonly weights: readonly CouplingWeight[];
  /** Per set of requested coupled resources (sorted indices joined by ","), its joint shape. */
  readonly shapes: Map<string, JointShape | null>;
}

/** The coupling index, or null if no weight can ever apply. */
function couplingOf(descriptor: ResourceDescriptor, pools: Map<string, Pool>): Coupling | null {
  const indexOf = new Map<string, number>();
  const grouped = descriptor.resources.map((item, index) => {
    indexOf.set(item.name, index);
    const pool = pools.get(item.name);
    return pool?.kind === "indexed" && pool.grouped ? pool : undefined;
  });
  const kindOf = new Map<string, number>();
  const weights = descriptor.coupling.weights.filter((weight) => {
    const first = grouped[weight.resource1_idx];
    const second = grouped[weight.resource2_idx];
    if (
      first === undefined || second === undefined || weight.group1_idx >= first.sizes.length ||
      weight.group2_idx >= second.sizes.length
    ) {
      return false;
    }
    const kind = first === second ? SELF_COUPLED : CROSS_COUPLED;
    kindOf.set(first.name, (kindOf.get(first.name) ?? 0) | kind);
    kindOf.set(second.name, (kindOf.get(second.name) ?? 0) | kind);
    return true;
  });
  if (weights.length === 0) return null;
  return { indexOf, pools: grouped, kindOf, weights, shapes: new Map() };
}

/**
 * The resources solved together for one set of requested coupled resources, with the weights
 * between them indexed for the search. Depends on the descriptor only, so it is built once.
 */
interface JointShape {
  /** The resources that have a weight with another requested one (or inside), in name order. */
  readonly pools: IndexedPool[];
  /** Per resource, per group: [later resource, its group, weight] triples, flattened. */
  readonly outgoing: number[][][];
  /** Per resource: [group, group, weight] triples inside the resource, flattened. */
  readonly inside: number[][];
  /** Per pair of resources e < f (key e * count + f): their weights, largest first. */
  readonly between: Map<number, number[]>;
  /** Best joint score on a completely free worker per label counts; null: the search was cut. */
  readonly emptyScores: Map<string, number | null>;
}

/** The joint shape of the requested coupled resources (descriptor indices), or null if no weight joins them. */
function jointShape(coupling: Coupling, requested: readonly number[]): JointShape | null {
  const weights = coupling.weights.filter((weight) =>
    requested.includes(weight.resource1_idx) && requested.includes(weight.resource2_idx)
  );
  if (weights.length === 0) return null;
  const resources = [...new Set(weights.flatMap((w) => [w.resource1_idx, w.resource2_idx]))]
    .sort((a, b) => a - b);
  const m = resources.length;
  const pools = resources.map((resource) => coupling.pools[resource]!);
  const outgoing = pools.map((pool) => pool.sizes.map(() => [] as number[]));
  const inside = pools.map(() => [] as number[]);
  const between = new Map<number, number[]>();
  for (const weight of weights) {
    // Normalised: resource1_idx ≤ resource2_idx, so e ≤ f.
    const e = resources.indexOf(weight.resource1_idx);
    const f = resources.indexOf(weight.resource2_idx);
    if (e === f) {
      inside[e].push(weight.group1_idx, weight.group2_idx, weight.weight);
      continue;
    }
    outgoing[e][weight.group1_idx].push(f, weight.group2_idx, weight.weight);
    const list = between.get(e * m + f) ?? [];
    list.push(weight.weight);
    between.set(e * m + f, list);
  }
  for (const list of between.values()) list.sort((a, b) => b - a);
  return { pools, outgoing, inside, between, emptyScores: new Map() };
}

/** A candidate set of groups for one entry. */
interface GroupSet extends GroupChoice {
  /** Best-fit key (§4.3 step 2c), compared lexicographically: smaller fits better. */
  key: number[];
}

/** One resource of a joint solve: its candidate sets, best fit first. */
interface JointInput {
  sets: GroupSet[];
  /** The sets are only the uncoupled best-fit set (too many to enumerate). */
  truncated: boolean;
}

/** A jointly solved request entry. */
interface JointEntry extends JointInput {
  /** Index in the request. */
  index: number;
  pool: IndexedPool;
  whole: number;
  share: number;
  /** Fully free labels per group now. */
  capacities: number[];
}

interface JointSolution {
  /** Per input, the chosen set. */
  chosen: GroupSet[];
  score: number;
  /** Not an exhaustive search: the score may be below the optimum. */
  truncated: boolean;
}

/**
 * Every set of `choice.groups.length` groups (the minimal count, found by the uncoupled choice)
 * that holds `whole` labels and a `share` (a partially used label in the set, else one more whole
 * label), sorted by the best-fit key: sorted (free labels, group) pairs of the set; for a
 * fractional amount prefixed by [0, share left, label] with a partially used label (that label's
 * group then left out of the pairs) or [1] without. The first set is `choice`.
 */
function groupSets(
  capacities: readonly number[],
  whole: number,
  share: number,
  pool: IndexedPool | null,
  choice: GroupChoice,
): JointInput {
  const n = capacities.length;
  const count = choice.groups.length;
  if (binomial(n, count) > MAX_GROUP_SETS) {
    return { sets: [{ groups: choice.groups, partial: choice.partial, key: [] }], truncated: true };
  }
  // Best partially used label holding `share` per group (smallest share left, then index).
  let partials: number[] | null = null;
  if (share > 0 && pool !== null) {
    partials = new Array<number>(n).fill(-1);
    for (const [index, left] of pool.partial) {
      if (left < share) continue;
      const group = pool.groupOf[index];
      const current = partials[group];
      const currentLeft = current < 0 ? Infinity : pool.partial.get(current)!;
      if (left < currentLeft || (left === currentLeft && index < current)) partials[group] = index;
    }
  }
  const fresh = whole + (share > 0 ? 1 : 0);
  const sets: GroupSet[] = [];
  const chosen: number[] = [];
  for (let i = 0; i < count; i++) chosen.push(i);
  for (;;) {
    let held = 0;
    for (let i = 0; i < count; i++) held += capacities[chosen[i]];
    let partial = -1;
    let partialGroup = -1;
    let left = Infinity;
    if (partials !== null && held >= whole) {
      for (let i = 0; i < count; i++) {
        const index = partials[chosen[i]];
        if (index < 0) continue;
        const indexLeft = pool!.partial.get(index)!;
        if (indexLeft < left || (indexLeft === left && index < partial)) {
          partial = index;
          partialGroup = chosen[i];
          left = indexLeft;
        }
      }
    }
    if (partial >= 0 || held >= fresh) {
      // The key: prefix, then the groups by (free labels, index), sorted by insertion (few).
      const key = share === 0 ? [] : partial >= 0 ? [0, left, partial] : [1];
      const start = key.length;
      for (let i = 0; i < count; i++) {
        const group = chosen[i];
        if (group === partialGroup) continue;
        const capacity = capacities[group];
        let at = key.length;
        key.push(capacity, group);
        while (at > start && key[at - 2] > capacity) {
          key[at] = key[at - 2];
          key[at + 1] = key[at - 1];
          at -= 2;
        }
        key[at] = capacity;
        key[at + 1] = group;
      }
      sets.push({ groups: chosen.slice(), partial, key });
    }
    // Next combination in lexicographic order.
    let i = count - 1;
    while (i >= 0 && chosen[i] === n - count + i) i--;
    if (i < 0) break;
    chosen[i]++;
    for (let j = i + 1; j < count; j++) chosen[j] = chosen[j - 1] + 1;
  }
  sets.sort((a, b) => compareKeys(a.key, b.key));
  return { sets, truncated: false };
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** C(n, k), stopping once it exceeds MAX_GROUP_SETS. */
function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k && result <= MAX_GROUP_SETS; i++) result = (result * (n - k + i)) / i;
  return result;
}

/**
 * One set per input (in `shape` order) maximising the coupling score (sum of the weights whose two
 * groups are chosen), the first maximum in best-fit order winning: a depth-first walk over the
 * inputs, each trying its sets best fit first. `pull[f][g]` holds the weights between group g of
 * input f and the groups chosen for the inputs before f, so a set's gain is a sum over its
 * groups; a branch is cut when even the best groups of every later input cannot beat the best.
 */
function solveJoint(shape: JointShape, inputs: readonly JointInput[]): JointSolution {
  const m = inputs.length;
  const { outgoing, inside, between } = shape;
  const sizes: number[] = [];
  const pull: number[][] = [];
  /** Per input and set: the weights inside the resource; null when it has none. */
  const inner: Array<number[] | null> = [];
  /** reachable[d]: the most that weights inside inputs d.. and between them can add. */
  const reachable = zeros(m + 1);
  for (let d = 0; d < m; d++) {
    const { sets } = inputs[d];
    sizes.push(sets[0].groups.length);
    pull.push(zeros(shape.pools[d].sizes.length));
    const triples = inside[d];
    if (triples.length === 0) {
      inner.push(null);
      continue;
    }
    const scores = zeros(sets.length);
    for (let t = 0; t < triples.length; t += 3) {
      for (let c = 0; c < sets.length; c++) {
        const { groups } = sets[c];
        if (groups.includes(triples[t]) && groups.includes(triples[t + 1])) {
          scores[c] += triples[t + 2];
        }
      }
    }
    inner.push(scores);
  }
  for (let d = m - 1; d >= 0; d--) {
    let most = 0;
    for (const score of inner[d] ?? []) if (score > most) most = score;
    for (let f = d + 1; f < m; f++) {
      // At most sizes[d] * sizes[f] chosen pairs: the largest weights between d and f.
      const list = between.get(d * m + f);
      if (list === undefined) continue;
      for (let t = 0; t < list.length && t < sizes[d] * sizes[f]; t++) most += list[t];
    }
    reachable[d] = reachable[d + 1] + most;
  }
  const move = (d: number, set: GroupSet, sign: number): void => {
    for (const group of set.groups) {
      const triples = outgoing[d][group];
      for (let t = 0; t < triples.length; t += 3) {
        pull[triples[t]][triples[t + 1]] += sign * triples[t + 2];
      }
    }
  };
  const gain = (d: number, c: number): number => {
    let score = inner[d]?.[c] ?? 0;
    const { groups } = inputs[d].sets[c];
    for (let i = 0; i < groups.length; i++) score += pull[d][groups[i]];
    return score;
  };
  /** The most the pulls of inputs d.. can add: per input its largest pulls. */
  const pulled = (d: number): number => {
    let most = 0;
    for (let f = d; f < m; f++) most += largestSum(pull[f], sizes[f]);
    return most;
  };

  const choice = zeros(m);
  let best = -1;
  let bestChoice = choice;
  let combinations = 1;
  for (const input of inputs) combinations *= input.sets.length;
  if (combinations > MAX_COMBINATIONS) {
    // Greedy: each input in turn takes its best set given the sets chosen before it.
    best = 0;
    for (let d = 0; d < m; d++) {
      let bestGain = -1;
      for (let c = 0; c < inputs[d].sets.length; c++) {
        const value = gain(d, c);
        if (value > bestGain) {
          bestGain = value;
          choice[d] = c;
        }
      }
      best += bestGain;
      move(d, inputs[d].sets[choice[d]], 1);
    }
  } else {
    const walk = (d: number, score: number): void => {
      const { sets } = inputs[d];
      if (d === m - 1) {
        for (let c = 0; c < sets.length; c++) {
          const value = score + gain(d, c);
          if (value > best) {
            best = value;
            choice[d] = c;
            bestChoice = choice.slice();
          }
        }
        return;
      }
      for (let c = 0; c < sets.length; c++) {
        const value = score + gain(d, c);
        choice[d] = c;
        move(d, sets[c], 1);
        if (best < 0 || value + reachable[d + 1] + pulled(d + 1) > best) walk(d + 1, value);
        move(d, sets[c], -1);
      }
    };
    walk(0, 0);
  }
  return {
    chosen: inputs.map((input, i) => input.sets[bestChoice[i]]),
    score: best,
    truncated: combinations > MAX_COMBINATIONS || inputs.some((input) => input.truncated),
  };
}

/** The sum of the `k` largest of `values` (non-negative). */
function largestSum(values: readonly number[], k: number): number {
  if (k === 1) {
    let most = 0;
    for (const value of values) if (value > most) most = value;
    return most;
  }
  let total = 0;
  if (k >= values.length) {
    for (const value of values) total += value;
    return total;
  }
  // k passes of selection: there are few groups.
  const left = values.slice();
  for (let i = 0; i < k; i++) {
    let at = 0;
    for (let j = 1; j < left.length; j++) if (left[j] > left[at]) at = j;
    total += left[at];
    left[at] = -1;
  }
  return total;
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/**
 * The best joint score of `entries` on a completely free worker (§3.3 compact!, §4.3 step 4), or
 * null if that search was cut; cached per label counts.
 */
function emptyWorkerScore(shape: JointShape, entries: readonly JointEntry[]): number | null {
  const fresh = entries.map(({ whole, share }) => whole + (share > 0 ? 1 : 0));
  const key = fresh.join(",");
  const cached = shape.emptyScores.get(key);
  if (cached !== undefined) return cached;
  const inputs = entries.map(({ pool }, i) => {
    // The entry fits now, so it fits the free worker.
    const choice = chooseWholeGroups(pool.sizes, fresh[i])!;
    return groupSets(pool.sizes, fresh[i], 0, null, choice);
  });
  const solution = solveJoint(shape, inputs);
  const score = solution.truncated ? null : solution.score;
  shape.emptyScores.set(key, score);
  return score;
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
