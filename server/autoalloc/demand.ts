/**
 * How many workers each allocation queue should ask for (journal-alloc spec §2.10 step 3): the
 * tasks waiting at the server are placed on imaginary fresh workers of each queue, queue by queue
 * in ascending id order, and a queue's demand is the number of its imaginary workers that got
 * something. Pure and counted per request shape: identical tasks are placed by arithmetic, never
 * one by one, so a pass costs the same for 10 waiting tasks as for a million.
 */
import { AMOUNT_FRACTIONS, formatAmount } from "../../common/resources/amount.ts";
import {
  CPU_RESOURCE_NAME,
  type ResourceDescriptorItem,
  resourceItemSize,
} from "../../common/resources/resource_descriptor.ts";
import { formatDuration } from "../../common/duration.ts";

/** One entry of a waiting task's request, by resource name. */
export interface WaitingNeed {
  resource: string;
  /** 1/10000 units; 0 when `all`. */
  amount: number;
  /** Takes the whole pool of the worker. */
  all: boolean;
}

/** Tasks waiting at the server (on no worker) that ask the same, with how many there are. */
export interface WaitingShape {
  priority: number;
  /** 0: single-node; n ≥ 1 (a `--nodes n` task) multi-node. */
  nodes: number;
  /** How many waiting tasks have this shape. */
  count: number;
  /** Request variants (the first that fits a worker is the one it takes there). */
  variants: Array<{ needs: WaitingNeed[]; timeRequestMs: number }>;
  /** The request as text for messages, e.g. "cpus=16" or "cpus=1,gpus=2" (`waitingShapeLabel`). */
  label: string;
}

/** A candidate queue, as far as the hypothetical question needs it. */
export interface DemandQueue {
  queueId: number;
  /**
   * What its workers are assumed to offer. exact: the last real worker's resources (names it
   * lacks are missing); partial: the `--cpus`/`--resource` items, with every other name in
   * `knownResourceNames` unlimited; probing: everything unlimited.
   */
  workerShape: { kind: "exact" | "partial" | "probing"; resources: ResourceDescriptorItem[] };
  /** backlog × max-workers-per-alloc */
  imaginaryWorkers: number;
  timeLimitMs: number;
  minUtilization: number;
  maxWorkersPerAlloc: number;
}

/** What one queue would be asked to provide. */
export interface QueueDemand {
  queueId: number;
  /** Imaginary workers of this queue that received at least one task. */
  singleNode: number;
  /** Multi-node demand (§2.10): `count` tasks of `perAlloc` nodes, or null. */
  multiNode: { count: number; perAlloc: number } | null;
  /** When tasks wait but none could be placed on this queue's workers: one that did not fit. */
  unfit: { label: string; why: string } | null;
}

/**
 * The text of a request for messages: `cpus=16`, `cpus=1,gpus/nvidia=2`, `cpus=all`, variants
 * joined by ` or `, and `nodes=2` for a multi-node task.
 */
export function waitingShapeLabel(
  nodes: number,
  variants: ReadonlyArray<{ needs: readonly WaitingNeed[] }>,
): string {
  if (nodes > 0) return `nodes=${nodes}`;
  const texts = variants.map((variant) =>
    variant.needs.length === 0 ? "no resources" : variant.needs.map(needText).join(",")
  );
  return texts.join(" or ");
}

/**
 * Spec §2.10 step 3 for all candidate queues at once. The result is in the order of `queues`;
 * they are served in ascending id order (a task placed on an earlier queue's imaginary workers
 * is not offered to later ones).
 *
 * Rules beyond the spec's text, each taken from the real scheduler (resources spec §5):
 * - a task with variants takes, on each imaginary worker, the first variant that fits there;
 * - strict priority: once tasks of a priority level are left over that this queue's workers
 *   could run, no lower priority is placed on this queue (a real worker would keep its room for
 *   them), so the lower ones are offered to the later queues;
 * - `all` takes a whole finite pool (and fits only an untouched one); of an unlimited pool it
 *   takes nothing, so one unlimited worker still absorbs every task;
 * - min-utilization is judged on CPUs and only when the queue's CPU count is known (finite): an
 *   unlimited probing worker cannot be judged, and it still asks for one worker.
 */
