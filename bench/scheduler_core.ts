/**
 * The scheduler core alone, in process, no I/O: `SchedulerCore.handle` driven by simulated
 * workers that start what their free amounts allow and report tasks finished oldest first.
 * Only the time spent inside `handle` is counted (the simulation's own work is left out).
 *
 * A. 1,000 workers of 128 CPUs (and a 512 GiB `mem` pool), 1,000,000 waiting tasks as 10 arrays
 *    of 100,000 with different requests (1, 2, 4, 8, 16, 0.5, 0.25, 1.5 CPUs, 1 CPU + 2 GiB,
 *    2 CPUs + 8 GiB): the first round until every CPU is busy; then the steady state, where a
 *    worker reports `batch` finished tasks and the ones it started from its queue, and a
 *    `schedule` follows (µs of core time per task, for batches of 1 and 32); heap used after GC.
 * B. 100 workers (16 CPUs, 64 GiB, every 4th with 2 GPUs) and 10,000 one-task jobs with mixed
 *    requests and priorities −1..1, kept at 10,000 waiting (a new job per finished task, its
 *    `job-created` timed apart): the same figures, and the per-task cost at 25/50/100/200
 *    workers, against 25 (quadratic growth would show as 64x at 200).
 *
 *   deno run -A --v8-flags=--expose-gc bench/scheduler_core.ts [--quick] [--scenario A|B] [--json]
 *
 * Heap figures need `gc()`: without `--expose-gc` (as under bench/run.ts) the benchmark runs
 * itself in a child process that has it.
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { SchedulerCore } from "../server/scheduler/scheduler_core.ts";
import type {
  AssignedTask,
  CoreCommand,
  CoreEvent,
  TaskRef,
} from "../server/scheduler/core_events.ts";
import type { ResourceDescriptorItem } from "../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../common/resources/resource_request.ts";
import { AMOUNT_FRACTIONS as UNIT } from "../common/resources/amount.ts";
import { testTaskTemplate, testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";
import { seededRandom } from "../common/seeded_random.ts";

const MIB = UNIT;
const GIB = 1024 * MIB;

interface Options {
  /** Fewer tasks and rounds: about a third of the time, noisier figures. */
  quick?: boolean;
  /** Only scenario A or B (e.g. to profile one). */
  scenario?: "A" | "B";
}

/** What one task takes of its worker, in 1/10000 units. */
interface Need {
  cpus: number;
  mem: number;
  gpus: number;
  priority: number;
}

// -------------------------------------------------------------------------------------------------
// Simulation: workers and the time spent in the core

class SimWorker {
  freeCpus: number;
  freeMem: number;
  freeGpus: number;
  /** Started tasks, oldest first (from `runningHead`). */
  running: AssignedTask[] = [];
  runningHead = 0;
  /** Assigned tasks not started yet, in the worker's start order. */
  queued: AssignedTask[] = [];

  constructor(
    readonly id: number,
    readonly cpus: number,
    readonly mem: number,
    readonly gpus: number,
  ) {
    this.freeCpus = cpus;
    this.freeMem = mem;
    this.freeGpus = gpus;
  }

  get runningCount(): number {
    return this.running.length - this.runningHead;
  }
}

class Harness {
  readonly core = new SchedulerCore();
  readonly workers: SimWorker[] = [];
  readonly #byId = new Map<number, SimWorker>();
  /** Needs by job id (every job here has one submit). */
  readonly needs: Need[] = [];
  nowMs = 1_000_000;
  /** Milliseconds spent inside `core.handle`. */
  coreMs = 0;
  nextJobId = 1;

  addWorker(cpus: number, memMib: number, gpus: number): void {
    const id = this.workers.length + 1;
    const resources: ResourceDescriptorItem[] = [
      { name: "cpus", kind: "range", start: 0, end: cpus - 1 },
    ];
    if (gpus > 0) {
      const values = Array.from({ length: gpus }, (_, i) => String(i));
      resources.push({ name: "gpus", kind: "list", values });
    }
    resources.push({ name: "mem", kind: "sum", size: memMib * MIB });
    const worker = new SimWorker(id, cpus * UNIT, memMib * MIB, gpus * UNIT);
    this.workers.push(worker);
    this.#byId.set(id, worker);
    this.timed({
      type: "worker-joined",
      workerId: id,
      configuration: testWorkerConfiguration(cpus, {
        resources: { resources, coupling: { weights: [] } },
      }),
    });
  }

