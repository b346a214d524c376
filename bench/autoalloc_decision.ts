/**
 * The allocator's decision alone (journal-alloc spec §2.10 step 3): one pass asks the scheduler
 * core for its waiting tasks by request shape (`SchedulerCore.waitingShapes`) and places them on
 * the imaginary workers of every queue (`computeDemand`). In process, no I/O; the figure is the
 * median of many passes over an unchanged core, and the core's memory for the waiting tasks.
 *
 * A. 1,000,000 waiting tasks of 3 request shapes (3 array jobs: 500,000 × `cpus=1`, 300,000 ×
 *    `cpus=4,mem=2` at priority 1, 200,000 × `cpus=1,gpus=1`), 20 workers of 16 CPUs already
 *    holding what they can take (so the core has requeued-free cursors part way), and 10 queues
 *    (exact, partial and probing shapes, backlog 4 × 2 workers per allocation).
 * B. The same million as 100,000 one-task jobs plus 3 arrays of 300,000: the pass costs per
 *    queued submit, and this is what many small jobs make of it.
 *
 *   deno run -A --v8-flags=--expose-gc bench/autoalloc_decision.ts [--quick] [--json]
 *
 * Memory figures need `gc()`: without `--expose-gc` (as under bench/run.ts) the benchmark runs
 * itself in a child process that has it.
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { SchedulerCore } from "../server/scheduler/scheduler_core.ts";
import type { CoreEvent } from "../server/scheduler/core_events.ts";
import { computeDemand, type DemandQueue } from "../server/autoalloc/demand.ts";
import type { ResourceDescriptorItem } from "../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../common/resources/resource_request.ts";
import { AMOUNT_FRACTIONS as UNIT } from "../common/resources/amount.ts";
import { testTaskTemplate, testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";

const HOUR_MS = 3_600_000;
const GIB = 1024 * UNIT;

interface Options {
  /** Fewer passes: noisier medians, a few seconds less. */
  quick?: boolean;
}

interface Request {
  cpus: number;
  memGib?: number;
  gpus?: number;
  priority?: number;
}

class Harness {
  readonly core = new SchedulerCore();
  nowMs = 1_000_000;
  #nextJob = 1;

  handle(event: CoreEvent): void {
    this.core.handle(event, this.nowMs);
  }

  submit(count: number, request: Request): void {
    const resources: ResourceRequestEntry[] = [
      { name: "cpus", amount: request.cpus * UNIT, policy: "compact" },
    ];
    if (request.memGib) {
      resources.push({ name: "mem", amount: request.memGib * GIB, policy: "compact" });
    }
    if (request.gpus) {
      resources.push({ name: "gpus", amount: request.gpus * UNIT, policy: "compact" });
    }
    const jobId = this.#nextJob++;
    this.handle({
      type: "job-created",
      jobId,
      name: `bench-${jobId}`,
      maxFails: null,
      isOpen: false,
      submit: {
        template: testTaskTemplate("/tmp", { resources, priority: request.priority ?? 0 }),
        ids: [[0, count - 1, 1]],
        entries: null,
      },
    });
  }

  addWorkers(count: number): void {
    for (let id = 1; id <= count; id++) {
      const resources: ResourceDescriptorItem[] = [
        { name: "cpus", kind: "range", start: 0, end: 15 },
        { name: "gpus", kind: "list", values: ["0", "1"] },
        { name: "mem", kind: "sum", size: 64 * GIB },
      ];
      this.handle({
        type: "worker-joined",
        workerId: id,
        configuration: testWorkerConfiguration(16, {
          resources: { resources, coupling: { weights: [] } },
        }),
      });
    }
    this.handle({ type: "schedule" });
  }
}

const SHAPES: Request[] = [
  { cpus: 1 },
  { cpus: 4, memGib: 2, priority: 1 },
  { cpus: 1, gpus: 1 },
];

/** 10 queues as the allocator would pass them: a mix of learned, given and unknown shapes. */
function queues(): DemandQueue[] {
  const item = (name: string, size: number): ResourceDescriptorItem =>
    name === "mem"
      ? { name, kind: "sum", size: size * GIB }
      : { name, kind: "range", start: 0, end: size - 1 };
  return Array.from({ length: 10 }, (_, i): DemandQueue => {
    const kind = i % 3 === 0 ? "exact" : i % 3 === 1 ? "partial" : "probing";
    const resources = kind === "exact"
      ? [item("cpus", 16 + 8 * i), item("gpus", i % 4), item("mem", 128)]
      : kind === "partial"
      ? [item("cpus", 32)]
      : [];
    return {
      queueId: i + 1,
      workerShape: { kind, resources },
      imaginaryWorkers: 4 * 2,
      timeLimitMs: (1 + i) * HOUR_MS,
      minUtilization: i === 3 ? 0.5 : 0,
      maxWorkersPerAlloc: 2,
    };
  });
}

const KNOWN_RESOURCE_NAMES = ["cpus", "gpus", "mem"];