export function computeDemand(
  shapes: readonly WaitingShape[],
  queues: readonly DemandQueue[],
  knownResourceNames: readonly string[],
): QueueDemand[] {
  const single = prepareShapes(shapes.filter((shape) => shape.nodes === 0 && shape.count > 0));
  const multi = shapes.filter((shape) => shape.nodes > 0 && shape.count > 0)
    .sort((a, b) => b.priority - a.priority);
  const order = queues.map((_, index) => index)
    .sort((a, b) => queues[a].queueId - queues[b].queueId);
  const multiByQueue = assignMultiNode(multi, order.map((index) => queues[index]));
  const known = new Set(knownResourceNames);
  const results: QueueDemand[] = new Array(queues.length);
  const left = single.shapes.map((shape) => shape.count);
  order.forEach((queueIndex, position) => {
    const queue = queues[queueIndex];
    const singleWaiting = left.some((count) => count > 0);
    const multiWaiting = multi.some((shape) =>
      (multiByQueue.takenAt.get(shape) ?? Infinity) >= position
    );
    const worker = workerTotals(queue, single.names, known);
    const placed = placeSingleNode(single.shapes, left, queue, worker);
    const multiNode = multiByQueue.demand[position];
    let unfit: QueueDemand["unfit"] = null;
    if ((singleWaiting || multiWaiting) && placed.workers === 0 && multiNode === null) {
      unfit = explainUnfit(single.shapes, placed.leftBefore, placed.underUsed, queue, worker) ??
        explainMultiNodeUnfit(multi, multiByQueue.takenAt, position, queue);
    }
    results[queueIndex] = { queueId: queue.queueId, singleNode: placed.workers, multiNode, unfit };
  });
  return results;
}

// -------------------------------------------------------------------------------------------------
// Single-node tasks

/** A resource need with the name replaced by its index among the names any shape needs. */
interface IndexedNeed {
  index: number;
  amount: number;
  all: boolean;
}

interface IndexedVariant {
  needs: IndexedNeed[];
  timeRequestMs: number;
}

interface IndexedShape {
  shape: WaitingShape;
  count: number;
  priority: number;
  variants: IndexedVariant[];
}

function prepareShapes(shapes: WaitingShape[]): { shapes: IndexedShape[]; names: string[] } {
  const names: string[] = [CPU_RESOURCE_NAME];
  const indexOf = new Map<string, number>([[CPU_RESOURCE_NAME, 0]]);
  const prepared = shapes.map((shape) => ({
    shape,
    count: shape.count,
    priority: shape.priority,
    variants: shape.variants.map((variant) => ({
      timeRequestMs: variant.timeRequestMs,
      needs: variant.needs.map((need) => {
        let index = indexOf.get(need.resource);
        if (index === undefined) {
          indexOf.set(need.resource, index = names.length);
          names.push(need.resource);
        }
        return { index, amount: need.amount, all: need.all };
      }),
    })),
  }));
  // Stable: within a priority the caller's order (the core's scheduling order) is kept.
  prepared.sort((a, b) => b.priority - a.priority);
  return { shapes: prepared, names };
}

/** One imaginary worker's pools by name index: a finite amount, 0 (missing) or Infinity. */
interface WorkerTotals {
  names: string[];
  totals: number[];
}

function workerTotals(queue: DemandQueue, names: string[], known: Set<string>): WorkerTotals {
  const { kind, resources } = queue.workerShape;
  const totals = names.map((name) => {
    if (kind === "probing") return Infinity;
    const item = resources.find((item) => item.name === name);
    if (item) {
      const size = resourceItemSize(item);
      return item.kind === "sum" ? size : size * AMOUNT_FRACTIONS;
    }
    return kind === "partial" && known.has(name) ? Infinity : 0;
  });
  return { names, totals };
}