  /** Submits one array job of `count` tasks; returns its id. */
  submit(count: number, need: Need): number {
    const jobId = this.nextJobId++;
    this.needs[jobId] = need;
    const resources: ResourceRequestEntry[] = [
      { name: "cpus", amount: need.cpus, policy: "compact" },
    ];
    if (need.mem > 0) resources.push({ name: "mem", amount: need.mem, policy: "compact" });
    if (need.gpus > 0) resources.push({ name: "gpus", amount: need.gpus, policy: "compact" });
    this.timed({
      type: "job-created",
      jobId,
      name: `bench-${jobId}`,
      maxFails: null,
      isOpen: false,
      submit: {
        template: testTaskTemplate("/tmp", { resources, priority: need.priority }),
        ids: [[0, count - 1, 1]],
        entries: null,
      },
    });
    return jobId;
  }

  timed(event: CoreEvent): CoreCommand[] {
    const start = performance.now();
    const commands = this.core.handle(event, this.nowMs);
    this.coreMs += performance.now() - start;
    return commands;
  }

  /** A scheduling round; the workers queue what they got and start what fits. */
  schedule(): number {
    const commands = this.timed({ type: "schedule" });
    let assigned = 0;
    for (const command of commands) {
      const worker = this.#byId.get(command.workerId)!;
      if (command.type === "assign-tasks") {
        assigned += command.tasks.length;
        for (const task of command.tasks) worker.queued.push(task);
        this.#startQueued(worker);
      } else if ((command as { type: string }).type === "retract-tasks") {
        // Queued tasks asked back (only when nothing waits at the server: not in these runs).
        this.#retract(worker, (command as unknown as { tasks: TaskRef[] }).tasks);
      }
    }
    return assigned;
  }

  #retract(worker: SimWorker, refs: TaskRef[]): void {
    const asked = new Set(refs.map((ref) => `${ref.jobId}:${ref.taskId}`));
    const given = worker.queued.filter((task) => asked.has(`${task.jobId}:${task.taskId}`));
    worker.queued = worker.queued.filter((task) => !asked.has(`${task.jobId}:${task.taskId}`));
    const event = { type: "tasks-retracted", workerId: worker.id, tasks: given.map(refOf) };
    this.timed(event as unknown as CoreEvent);
  }

  /**
   * The worker starts queued tasks whose needs fit its free amounts, in queue order (a task that
   * has to wait holds back lower priorities), and reports each as started.
   */
  #startQueued(worker: SimWorker): void {
    let kept = 0;
    let blockedBelow = -Infinity;
    const queue = worker.queued;
    for (let read = 0; read < queue.length; read++) {
      const task = queue[read];
      const need = this.needs[task.jobId];
      const fits = need.priority >= blockedBelow && need.cpus <= worker.freeCpus &&
        need.mem <= worker.freeMem && need.gpus <= worker.freeGpus;
      if (!fits) {
        if (need.priority > blockedBelow) blockedBelow = need.priority;
        queue[kept++] = task;
        continue;
      }
      worker.freeCpus -= need.cpus;
      worker.freeMem -= need.mem;
      worker.freeGpus -= need.gpus;
      worker.running.push(task);
      this.timed({ type: "task-started", workerId: worker.id, task: refOf(task) });
    }
    queue.length = kept;
  }

  /**
   * One frame from a worker: its `batch` oldest running tasks finish, it starts what its queue
   * now allows, and a scheduling round follows. Returns the tasks finished.
   */
  frame(worker: SimWorker, batch: number): number {
    this.nowMs += 1;
    let finished = 0;
    for (; finished < batch && worker.runningCount > 0; finished++) {
      const task = worker.running[worker.runningHead++];
      const need = this.needs[task.jobId];
      worker.freeCpus += need.cpus;
      worker.freeMem += need.mem;
      worker.freeGpus += need.gpus;
      this.timed({ type: "task-finished", workerId: worker.id, task: refOf(task) });
    }
    if (worker.runningHead > 4096 && worker.runningHead * 2 > worker.running.length) {
      worker.running = worker.running.slice(worker.runningHead);
      worker.runningHead = 0;
    }
    this.#startQueued(worker);
    this.schedule();
    return finished;
  }

  busyCpus(): number {
    return this.workers.reduce((sum, worker) => sum + (worker.cpus - worker.freeCpus), 0) / UNIT;
  }

  totalCpus(): number {
    return this.workers.reduce((sum, worker) => sum + worker.cpus, 0) / UNIT;
  }
}

function refOf(task: TaskRef): TaskRef {
  return { jobId: task.jobId, taskId: task.taskId, instanceId: task.instanceId };
}