interface PassTimes {
  passMs: number;
  waitingShapesMs: number;
  computeDemandMs: number;
  maxPassMs: number;
  shapes: number;
  waiting: number;
}

/** Median times of `passes` decision passes over the unchanged core. */
function timePasses(core: SchedulerCore, passes: number): PassTimes {
  const queueList = queues();
  const pass: number[] = [];
  const shapesPart: number[] = [];
  const demandPart: number[] = [];
  let shapes = 0;
  let waiting = 0;
  for (let i = 0; i < passes + 20; i++) {
    const start = performance.now();
    const waitingShapes = core.waitingShapes();
    const middle = performance.now();
    const demand = computeDemand(waitingShapes, queueList, KNOWN_RESOURCE_NAMES);
    const end = performance.now();
    if (demand.length !== queueList.length) throw new Error("computeDemand lost a queue");
    if (i < 20) continue; // warm-up: let the JIT settle
    pass.push(end - start);
    shapesPart.push(middle - start);
    demandPart.push(end - middle);
    shapes = waitingShapes.length;
    waiting = waitingShapes.reduce((sum, shape) => sum + shape.count, 0);
  }
  return {
    passMs: median(pass),
    waitingShapesMs: median(shapesPart),
    computeDemandMs: median(demandPart),
    maxPassMs: Math.max(...pass),
    shapes,
    waiting,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** JS heap plus external (typed arrays' buffers), MB, after a full collection; NaN without gc. */
function memoryMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return NaN;
  gc();
  gc();
  const usage = Deno.memoryUsage();
  return (usage.heapUsed + usage.external) / 1e6;
}

function row(name: string, figure: number, unit: string, target = ""): BenchRow {
  return {
    name: `autoalloc_decision/${name}`,
    figure,
    unit,
    reference: null,
    referenceLabel: "",
    ratio: null,
    target,
  };
}

function scenarioA(options: Options): BenchRow[] {
  const baseline = memoryMb();
  const harness = new Harness();
  const submitStart = performance.now();
  harness.submit(500_000, SHAPES[0]);
  harness.submit(300_000, SHAPES[1]);
  harness.submit(200_000, SHAPES[2]);
  harness.addWorkers(20);
  const submitMs = performance.now() - submitStart;
  const memory = memoryMb() - baseline;
  const times = timePasses(harness.core, options.quick ? 200 : 1_000);
  return [
    row("A-pass-1M-tasks-3-shapes-10-queues", times.passMs * 1000, "µs (median)", "< 5,000 µs"),
    row("A-pass-max", times.maxPassMs * 1000, "µs"),
    row("A-waiting-shapes", times.waitingShapesMs * 1000, "µs (median)"),
    row("A-compute-demand", times.computeDemandMs * 1000, "µs (median)"),
    row("A-waiting-tasks", times.waiting, "tasks"),
    row("A-waiting-shapes-count", times.shapes, "shapes"),
    row("A-core-heap-plus-external", memory, "MB"),
    row("A-setup", submitMs, "ms"),
  ];
}

function scenarioB(options: Options): BenchRow[] {
  const baseline = memoryMb();
  const harness = new Harness();
  for (let i = 0; i < 100_000; i++) harness.submit(1, SHAPES[i % 3]);
  for (const shape of SHAPES) harness.submit(300_000, shape);
  harness.addWorkers(20);
  // Most of it is the 100,000 jobs themselves (a JobRecord and SubmitRecord each), not the arrays.
  const memory = memoryMb() - baseline;
  const times = timePasses(harness.core, options.quick ? 50 : 200);
  return [
    row("B-pass-100k-one-task-jobs-plus-arrays", times.passMs * 1000, "µs (median)", "< 5,000 µs"),
    row("B-pass-max", times.maxPassMs * 1000, "µs"),
    row("B-waiting-shapes", times.waitingShapesMs * 1000, "µs (median)"),
    row("B-compute-demand", times.computeDemandMs * 1000, "µs (median)"),
    row("B-waiting-tasks", times.waiting, "tasks"),
    row("B-core-heap-plus-external", memory, "MB"),
  ];
}

/** Both scenarios; in a child process with `--expose-gc` unless `gc()` is available here. */
export async function benchAutoallocDecision(options: Options = {}): Promise<BenchRow[]> {
  if (typeof (globalThis as { gc?: unknown }).gc !== "function") {
    const args = ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname];
    if (options.quick) args.push("--quick");
    args.push("--json");
    const output = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" }).output();
    if (!output.success) throw new Error("bench/autoalloc_decision.ts failed in its child process");
    return JSON.parse(new TextDecoder().decode(output.stdout));
  }
  return [...scenarioA(options), ...scenarioB(options)];
}

if (import.meta.main) {
  const rows = await benchAutoallocDecision({ quick: Deno.args.includes("--quick") });
  console.log(Deno.args.includes("--json") ? JSON.stringify(rows) : formatTable(rows));
}