/**
 * Imaginary workers in worker order, as runs of identical ones: filling every worker of a run
 * with the same tasks keeps it one run, and a shape that runs out part way splits it in at most
 * three, so there are never more than 2 × shapes + 1 runs, however many workers or tasks.
 */
interface WorkerRun {
  workers: number;
  /** What one worker of the run has left, by name index. */
  remaining: number[];
  /** Tasks placed on each worker of the run: [shape index, count] pairs. */
  tasks: Array<[number, number]>;
}

interface Placement {
  /** Imaginary workers that received a task and are used enough. */
  workers: number;
  /** Tasks waiting per shape when this queue's turn began. */
  leftBefore: number[];
  /** Per shape: a run it was placed on and that stayed below min-utilization (for `unfit`). */
  underUsed: Map<number, WorkerRun>;
}

/** Places what is `left` on the queue's imaginary workers; takes what was placed from `left`. */
function placeSingleNode(
  shapes: IndexedShape[],
  left: number[],
  queue: DemandQueue,
  worker: WorkerTotals,
): Placement {
  const leftBefore = left.slice();
  const underUsed = new Map<number, WorkerRun>();
  if (queue.imaginaryWorkers <= 0 || !left.some((count) => count > 0)) {
    return { workers: 0, leftBefore, underUsed };
  }
  const runs: WorkerRun[] = [{
    workers: queue.imaginaryWorkers,
    remaining: worker.totals.slice(),
    tasks: [],
  }];
  let blocked = false;
  for (let first = 0; first < shapes.length && !blocked;) {
    const priority = shapes[first].priority;
    let end = first;
    while (end < shapes.length && shapes[end].priority === priority) end++;
    for (let s = first; s < end; s++) {
      if (left[s] === 0) continue;
      const variants = shapes[s].variants.filter((variant) =>
        neverFitReason(variant, queue, worker) === null
      );
      if (variants.length === 0) continue;
      left[s] = placeShape(runs, s, variants, left[s], worker.totals);
      // Strict priority: a real worker keeps its room for a capable task that has to wait.
      if (left[s] > 0) blocked = true;
    }
    first = end;
  }
  let workers = 0;
  const cpuTotal = worker.totals[0];
  for (const run of runs) {
    if (run.tasks.length === 0) continue;
    const cpuUsed = cpuTotal - run.remaining[0];
    if (
      queue.minUtilization > 0 && Number.isFinite(cpuTotal) &&
      cpuUsed < queue.minUtilization * cpuTotal
    ) {
      // Server-worker spec §4.1: such a worker would get none of these tasks; they stay waiting.
      for (const [s, count] of run.tasks) {
        left[s] += count * run.workers;
        if (!underUsed.has(s)) underUsed.set(s, run);
      }
      continue;
    }
    workers += run.workers;
  }
  return { workers, leftBefore, underUsed };
}

/**
 * First-fit of `count` tasks of shape `s` over the runs, in worker order; returns how many did
 * not fit anywhere.
 */