/**
 * Steady state: frames from the workers in turn until `tasks` tasks finished. Returns µs of
 * core time per finished task.
 */
function steadyState(
  harness: Harness,
  tasks: number,
  batch: number,
  afterFrame?: (finished: number) => void,
): number {
  const before = harness.coreMs;
  let finished = 0;
  let turn = 0;
  let idle = 0;
  while (finished < tasks) {
    const worker = harness.workers[turn++ % harness.workers.length];
    const done = harness.frame(worker, batch);
    finished += done;
    if (done === 0 && ++idle > harness.workers.length) throw new Error("nothing runs");
    if (done > 0) idle = 0;
    afterFrame?.(done);
  }
  return ((harness.coreMs - before) * 1000) / finished;
}

interface Memory {
  /** JS heap plus what lives outside it (typed arrays' ArrayBuffers), MB, after a full GC. */
  total: number;
  /** Of which outside the JS heap (`external`), MB. */
  external: number;
  rss: number;
}

/** Memory after a full collection (NaN without `gc()`). */
function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return { total: NaN, external: NaN, rss: NaN };
  gc();
  gc();
  const usage = Deno.memoryUsage();
  return {
    total: (usage.heapUsed + usage.external) / 1e6,
    external: usage.external / 1e6,
    rss: usage.rss / 1e6,
  };
}

/** Rows for memory grown since `baseline`: JS heap + external (target), and RSS. */
function memoryRows(name: string, baseline: Memory): BenchRow[] {
  const now = memory();
  return [
    {
      ...row(`${name}-heap-plus-external`, now.total - baseline.total, "MB", "< 200 MB"),
      reference: now.external - baseline.external,
      referenceLabel: "MB of it outside the JS heap",
    },
    row(`${name}-rss-growth`, now.rss - baseline.rss, "MB"),
  ];
}

function row(
  name: string,
  figure: number,
  unit: string,
  target = "",
  reference: number | null = null,
  referenceLabel = "",
): BenchRow {
  return {
    name: `scheduler_core/${name}`,
    figure,
    unit,
    reference,
    referenceLabel,
    ratio: reference === null ? null : figure / reference,
    target,
  };
}

// -------------------------------------------------------------------------------------------------
// A: a million tasks on a thousand big workers

const A_REQUESTS: Array<[number, number]> = [
  // [cpus, mem GiB]
  [1, 0],
  [2, 0],
  [4, 0],
  [8, 0],
  [16, 0],
  [0.5, 0],
  [0.25, 0],
  [1.5, 0],
  [1, 2],
  [2, 8],
];

function scenarioA(options: Options): BenchRow[] {
  const rows: BenchRow[] = [];
  const baseline = memory();
  const harness = new Harness();
  for (let i = 0; i < 1_000; i++) harness.addWorker(128, 512 * 1024, 0);
  const submitStart = harness.coreMs;
  for (const [cpus, memGib] of A_REQUESTS) {
    harness.submit(100_000, { cpus: cpus * UNIT, mem: memGib * GIB, gpus: 0, priority: 0 });
  }
  rows.push(row("A-submit-10x100k", harness.coreMs - submitStart, "ms"));

  const firstStart = harness.coreMs;
  const wallStart = performance.now();
  const assigned = harness.schedule();
  const firstMs = harness.coreMs - firstStart;
  const wallMs = performance.now() - wallStart;
  const busy = harness.busyCpus();
  if (busy !== harness.totalCpus()) {
    throw new Error(`after the first round ${busy} of ${harness.totalCpus()} CPUs are busy`);
  }
  rows.push(row("A-first-round-all-128k-cpus-busy", firstMs, "ms core", "< 2,000 ms"));
  rows.push(row("A-first-round-wall-with-simulation", wallMs, "ms"));
  rows.push(row("A-first-round-tasks-assigned", assigned, "tasks"));
  rows.push(...memoryRows("A-memory-after-first-round", baseline));

  for (const batch of [1, 32]) {
    const tasks = options.quick ? (batch === 1 ? 5_000 : 50_000) : (batch === 1 ? 20_000 : 200_000);
    const perTask = steadyState(harness, tasks, batch);
    rows.push(row(`A-steady-us-per-task-batch-${batch}`, perTask, "µs", "<= 5 µs"));
  }
  rows.push(...memoryRows("A-memory-after-steady-state", baseline));
  return rows;
}

// -------------------------------------------------------------------------------------------------
// B: ten thousand one-task jobs with mixed requests