function placeShape(
  runs: WorkerRun[],
  s: number,
  variants: IndexedVariant[],
  count: number,
  totals: number[],
): number {
  let left = count;
  for (let r = 0; r < runs.length && left > 0; r++) {
    const run = runs[r];
    const full = run.remaining.slice();
    const perWorker = fillWorker(full, variants, Infinity, totals);
    if (perWorker === 0) continue;
    if (perWorker !== Infinity && left >= perWorker * run.workers) {
      run.remaining = full;
      addTasks(run.tasks, s, perWorker);
      left -= perWorker * run.workers;
      continue;
    }
    // The tasks run out inside this run: `filled` workers take `perWorker` each, one takes the
    // rest, the others stay as they were.
    const filled = perWorker === Infinity ? 0 : Math.floor(left / perWorker);
    const rest = filled === 0 ? left : left - filled * perWorker;
    const replacement: WorkerRun[] = [];
    if (filled > 0) {
      replacement.push({
        workers: filled,
        remaining: full,
        tasks: withTasks(run.tasks, s, perWorker),
      });
    }
    let untouched = run.workers - filled;
    if (rest > 0) {
      const remaining = run.remaining.slice();
      fillWorker(remaining, variants, rest, totals);
      replacement.push({ workers: 1, remaining, tasks: withTasks(run.tasks, s, rest) });
      untouched--;
    }
    if (untouched > 0) {
      replacement.push({ workers: untouched, remaining: run.remaining, tasks: run.tasks });
    }
    runs.splice(r, 1, ...replacement);
    left = 0;
  }
  return left;
}

/**
 * Puts up to `limit` tasks on one worker with `remaining` (updated): each task takes the first
 * variant that fits, which comes to as many of the first variant as fit, then of the second, and
 * so on (a variant that stopped fitting never fits again as the worker only fills up). Returns
 * how many were placed; Infinity when a variant fits without limit.
 */
function fillWorker(
  remaining: number[],
  variants: IndexedVariant[],
  limit: number,
  totals: number[],
): number {
  let placed = 0;
  for (const variant of variants) {
    if (placed >= limit) break;
    const fits = Math.min(fitCount(remaining, variant, totals), limit - placed);
    if (fits === 0) continue;
    placed += fits;
    for (const need of variant.needs) {
      const pool = remaining[need.index];
      if (pool === Infinity || (!need.all && need.amount === 0)) continue;
      remaining[need.index] = need.all ? 0 : pool - need.amount * fits;
    }
  }
  return placed;
}

/** How many tasks of the variant fit `remaining` at once (Infinity: no finite pool limits it). */
function fitCount(remaining: number[], variant: IndexedVariant, totals: number[]): number {
  let fits = Infinity;
  for (const need of variant.needs) {
    const pool = remaining[need.index];
    if (pool === Infinity || (!need.all && need.amount === 0)) continue;
    if (need.all) {
      // The whole pool: only an untouched, non-empty one.
      if (pool === 0 || pool < totals[need.index]) return 0;
      fits = Math.min(fits, 1);
    } else {
      fits = Math.min(fits, Math.floor(pool / need.amount));
    }
    if (fits === 0) return 0;
  }
  return fits;
}

function addTasks(tasks: Array<[number, number]>, s: number, count: number): void {
  const entry = tasks.find(([shape]) => shape === s);
  if (entry) entry[1] += count;
  else tasks.push([s, count]);
}

function withTasks(
  tasks: Array<[number, number]>,
  s: number,
  count: number,
): Array<[number, number]> {
  const copy = tasks.map(([shape, n]): [number, number] => [shape, n]);
  addTasks(copy, s, count);
  return copy;
}

// -------------------------------------------------------------------------------------------------
// Multi-node tasks

interface MultiNodeAssignment {
  /** Per queue position (ascending id): its multi-node demand. */
  demand: Array<QueueDemand["multiNode"]>;
  /** Per multi-node shape: the position of the queue that took it (absent: none could). */
  takenAt: Map<WaitingShape, number>;
}

/**
 * Spec §2.10: each group of multi-node tasks goes to the first queue whose allocations are big
 * and long enough; a queue asks for one size per pass, the largest, and tasks of that size add
 * up (tasks of a smaller size it was given wait for a later pass).
 */