function mixedNeed(random: () => number): Need {
  const r = random();
  const p = random();
  const priority = p < 0.1 ? 1 : p < 0.2 ? -1 : 0;
  if (r < 0.6) return { cpus: (1 + Math.floor(random() * 4)) * UNIT, mem: 0, gpus: 0, priority };
  if (r < 0.8) return { cpus: 0.5 * UNIT, mem: 0, gpus: 0, priority };
  if (r < 0.9) return { cpus: 2 * UNIT, mem: 4 * GIB, gpus: 0, priority };
  return { cpus: UNIT, mem: 0, gpus: UNIT, priority };
}

interface ScenarioB {
  submitMs: number;
  firstMs: number;
  perTaskUs: number;
  submitPerJobUs: number;
  memory: BenchRow[];
}

function scenarioB(workers: number, steadyTasks: number): ScenarioB {
  const baseline = memory();
  const random = seededRandom(workers);
  const harness = new Harness();
  for (let i = 0; i < workers; i++) harness.addWorker(16, 64 * 1024, i % 4 === 3 ? 2 : 0);
  const submitStart = harness.coreMs;
  for (let i = 0; i < 10_000; i++) harness.submit(1, mixedNeed(random));
  const submitMs = harness.coreMs - submitStart;
  const firstStart = harness.coreMs;
  harness.schedule();
  const firstMs = harness.coreMs - firstStart;
  // Keep 10,000 waiting: a new job for every finished task, its submit timed apart.
  let submitCoreMs = 0;
  let submitted = 0;
  const perTaskUs = steadyState(harness, steadyTasks, 1, (finished) => {
    const before = harness.coreMs;
    for (let i = 0; i < finished; i++) harness.submit(1, mixedNeed(random));
    submitCoreMs += harness.coreMs - before;
    submitted += finished;
    harness.coreMs = before;
  });
  return {
    submitMs,
    firstMs,
    perTaskUs,
    submitPerJobUs: (submitCoreMs * 1000) / Math.max(1, submitted),
    memory: memoryRows(`B-memory-${workers}-workers`, baseline),
  };
}

function scenariosB(options: Options): BenchRow[] {
  const rows: BenchRow[] = [];
  // Few tasks: at the core's current cost (ms per task) more would take minutes.
  const steadyTasks = options.quick ? 300 : 1_000;
  const main = scenarioB(100, steadyTasks);
  rows.push(row("B-submit-10k-one-task-jobs", main.submitMs, "ms"));
  rows.push(row("B-first-round-100-workers", main.firstMs, "ms core", "< 2,000 ms"));
  rows.push(row("B-steady-us-per-task-100-workers", main.perTaskUs, "µs", "<= 5 µs"));
  rows.push(row("B-job-created-us-per-job-at-10k-waiting", main.submitPerJobUs, "µs"));
  rows.push(...main.memory);
  let reference: number | null = null;
  for (const workers of [25, 50, 100, 200]) {
    const result = workers === 100 ? main : scenarioB(workers, steadyTasks);
    reference ??= result.perTaskUs;
    rows.push(
      row(
        `B-scaling-us-per-task-${workers}-workers`,
        result.perTaskUs,
        "µs",
        workers === 25 ? "" : `<< ${(workers / 25) ** 2}x (quadratic)`,
        reference,
        "µs at 25 workers",
      ),
    );
    rows.push(row(`B-scaling-first-round-${workers}-workers`, result.firstMs, "ms core"));
  }
  return rows;
}

// -------------------------------------------------------------------------------------------------

/** Runs both scenarios; in a child process with `--expose-gc` unless `gc()` is available here. */
export async function benchSchedulerCore(options: Options = {}): Promise<BenchRow[]> {
  if (typeof (globalThis as { gc?: unknown }).gc !== "function") {
    const args = ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname];
    if (options.quick) args.push("--quick");
    if (options.scenario) args.push("--scenario", options.scenario);
    args.push("--json");
    const output = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    if (!output.success) throw new Error("bench/scheduler_core.ts failed in its child process");
    return JSON.parse(new TextDecoder().decode(output.stdout));
  }
  return [
    ...(options.scenario !== "B" ? scenarioA(options) : []),
    ...(options.scenario !== "A" ? scenariosB(options) : []),
  ];
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const at = Deno.args.indexOf("--scenario");
  const scenario = at >= 0 ? Deno.args[at + 1] : undefined;
  if (scenario !== undefined && scenario !== "A" && scenario !== "B") {
    console.error(`error: --scenario takes A or B, not ${scenario}`);
    Deno.exit(2);
  }
  const rows = await benchSchedulerCore({ quick, scenario });
  console.log(Deno.args.includes("--json") ? JSON.stringify(rows) : formatTable(rows));
}