function assignMultiNode(shapes: WaitingShape[], queues: DemandQueue[]): MultiNodeAssignment {
  const demand: Array<QueueDemand["multiNode"]> = queues.map(() => null);
  const takenAt = new Map<WaitingShape, number>();
  for (const shape of shapes) {
    const timeRequestMs = multiNodeTimeRequest(shape);
    const position = queues.findIndex((queue) =>
      queue.maxWorkersPerAlloc >= shape.nodes && queue.timeLimitMs >= timeRequestMs
    );
    if (position < 0) continue;
    takenAt.set(shape, position);
    const current = demand[position];
    if (current === null || current.perAlloc < shape.nodes) {
      demand[position] = { count: shape.count, perAlloc: shape.nodes };
    } else if (current.perAlloc === shape.nodes) {
      current.count += shape.count;
    }
  }
  return { demand, takenAt };
}

function multiNodeTimeRequest(shape: WaitingShape): number {
  if (shape.variants.length === 0) return 0;
  return Math.min(...shape.variants.map((variant) => variant.timeRequestMs));
}

// -------------------------------------------------------------------------------------------------
// Why nothing was placed

/**
 * The first waiting single-node shape (in priority order) this queue could not take, and why:
 * a variant its workers can never run (the first variant's reason), or min-utilization.
 */
function explainUnfit(
  shapes: IndexedShape[],
  leftBefore: number[],
  underUsed: Map<number, WorkerRun>,
  queue: DemandQueue,
  worker: WorkerTotals,
): QueueDemand["unfit"] {
  for (let s = 0; s < shapes.length; s++) {
    if (leftBefore[s] === 0) continue;
    const { shape, variants } = shapes[s];
    const reasons = variants.map((variant) => neverFitReason(variant, queue, worker));
    if (reasons.length > 0 && reasons.every((reason) => reason !== null)) {
      return { label: shape.label, why: reasons[0]! };
    }
    const run = underUsed.get(s);
    if (run) {
      const cpus = worker.totals[0];
      const used = cpus - run.remaining[0];
      return {
        label: shape.label,
        why: `min utilization ${queue.minUtilization} not reached: the waiting tasks would use ${
          formatAmount(used)
        } of a worker's ${formatAmount(cpus)} ${CPU_RESOURCE_NAME}`,
      };
    }
  }
  return null;
}

/** Why the variant can never run on the queue's workers, or null if it can. */
function neverFitReason(
  variant: IndexedVariant,
  queue: DemandQueue,
  worker: WorkerTotals,
): string | null {
  for (const need of variant.needs) {
    const total = worker.totals[need.index];
    const name = worker.names[need.index];
    const wanted = `needs ${name}=${need.all ? "all" : formatAmount(need.amount)}`;
    if (total === 0) return `${wanted}, the queue's workers have no ${name}`;
    if (!need.all && need.amount > total) {
      return `${wanted}, the queue's workers have ${formatAmount(total)}`;
    }
  }
  if (variant.timeRequestMs > queue.timeLimitMs) return timeReason(variant.timeRequestMs, queue);
  return null;
}

/** Why the first multi-node shape not taken by an earlier queue did not go to this one. */
function explainMultiNodeUnfit(
  shapes: WaitingShape[],
  takenAt: Map<WaitingShape, number>,
  position: number,
  queue: DemandQueue,
): QueueDemand["unfit"] {
  for (const shape of shapes) {
    if ((takenAt.get(shape) ?? Infinity) < position) continue;
    if (shape.nodes > queue.maxWorkersPerAlloc) {
      return {
        label: shape.label,
        why:
          `needs nodes=${shape.nodes}, the queue's allocations have at most ${queue.maxWorkersPerAlloc} worker(s)`,
      };
    }
    const timeRequestMs = multiNodeTimeRequest(shape);
    if (timeRequestMs > queue.timeLimitMs) {
      return { label: shape.label, why: timeReason(timeRequestMs, queue) };
    }
  }
  return null;
}

function timeReason(timeRequestMs: number, queue: DemandQueue): string {
  return `time request ${formatDuration(timeRequestMs)} exceeds the queue's time limit ${
    formatDuration(queue.timeLimitMs)
  }`;
}

function needText(need: WaitingNeed): string {
  return `${need.resource}=${need.all ? "all" : formatAmount(need.amount)}`;
}
