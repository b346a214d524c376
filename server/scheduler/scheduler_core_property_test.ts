/**
 * Seeded randomized property test of the scheduler core. A deterministic PRNG drives thousands of
 * random events per seed: workers joining (1–16 CPUs, sometimes a `gpus` list, a `mem` sum pool,
 * a time limit or an idle timeout), workers lost, stopped, going silent or running out of time,
 * submits of 1–50 tasks with random requests (whole and fractional CPUs, GPUs, memory, `all`,
 * priorities −2..2, time requests, crash limits, max-fails), tasks started, finished and failed by
 * simulated workers, cancels, scheduling rounds, ticks, and stale or duplicate reports.
 *
 * The test keeps its own model of every task (waiting, assigned to a worker, running there, or in
 * a final state), driven by the events it sends and the commands the core answers with, and
 * compares it with the core after every event. Invariants:
 *
 * (a) Capacity. The tasks assigned to or running on a worker never need more than 2x its
 *     resources (per resource, `all` counting as the whole pool), and nothing is ever assigned to
 *     a worker that is offline, stopping, or lacks a requested resource. The running ones never
 *     exceed 1x: the simulated worker starts a queued task only when its free amounts allow it
 *     (like the real worker: queue by priority, a task that has to wait holds back lower
 *     priorities).
 * (b) No fitting worker left idle (spec §5.2 with the core's two passes). Right after a
 *     `schedule` event, for every running worker with no stop requested and every submit with a
 *     waiting (not assigned) task whose request fits the worker's free amounts — free = totals
 *     minus everything assigned or running there; every requested resource present with total ≥
 *     amount, used + amount ≤ total (`all`: nothing of that pool in use), and the time request
 *     within the worker's remaining time — some task of strictly higher priority that is capable
 *     of that worker (every resource present and large enough, time request fits) must still be
 *     waiting: strict priority is the only excuse. The same check at 2x (prefill: used + amount ≤
 *     2 × total) gives (b'): a worker with prefill room left and a waiting task that fits it
 *     needs the same excuse.
 * (c) Every task ends in exactly one final state. A final state is never left (and so never
 *     entered twice: a duplicate or stale finish changes nothing), the state and instance id of
 *     every task the event touched match the model, and after the run is drained (a worker able
 *     to run every request joins, everything is scheduled, started and finished) every job is
 *     completed, every task is finished/failed/canceled/aborted as the model says.
 * (d) Job counters (`summary().counts`) sum to `taskCount` and equal the model's after every
 *     event; cancel-tasks commands name exactly the assigned and running tasks the model
 *     cancels or aborts on live workers.
 * (e) Strict priority, the other half of spec §5.2 in the core's form: a task placed on a worker
 *     in a round means no task of higher priority capable of that worker still waits after the
 *     round (it would have been placed there first, or kept the lower one off that worker).
 * (f) Fill before prefill (the core's two passes): a task the round queued beyond its worker's
 *     1x must not fit the free resources (1x) of another eligible worker, unless a higher
 *     priority capable of that worker was waiting when the round began.
 */
import assert from "node:assert/strict";
import type { CrashLimit, TaskCounts, TaskState } from "../../common/job_types.ts";
import type { WorkerConfiguration, WorkerLostReason } from "../../common/protocol.ts";
import { AMOUNT_FRACTIONS } from "../../common/resources/amount.ts";
import type { ResourceDescriptorItem } from "../../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import type { AssignedTask, CoreCommand, CoreEvent, TaskRef } from "./core_events.ts";
import { SchedulerCore, SERVER_PREFILL_CPU_SLOTS } from "./scheduler_core.ts";
import { testTaskTemplate, testWorkerConfiguration } from "./_test_fixtures.ts";
import { seededRandom } from "../../common/seeded_random.ts";

const UNIT = AMOUNT_FRACTIONS;

/** How many times its resources the core lets a worker hold (prefill; the core's own rule). */
let prefillOf = (_worker: { totals: Map<string, number> }): number => 2;
/**
 * The seeds run by default. To explore more (prints one line of stats per seed):
 * `HQ_PROPERTY_SEEDS=1-500 deno test -A <this file>`.
 */
const SEEDS = seedsFromEnv() ?? [1, 2, 3, 4, 5, 6, 7, 8];
const EVENTS_PER_SEED = 5_000;
const MAX_LIVE_WORKERS = 10;
const MAX_ACTIVE_JOBS = 40;
/** Every this many events, every task of every job is compared with the core. */
const FULL_CHECK_EVERY = 250;

/**
 * Core bugs this test found, each with its own (ignored) regression test at the end of the file.
 * While one is open the property test steps around it; set it to false once it is fixed.
 */
const KNOWN_BUGS = {
  /**
   * Cancel/abort of a running task did not decrement `WorkerRecord.runningTasks` (found at seed
   * 1, event #55; fixed since, its regression test below runs again).
   */
  runningCountAfterCancel: false,
  /**
   * Within one round a waiting higher-priority submit that is Busy on a worker keeps lower
   * priorities off that worker even if it can't use the worker this round and is then placed
   * entirely on later workers: a lower-priority task that fits free resources (1x) stays waiting
   * until the next round. (b) then accepts as excuse a submit waiting when the round began.
   */
  staleBlockInRound: false,
  /**
   * A worker whose CPUs are all taken (at 1x in the first pass, 2x in the second) is skipped,
   * though a request without CPUs (job files, spec §3.1) could use its other resources. While
   * open, (b) does not count that case (`stats.cpulessSkips`).
   */
  cpulessSkipped: false,
};

// -------------------------------------------------------------------------------------------------
// Deterministic randomness

/** Seeded randomness (mulberry32) with the helpers the simulation needs; fully reproducible. */
class Rng {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [low, high]. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** A set with O(1) add, delete and random pick. */
class Bag<T> {
  readonly #items: T[] = [];
  readonly #at = new Map<T, number>();

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    if (this.#at.has(item)) return;
    this.#at.set(item, this.#items.length);
    this.#items.push(item);
  }

  delete(item: T): void {
    const at = this.#at.get(item);
    if (at === undefined) return;
    this.#at.delete(item);
    const last = this.#items.pop()!;
    if (last !== item) {
      this.#items[at] = last;
      this.#at.set(last, at);
    }
  }

  pick(rng: Rng): T | undefined {
    return this.#items.length === 0 ? undefined : rng.pick(this.#items);
  }
}

// -------------------------------------------------------------------------------------------------
// The model

type ModelState =
  | "waiting"
  | "assigned"
  | "running"
  | "finished"
  | "failed"
  | "canceled"
  | "aborted";

const FINAL: ReadonlySet<ModelState> = new Set(["finished", "failed", "canceled", "aborted"]);
/** What users (and `summary().counts`) see: an assigned task still reads as waiting. */
const VIEW: Record<ModelState, TaskState> = {
  waiting: "waiting",
  assigned: "waiting",
  running: "running",
  finished: "finished",
  failed: "failed",
  canceled: "canceled",
  aborted: "aborted",
};
const LOSS_COUNTS_AS_CRASH: ReadonlySet<WorkerLostReason> = new Set([
  "connection-lost",
  "heartbeat-lost",
]);

interface Need {
  name: string;
  /** 1/10000 units; unused when `all`. */
  amount: number;
  all: boolean;
}

interface ModelJob {
  id: number;
  maxFails: number | null;
  taskCount: number;
  submits: ModelSubmit[];
  counts: TaskCounts;
}

interface ModelSubmit {
  job: ModelJob;
  index: number;
  needs: Need[];
  priority: number;
  timeRequestMs: number;
  crashLimit: CrashLimit;
  entries: string[] | null;
  tasks: ModelTask[];
  /** Tasks in state `waiting` (not assigned). */
  waiting: number;
}

interface ModelTask {
  submit: ModelSubmit;
  index: number;
  taskId: number;
  state: ModelState;
  workerId: number | null;
  instanceId: number;
  crashes: number;
  /** Order of arrival on its current worker (the worker's queue order within a priority). */
  arrival: number;
  /** Placed beyond its worker's free resources and not started (resources spec §5.1). */
  prefilled?: boolean;
}

interface ModelWorker {
  id: number;
  totals: Map<string, number>;
  endMs: number | null;
  idleTimeoutMs: number | null;
  live: boolean;
  stopReason: WorkerLostReason | null;
  /** Stopped sending heartbeats (a silent network partition). */
  silent: boolean;
  /** Assigned and running tasks, in assignment order, by `jobId:taskId`. */
  held: Map<string, ModelTask>;
  /** Running tasks canceled or aborted there, which the core still counts as running (bug). */
  phantomRunning: number;
  /** Tasks the core asked back (`retract-tasks`) that the worker has not answered yet. */
  retracts: Map<string, TaskRef>;
}

const keyOf = (task: ModelTask) => `${task.submit.job.id}:${task.taskId}`;
const refOf = (task: ModelTask): TaskRef => ({
  jobId: task.submit.job.id,
  taskId: task.taskId,
  instanceId: task.instanceId,
});
const cancelKey = (workerId: number, ref: TaskRef) =>
  `${workerId}/${ref.jobId}/${ref.taskId}/${ref.instanceId}`;

class PropertyViolation extends Error {}

/** The amount a need takes on a worker, or null when the worker can never give it. */
function amountOn(worker: ModelWorker, need: Need): number | null {
  const total = worker.totals.get(need.name) ?? 0;
  const amount = need.all ? total : need.amount;
  return total === 0 || amount > total ? null : amount;
}

// -------------------------------------------------------------------------------------------------
// The simulation

class Simulation {
  readonly core: SchedulerCore;
  readonly rng: Rng;
  nowMs = 1_000_000;
  readonly workers = new Map<number, ModelWorker>();
  readonly jobs = new Map<number, ModelJob>();
  readonly activeJobs = new Set<ModelJob>();
  readonly waitingSubmits = new Set<ModelSubmit>();
  readonly running = new Bag<ModelTask>();
  readonly assigned = new Bag<ModelTask>();
  /** Reports already acted on, replayed later as duplicates (`[workerId, ref]`). */
  readonly staleReports: Array<[number, TaskRef]> = [];
  #nextWorkerId = 1;
  #nextJobId = 1;
  #arrival = 0;
  #eventCount = 0;
  readonly #recent: string[] = [];
  /** Per event: tasks whose state changed, and the cancels the model expects. */
  #touched = new Set<ModelTask>();
  #expectedCancels = new Set<string>();
  /** Tasks the round placed beyond their worker's 1x (prefill), with their submits. */
  #prefilled: Array<[ModelWorker, ModelSubmit]> = [];
  /** Counters for the summary line. */
  readonly stats = {
    events: 0,
    schedules: 0,
    assigned: 0,
    finished: 0,
    lost: 0,
    canceled: 0,
    retracted: 0,
    stalePrefillBlocks: 0,
    staleIdleBlocks: 0,
    cpulessSkips: 0,
  };

  constructor(readonly seed: number, prefillCpuSlots = 0) {
    this.core = new SchedulerCore({ prefillCpuSlots });
    prefillOf = (worker) => this.core.prefillFactor(worker.totals.get("cpus") ?? 0);
    this.rng = new Rng(seed);
  }

  // --- driving the core -------------------------------------------------------------------------

  /** Sends one event, applies the model's side of it (`before`) and checks every invariant. */
  send(event: CoreEvent, before: () => void = () => {}): CoreCommand[] {
    const waitingBefore = event.type === "schedule" ? [...this.waitingSubmits] : [];
    this.#eventCount++;
    this.stats.events++;
    this.#touched = new Set();
    this.#expectedCancels = new Set();
    this.#prefilled = [];
    this.#remember(describeEvent(event));
    before();
    const commands = this.core.handle(event, this.nowMs);
    if (commands.length > 0) this.#remember(`  -> ${describeCommands(commands)}`);
    this.#apply(commands);
    this.#checkAfterEvent(event, waitingBefore);
    return commands;
  }

  #remember(line: string): void {
    this.#recent.push(`#${this.#eventCount} t=${this.nowMs} ${line}`);
    if (this.#recent.length > 40) this.#recent.shift();
  }

  fail(message: string): never {
    throw new PropertyViolation(
      `seed ${this.seed}, event #${this.#eventCount}: ${message}\nlast events:\n  ` +
        this.#recent.join("\n  "),
    );
  }

  check(condition: unknown, message: () => string): asserts condition {
    if (!condition) this.fail(message());
  }

  #apply(commands: CoreCommand[]): void {
    const actualCancels = new Set<string>();
    for (const command of commands) {
      switch (command.type) {
        case "assign-tasks": {
          const worker = this.workers.get(command.workerId);
          const used = worker ? this.#usedOn(worker, true) : new Map<string, number>();
          const record = this.core.workers.get(command.workerId);
          for (const assigned of command.tasks) {
            const task = this.#onAssigned(command.workerId, assigned);
            // In the order given, a task that takes the worker beyond 1x came from the prefill
            // pass (the first pass never goes beyond 1x, and lists its tasks first); prefilled
            // tasks do not count against 1x. The prefill pass may also place within 1x (what
            // strict priority kept out of the first pass): the core says which it prefilled.
            let beyond = false;
            for (const need of task.submit.needs) {
              const total = worker!.totals.get(need.name)!;
              const after = (used.get(need.name) ?? 0) + amountOn(worker!, need)!;
              used.set(need.name, after);
              if (after > total) beyond = true;
            }
            const prefilled =
              record?.placements.get(`${assigned.jobId}:${assigned.taskId}`)?.prefilled === true;
            this.check(
              !beyond || prefilled,
              () =>
                `task ${keyOf(task)} placed beyond 1x of worker ${command.workerId} unprefilled`,
            );
            task.prefilled = prefilled;
            if (prefilled) this.#prefilled.push([worker!, task.submit]);
          }
          break;
        }
        case "cancel-tasks":
          for (const ref of command.tasks) {
            const key = cancelKey(command.workerId, ref);
            this.check(!actualCancels.has(key), () => `task cancelled twice: ${key}`);
            actualCancels.add(key);
          }
          break;
        case "retract-tasks": {
          const worker = this.workers.get(command.workerId);
          this.check(worker?.live, () => `retract from worker ${command.workerId} not running`);
          for (const ref of command.tasks) {
            const task = worker.held.get(`${ref.jobId}:${ref.taskId}`);
            this.check(
              task?.state === "assigned" && task.instanceId === ref.instanceId,
              () => `retract of ${cancelKey(worker.id, ref)}: the model has it ${task?.state}`,
            );
            this.check(
              !worker.retracts.has(keyOf(task)),
              () => `retract of ${cancelKey(worker.id, ref)} asked twice`,
            );
            worker.retracts.set(keyOf(task), ref);
          }
          break;
        }
        case "stop-worker": {
          const worker = this.workers.get(command.workerId);
          this.check(worker?.live, () => `stop-worker for worker ${command.workerId} not running`);
          if (worker.stopReason === null) {
            // Not asked by the test: only the idle timeout may do that, on a worker with nothing.
            this.check(
              worker.idleTimeoutMs !== null && worker.held.size === 0,
              () => `worker ${worker.id} stopped for idleness with ${worker.held.size} tasks`,
            );
            worker.stopReason = "idle-timeout";
          }
          break;
        }
        case "disconnect-worker": {
          const worker = this.workers.get(command.workerId);
          this.check(worker?.live, () => `disconnect of worker ${command.workerId} not running`);
          this.#loseWorker(worker, worker.stopReason ?? "heartbeat-lost");
          break;
        }
      }
    }
    // Cancels to workers that are gone by now go nowhere; the shell drops them.
    const live = (key: string) => this.workers.get(Number(key.split("/")[0]))?.live === true;
    const expected = [...this.#expectedCancels].filter(live).sort();
    const actual = [...actualCancels].filter(live).sort();
    this.check(
      expected.join(" ") === actual.join(" "),
      () => `cancel-tasks: expected [${expected.join(" ")}], got [${actual.join(" ")}]`,
    );
  }

  #onAssigned(workerId: number, assigned: AssignedTask): ModelTask {
    const worker = this.workers.get(workerId);
    const label = `${assigned.jobId}@${assigned.taskId}`;
    this.check(worker?.live, () => `task ${label} assigned to worker ${workerId}, not running`);
    this.check(
      worker.stopReason === null,
      () => `task ${label} assigned to worker ${workerId} (${worker.stopReason})`,
    );
    const job = this.jobs.get(assigned.jobId);
    const submit = job?.submits[assigned.submitIndex];
    const task = submit?.tasks.find((candidate) => candidate.taskId === assigned.taskId);
    this.check(task, () => `assigned unknown task ${label} (submit ${assigned.submitIndex})`);
    this.check(
      task.state === "waiting",
      () => `task ${label} assigned to worker ${workerId} while ${task.state}`,
    );
    this.check(
      assigned.instanceId === task.instanceId,
      () => `task ${label} assigned as instance ${assigned.instanceId}, not ${task.instanceId}`,
    );
    const entry = submit!.entries?.[task.index] ?? null;
    this.check(assigned.entry === entry, () => `task ${label} got entry ${assigned.entry}`);
    for (const need of submit!.needs) {
      this.check(
        amountOn(worker, need) !== null,
        () => `task ${label} needing ${need.name} assigned to worker ${workerId} that lacks it`,
      );
    }
    const tr = submit!.timeRequestMs;
    this.check(
      tr === 0 || worker.endMs === null || this.nowMs + tr <= worker.endMs,
      () => `task ${label} with time request ${tr} assigned to a worker ending at ${worker.endMs}`,
    );
    task.workerId = workerId;
    task.arrival = this.#arrival++;
    worker.held.set(keyOf(task), task);
    this.#setState(task, "assigned");
    this.stats.assigned++;
    return task;
  }

  /** Amounts held by the worker's assigned and running tasks (or not prefilled), by resource. */
  #usedOn(worker: ModelWorker, nowOnly = false): Map<string, number> {
    const used = new Map<string, number>();
    for (const task of worker.held.values()) {
      if (nowOnly && task.prefilled) continue;
      for (const need of task.submit.needs) {
        used.set(need.name, (used.get(need.name) ?? 0) + amountOn(worker, need)!);
      }
    }
    return used;
  }

  #setState(task: ModelTask, state: ModelState): void {
    const previous = task.state;
    if (FINAL.has(previous)) this.fail(`task ${keyOf(task)} left final state ${previous}`);
    const submit = task.submit;
    const job = submit.job;
    job.counts[VIEW[previous]]--;
    job.counts[VIEW[state]]++;
    if (previous === "waiting") submit.waiting--;
    if (state === "waiting") submit.waiting++;
    if (submit.waiting > 0) this.waitingSubmits.add(submit);
    else this.waitingSubmits.delete(submit);
    if (previous === "running") this.running.delete(task);
    if (state === "running") this.running.add(task);
    if (previous === "assigned") this.assigned.delete(task);
    if (state === "assigned") this.assigned.add(task);
    if ((FINAL.has(state) || state === "waiting") && task.workerId !== null) {
      const worker = this.workers.get(task.workerId)!;
      worker.held.delete(keyOf(task));
      worker.retracts.delete(keyOf(task));
      task.workerId = null;
    }
    task.state = state;
    this.#touched.add(task);
    if (job.counts.waiting + job.counts.running === 0) this.activeJobs.delete(job);
    else this.activeJobs.add(job);
  }

  /** A task ends: finished or failed; too many failures abort the rest of its job. */
  #endTask(task: ModelTask, state: "finished" | "failed"): void {
    this.#setState(task, state);
    const job = task.submit.job;
    if (state === "failed" && job.maxFails !== null && job.counts.failed > job.maxFails) {
      this.#stopJob(job, "aborted");
    }
  }

  /** Cancel or abort: every waiting, assigned and running task; the workers must be told. */
  #stopJob(job: ModelJob, state: "canceled" | "aborted"): void {
    for (const submit of job.submits) {
      for (const task of submit.tasks) {
        if (task.state === "assigned" || task.state === "running") {
          this.#expectedCancels.add(cancelKey(task.workerId!, refOf(task)));
          if (task.state === "running") this.workers.get(task.workerId!)!.phantomRunning++;
          this.#setState(task, state);
        } else if (task.state === "waiting") {
          this.#setState(task, state);
        }
      }
    }
  }

  /** The worker is gone: its tasks go back to waiting as a new instance, or fail (crash limit). */
  #loseWorker(worker: ModelWorker, reason: WorkerLostReason): void {
    worker.live = false;
    worker.retracts.clear();
    worker.phantomRunning = 0;
    this.stats.lost++;
    for (const [key, task] of [...worker.held]) {
      if (!worker.held.has(key)) continue; // aborted along the way by its job's max-fails
      const wasRunning = task.state === "running";
      this.staleReports.push([worker.id, refOf(task)]);
      task.instanceId++;
      worker.held.delete(key);
      const limit = task.submit.crashLimit;
      let failed = false;
      if (wasRunning && limit === "never-restart") failed = true;
      else if (wasRunning && LOSS_COUNTS_AS_CRASH.has(reason) && typeof limit === "number") {
        task.crashes++;
        failed = task.crashes >= limit;
      }
      // Like the core: back to waiting first, then failed.
      this.#setState(task, "waiting");
      if (failed) this.#endTask(task, "failed");
    }
  }

  // --- checks -----------------------------------------------------------------------------------

  #checkAfterEvent(event: CoreEvent, waitingBefore: readonly ModelSubmit[]): void {
    for (const task of this.#touched) this.#compareTask(task);
    for (const job of this.activeJobs) this.#compareCounts(job);
    for (const task of this.#touched) this.#compareCounts(task.submit.job);
    for (const worker of this.workers.values()) {
      if (worker.live) this.#checkCapacity(worker);
    }
    if (event.type === "schedule") {
      this.#checkNoIdleFit(waitingBefore);
      this.#checkNoInversion();
      this.#checkFillBeforePrefill(waitingBefore);
    }
    if (this.#eventCount % FULL_CHECK_EVERY === 0) this.checkEverything();
  }

  /** (c) The core's view of one task matches the model. */
  #compareTask(task: ModelTask): void {
    const job = this.core.jobs.get(task.submit.job.id);
    this.check(job, () => `job ${task.submit.job.id} missing from the core`);
    const view = job.submits[task.submit.index].taskView(task.index);
    const label = `task ${task.submit.job.id}@${task.taskId}`;
    this.check(view.id === task.taskId, () => `${label}: core has id ${view.id} at its index`);
    this.check(
      view.state === VIEW[task.state],
      () => `${label}: core says ${view.state}, model ${task.state}`,
    );
    this.check(
      view.instanceId === task.instanceId,
      () => `${label}: core instance ${view.instanceId}, model ${task.instanceId}`,
    );
    if (task.state === "running") {
      this.check(
        view.workerId === task.workerId,
        () => `${label}: running on ${view.workerId} in the core, ${task.workerId} in the model`,
      );
    }
  }

  /** (d) Counters sum to the task count and equal the model's. */
  #compareCounts(model: ModelJob): void {
    const summary = this.core.jobs.get(model.id)!.summary();
    const counts = summary.counts;
    const sum = Object.values(counts).reduce((total, n) => total + n, 0);
    this.check(
      sum === summary.taskCount && summary.taskCount === model.taskCount,
      () =>
        `job ${model.id}: counts ${JSON.stringify(counts)} sum to ${sum}, ` +
        `taskCount ${summary.taskCount}, model ${model.taskCount}`,
    );
    for (const state of Object.keys(counts) as TaskState[]) {
      this.check(
        counts[state] === model.counts[state],
        () =>
          `job ${model.id}: core counts ${JSON.stringify(counts)}, ` +
          `model ${JSON.stringify(model.counts)}`,
      );
    }
    const completed = model.counts.waiting + model.counts.running === 0;
    const record = this.core.jobs.get(model.id)!;
    this.check(
      record.isCompleted === completed && (record.completedMs !== null) === completed,
      () =>
        `job ${model.id}: core completed ${record.isCompleted}/${record.completedMs}, ` +
        `model ${completed}`,
    );
  }

  /** (a) At most 2x assigned + running, at most 1x running; the core's books agree. */
  #checkCapacity(worker: ModelWorker): void {
    const held = new Map<string, number>();
    const running = new Map<string, number>();
    let runningCount = 0;
    for (const task of worker.held.values()) {
      for (const need of task.submit.needs) {
        const amount = amountOn(worker, need) ?? Infinity;
        held.set(need.name, (held.get(need.name) ?? 0) + amount);
        if (task.state === "running") {
          running.set(need.name, (running.get(need.name) ?? 0) + amount);
        }
      }
      if (task.state === "running") runningCount++;
    }
    for (const [name, amount] of held) {
      const total = worker.totals.get(name) ?? 0;
      this.check(
        amount <= prefillOf(worker) * total,
        () =>
          `worker ${worker.id} holds ${amount} of ${name} (total ${total}), more than ` +
          `${prefillOf(worker)}x`,
      );
      this.check(
        (running.get(name) ?? 0) <= total,
        () => `worker ${worker.id} runs ${running.get(name)} of ${name} (total ${total})`,
      );
    }
    const record = this.core.workers.get(worker.id)!;
    const runningAgrees = record.runningTasks ===
      runningCount + (KNOWN_BUGS.runningCountAfterCancel ? worker.phantomRunning : 0);
    this.check(
      record.placements.size === worker.held.size && runningAgrees,
      () =>
        `worker ${worker.id}: core holds ${record.placements.size} tasks ` +
        `(${record.runningTasks} running), model ${worker.held.size} (${runningCount})`,
    );
    this.check(this.core.isRunning(worker.id), () => `worker ${worker.id} not running in core`);
  }

  /**
   * (b) and (b'): after a round, a waiting task that fits a worker needs a higher-priority excuse.
   * (b), 1x: the excuse must still be waiting after the round. (b'), 2x (prefill room): the core
   * decides per worker, in one pass over the workers, so a submit that was waiting when the round
   * began and is placed on a later worker still excuses an earlier one; the stricter form is
   * only counted (`stats.stalePrefillBlocks`), as the next round fills that room.
   */
  #checkNoIdleFit(waitingBefore: readonly ModelSubmit[]): void {
    if (this.waitingSubmits.size === 0) return;
    for (const worker of this.workers.values()) {
      if (!worker.live || worker.stopReason !== null) continue;
      const used = new Map<string, number>();
      for (const task of worker.held.values()) {
        for (const need of task.submit.needs) {
          used.set(need.name, (used.get(need.name) ?? 0) + amountOn(worker, need)!);
        }
      }
      // The highest priority among submits capable of this worker: the only excuse.
      const excuseAfter = this.#highestCapable(worker, this.waitingSubmits, used);
      const excuseBefore = this.#highestCapable(worker, waitingBefore, used);
      for (const submit of this.waitingSubmits) {
        if (submit.priority < excuseAfter) continue;
        const at1x = this.#fits(worker, submit, used, 1);
        if (!at1x && !this.#fits(worker, submit, used, prefillOf(worker))) continue;
        const cpus = used.get("cpus") ?? 0;
        const cpuTotal = worker.totals.get("cpus")!;
        if (
          KNOWN_BUGS.cpulessSkipped && !submit.needs.some((need) => need.name === "cpus") &&
          cpus >= (at1x ? cpuTotal : prefillOf(worker) * cpuTotal)
        ) {
          this.stats.cpulessSkips++;
          continue;
        }
        const describe = (factor: number) =>
          `job ${submit.job.id} (submit ${submit.index}, priority ${submit.priority}, needs ` +
          `${describeNeeds(submit.needs)}, ${submit.waiting} waiting) fits worker ${worker.id} ` +
          `at ${factor}x (totals ${describeAmounts(worker.totals)}, used ${
            describeAmounts(used)
          }) and no higher priority capable task waits`;
        const excused = submit.priority < excuseBefore;
        this.check(!at1x || (KNOWN_BUGS.staleBlockInRound && excused), () => `(b) ${describe(1)}`);
        this.check(
          excused,
          () => `(b${at1x ? "" : "'"}) ${describe(at1x ? 1 : prefillOf(worker))} (nor did before)`,
        );
        if (at1x) this.stats.staleIdleBlocks++;
        else this.stats.stalePrefillBlocks++;
      }
    }
  }

  /**
   * (f) Fill before prefill: a task this round queued beyond its worker's 1x must not fit the
   * free (1x) resources of another eligible worker, unless a higher priority capable of that
   * worker waited when the round began (the first pass, over every worker, comes first).
   */
  #checkFillBeforePrefill(waitingBefore: readonly ModelSubmit[]): void {
    if (this.#prefilled.length === 0) return;
    const seen = new Set<string>();
    const usedOf = new Map<ModelWorker, Map<string, number>>();
    for (const [prefilledOn, submit] of this.#prefilled) {
      const pair = `${prefilledOn.id}/${submit.job.id}/${submit.index}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      for (const worker of this.workers.values()) {
        if (worker === prefilledOn || !worker.live || worker.stopReason !== null) continue;
        let used = usedOf.get(worker);
        if (!used) usedOf.set(worker, used = this.#usedOn(worker, true));
        if (!this.#fits(worker, submit, used, 1)) continue;
        // The first pass also keeps all a worker holds within its prefill factor.
        if (!this.#fits(worker, submit, this.#usedOn(worker), prefillOf(worker))) continue;
        if (
          KNOWN_BUGS.cpulessSkipped && !submit.needs.some((need) => need.name === "cpus") &&
          (used.get("cpus") ?? 0) >= worker.totals.get("cpus")!
        ) continue;
        const excuse = this.#highestCapable(worker, waitingBefore, used);
        this.check(
          submit.priority < excuse,
          () =>
            `(f) job ${submit.job.id} (priority ${submit.priority}, needs ` +
            `${describeNeeds(submit.needs)}) prefilled on worker ${prefilledOn.id} while worker ` +
            `${worker.id} has room for it now (totals ${describeAmounts(worker.totals)}, used ` +
            `${describeAmounts(used)})`,
        );
      }
    }
  }

  /** (e) Nothing placed in this round while a capable higher priority still waits. */
  #checkNoInversion(): void {
    const highest = new Map<ModelWorker, number>();
    for (const task of this.#touched) {
      if (task.state !== "assigned") continue;
      const worker = this.workers.get(task.workerId!)!;
      let excuse = highest.get(worker);
      if (excuse === undefined) {
        excuse = this.#highestCapable(worker, this.waitingSubmits, new Map());
        highest.set(worker, excuse);
      }
      this.check(
        task.submit.priority >= excuse,
        () =>
          `(e) task ${keyOf(task)} (priority ${task.submit.priority}) placed on worker ` +
          `${worker.id} while a capable task of priority ${excuse} still waits`,
      );
    }
  }

  #highestCapable(
    worker: ModelWorker,
    submits: Iterable<ModelSubmit>,
    used: Map<string, number>,
  ): number {
    let highest = -Infinity;
    for (const submit of submits) {
      if (submit.priority > highest && this.#fits(worker, submit, used, Infinity)) {
        highest = submit.priority;
      }
    }
    return highest;
  }

  /**
   * Whether one more task of the submit fits the worker with its resources counted `factor`
   * times; `Infinity` asks only whether the worker is capable at all (spec §4.1).
   */
  #fits(worker: ModelWorker, submit: ModelSubmit, used: Map<string, number>, factor: number) {
    const tr = submit.timeRequestMs;
    if (tr > 0 && worker.endMs !== null && this.nowMs + tr > worker.endMs) return false;
    for (const need of submit.needs) {
      const amount = amountOn(worker, need);
      if (amount === null) return false;
      const total = worker.totals.get(need.name)!;
      if (factor !== Infinity && (used.get(need.name) ?? 0) + amount > total * factor) {
        return false;
      }
    }
    return true;
  }

  /** Every task of every job (forgotten ones aside) against the core. */
  checkEverything(): void {
    for (const job of this.jobs.values()) {
      this.#compareCounts(job);
      for (const submit of job.submits) {
        for (const task of submit.tasks) this.#compareTask(task);
      }
    }
  }

  // --- random events ----------------------------------------------------------------------------

  liveWorkers(): ModelWorker[] {
    return [...this.workers.values()].filter((worker) => worker.live);
  }

  randomStep(): void {
    this.nowMs += this.rng.int(0, 20);
    this.#expireWorkers();
    const live = this.liveWorkers();
    const choices: Array<[number, () => void]> = [
      [live.length === 0 ? 30 : live.length < MAX_LIVE_WORKERS ? 3 : 0, () => this.joinWorker()],
      [1.2, () => this.#loseRandomWorker(live)],
      [0.6, () => this.#stopRandomWorker(live)],
      [0.2, () => this.#silenceRandomWorker(live)],
      [1.5, () => this.#closeStoppingWorker(live)],
      [this.activeJobs.size < MAX_ACTIVE_JOBS ? 5 : 0.5, () => this.submitRandomJob()],
      [12, () => this.#startOnRandomWorker(live)],
      [20, () => this.#finishRandomTask("finished")],
      [3, () => this.#finishRandomTask("failed")],
      [0.7, () => this.#failRandomAssignedTask()],
      [1, () => this.#cancelRandomJob()],
      [14, () => this.schedule()],
      [6, () => this.tick(this.rng.int(100, 3_000))],
      [3, () => this.#sendNoise(live)],
      [4, () => this.#answerRandomRetracts(live)],
    ];
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let r = this.rng.next() * total;
    for (const [weight, action] of choices) {
      r -= weight;
      if (r < 0) return action();
    }
  }

  joinWorker(configuration?: WorkerConfiguration): ModelWorker {
    const id = this.#nextWorkerId++;
    configuration ??= randomWorkerConfiguration(this.rng);
    const totals = new Map<string, number>();
    for (const item of configuration.resources.resources) totals.set(item.name, sizeOf(item));
    const worker: ModelWorker = {
      id,
      totals,
      endMs: configuration.timeLimitMs === null ? null : this.nowMs + configuration.timeLimitMs,
      idleTimeoutMs: configuration.idleTimeoutMs,
      live: true,
      stopReason: null,
      silent: false,
      held: new Map(),
      retracts: new Map(),
      phantomRunning: 0,
    };
    this.workers.set(id, worker);
    this.send({ type: "worker-joined", workerId: id, configuration });
    return worker;
  }

  /** Workers past their time limit report it (and then close, see `#closeStoppingWorker`). */
  #expireWorkers(): void {
    for (const worker of this.workers.values()) {
      if (
        worker.live && !worker.silent && worker.endMs !== null && worker.endMs <= this.nowMs &&
        worker.stopReason === null
      ) {
        this.send({ type: "worker-time-limit-reached", workerId: worker.id }, () => {
          worker.stopReason = "time-limit-reached";
        });
      }
    }
  }

  loseWorker(worker: ModelWorker): void {
    this.send({ type: "worker-connection-closed", workerId: worker.id }, () => {
      this.#loseWorker(worker, worker.stopReason ?? "connection-lost");
    });
  }

  #loseRandomWorker(live: ModelWorker[]): void {
    if (live.length > 0) this.loseWorker(this.rng.pick(live));
  }

  #stopRandomWorker(live: ModelWorker[]): void {
    if (live.length === 0) return;
    const worker = this.rng.pick(live);
    const first = worker.stopReason === null;
    const commands = this.send({ type: "worker-stop-requested", workerId: worker.id }, () => {
      worker.stopReason ??= "stopped";
    });
    // Told to stop once; a worker already stopping (for any reason) keeps its reason.
    this.check(
      describeCommands(commands) === (first ? `stop-worker w${worker.id}` : ""),
      () => `stop request answered with [${describeCommands(commands)}]`,
    );
  }

  #silenceRandomWorker(live: ModelWorker[]): void {
    if (live.length > 0) this.rng.pick(live).silent = true;
  }

  #closeStoppingWorker(live: ModelWorker[]): void {
    const stopping = live.filter((worker) => worker.stopReason !== null && !worker.silent);
    if (stopping.length > 0) this.loseWorker(this.rng.pick(stopping));
  }

  submitRandomJob(): void {
    const rng = this.rng;
    const id = this.#nextJobId++;
    const count = rng.int(1, 50);
    const first = rng.int(0, 3);
    const step = rng.chance(0.2) ? 2 : 1;
    const resources = randomRequest(rng);
    const crashLimit = rng.pick<CrashLimit>([1, 2, 3, 5, "never-restart", "unlimited"]);
    const template = testTaskTemplate("/tmp", {
      resources,
      priority: rng.int(-2, 2),
      timeRequestMs: rng.chance(0.15) ? rng.int(5, 120) * 1_000 : 0,
      crashLimit,
    });
    const entries = rng.chance(0.1) ? Array.from({ length: count }, (_, i) => `entry-${i}`) : null;
    const maxFails = rng.chance(0.3) ? rng.int(0, 3) : null;
    const job: ModelJob = {
      id,
      maxFails,
      taskCount: count,
      submits: [],
      counts: { waiting: count, running: 0, finished: 0, failed: 0, canceled: 0, aborted: 0 },
    };
    const submit: ModelSubmit = {
      job,
      index: 0,
      needs: resources.map((entry) => ({
        name: entry.name,
        amount: entry.amount,
        all: entry.policy === "all",
      })),
      priority: template.priority,
      timeRequestMs: template.timeRequestMs,
      crashLimit,
      entries,
      tasks: [],
      waiting: count,
    };
    for (let index = 0; index < count; index++) {
      submit.tasks.push({
        submit,
        index,
        taskId: first + index * step,
        state: "waiting",
        workerId: null,
        instanceId: 0,
        crashes: 0,
        arrival: 0,
      });
    }
    job.submits.push(submit);
    this.send({
      type: "job-created",
      jobId: id,
      name: `job-${id}`,
      maxFails,
      isOpen: false,
      submit: { template, ids: [[first, first + (count - 1) * step, step]], entries },
    }, () => {
      this.jobs.set(id, job);
      this.activeJobs.add(job);
      this.waitingSubmits.add(submit);
    });
  }

  /** The worker starts, in its queue order, every assigned task its free amounts allow. */
  startTasks(worker: ModelWorker): number {
    const free = new Map(worker.totals);
    const queue: ModelTask[] = [];
    for (const task of worker.held.values()) {
      if (task.state === "running") {
        for (const need of task.submit.needs) {
          free.set(need.name, free.get(need.name)! - amountOn(worker, need)!);
        }
      } else queue.push(task);
    }
    queue.sort((a, b) => b.submit.priority - a.submit.priority || a.arrival - b.arrival);
    let blockedBelow = -Infinity;
    let started = 0;
    for (const task of queue) {
      if (task.submit.priority < blockedBelow) break;
      const fits = task.submit.needs.every((need) => {
        const total = worker.totals.get(need.name)!;
        // `all` starts only on a completely free pool.
        return need.all ? free.get(need.name) === total : free.get(need.name)! >= need.amount;
      });
      if (!fits) {
        blockedBelow = task.submit.priority;
        continue;
      }
      for (const need of task.submit.needs) {
        free.set(need.name, free.get(need.name)! - amountOn(worker, need)!);
      }
      this.send({ type: "task-started", workerId: worker.id, task: refOf(task) }, () => {
        this.#setState(task, "running");
        task.prefilled = false;
      });
      started++;
    }
    return started;
  }

  #startOnRandomWorker(live: ModelWorker[]): void {
    const withQueue = live.filter((worker) => worker.held.size > 0);
    if (withQueue.length > 0) this.startTasks(this.rng.pick(withQueue));
  }

  finishTask(task: ModelTask, state: "finished" | "failed"): void {
    const workerId = task.workerId!;
    const ref = refOf(task);
    this.staleReports.push([workerId, ref]);
    const event: CoreEvent = state === "finished"
      ? { type: "task-finished", workerId, task: ref }
      : { type: "task-failed", workerId, task: ref, error: "exit code 1", started: true };
    this.send(event, () => this.#endTask(task, state));
    if (state === "finished") this.stats.finished++;
  }

  #finishRandomTask(state: "finished" | "failed"): void {
    const task = this.running.pick(this.rng);
    if (task) this.finishTask(task, state);
  }

  /** A task fails while the worker prepares it (`started: false`). */
  #failRandomAssignedTask(): void {
    const task = this.assigned.pick(this.rng);
    if (!task) return;
    const workerId = task.workerId!;
    this.send({
      type: "task-failed",
      workerId,
      task: refOf(task),
      error: "cannot create the task directory",
      started: false,
    }, () => this.#endTask(task, "failed"));
  }

  /**
   * The worker gives back the asked tasks it has not started. Like the real worker, it handled
   * every earlier message first, and it starts whatever fits as soon as it is assigned or a task
   * ends: so it starts what it can before answering. Sometimes its answer also names a started
   * task, which the core must ignore.
   */
  answerRetracts(worker: ModelWorker): void {
    this.startTasks(worker);
    const given: ModelTask[] = [];
    const refs: TaskRef[] = [];
    for (const [key, ref] of worker.retracts) {
      const task = worker.held.get(key)!;
      if (task.state === "assigned") {
        given.push(task);
        refs.push(ref);
      } else if (this.rng.chance(0.2)) refs.push(ref);
    }
    worker.retracts.clear();
    if (refs.length === 0) return;
    this.send({ type: "tasks-retracted", workerId: worker.id, tasks: refs }, () => {
      for (const task of given) this.#setState(task, "waiting");
    });
    this.stats.retracted += given.length;
  }

  #answerRandomRetracts(live: ModelWorker[]): void {
    const asked = live.filter((worker) => worker.retracts.size > 0);
    if (asked.length > 0) this.answerRetracts(this.rng.pick(asked));
  }

  #cancelRandomJob(): void {
    const jobs = this.activeJobs.size > 0 && this.rng.chance(0.9)
      ? [...this.activeJobs]
      : [...this.jobs.values()];
    if (jobs.length === 0) return;
    const job = this.rng.pick(jobs);
    this.send({ type: "job-canceled", jobId: job.id, reason: null }, () => {
      this.#stopJob(job, "canceled");
    });
    this.stats.canceled++;
  }

  schedule(): CoreCommand[] {
    this.stats.schedules++;
    return this.send({ type: "schedule" });
  }

  tick(ms: number): void {
    this.nowMs += ms;
    for (const worker of this.workers.values()) {
      if (!worker.live || worker.silent) continue;
      this.core.handle({ type: "worker-heartbeat", workerId: worker.id }, this.nowMs);
    }
    this.#expireWorkers();
    this.send({ type: "tick" });
  }

  /** Reports the core must ignore: duplicates, stale instances, wrong or unknown workers/jobs. */
  #sendNoise(live: ModelWorker[]): void {
    const rng = this.rng;
    const kind = rng.int(0, 4);
    if (kind === 0 && this.staleReports.length > 0) {
      const [workerId, ref] = rng.pick(this.staleReports);
      // Still a valid report only if that exact instance is still on that worker.
      const job = this.jobs.get(ref.jobId)!;
      const task = job.submits[0].tasks.find((candidate) => candidate.taskId === ref.taskId)!;
      if (task.workerId === workerId && task.instanceId === ref.instanceId) return;
      const event: CoreEvent = rng.chance(0.5)
        ? { type: "task-finished", workerId, task: ref }
        : rng.chance(0.5)
        ? { type: "task-started", workerId, task: ref }
        : { type: "task-failed", workerId, task: ref, error: "stale", started: true };
      this.send(event);
    } else if (kind === 1) {
      const task = this.running.pick(rng);
      // Started twice.
      if (task) this.send({ type: "task-started", workerId: task.workerId!, task: refOf(task) });
    } else if (kind === 2 && live.length > 1) {
      // Reported by a worker that does not hold it.
      const task = this.running.pick(rng) ?? this.assigned.pick(rng);
      const other = live.find((worker) => worker.id !== task?.workerId);
      if (task && other) {
        this.send({ type: "task-finished", workerId: other.id, task: refOf(task) });
      }
    } else if (kind === 3) {
      const task = this.running.pick(rng);
      const ref = task ? { ...refOf(task), instanceId: task.instanceId + 1 } : null;
      // An instance the core never made.
      if (task && ref) this.send({ type: "task-finished", workerId: task.workerId!, task: ref });
    } else {
      this.send({ type: "task-finished", workerId: 999_999, task: refOf0(1, 0) });
      this.send({ type: "job-canceled", jobId: 999_999, reason: null });
    }
  }

  // --- drain ------------------------------------------------------------------------------------

  /**
   * Ends the run: stopping, silent and expiring workers go, a worker that can run any request
   * joins, and rounds of schedule → start → finish everything run until every job completes.
   */
  drain(): void {
    for (const worker of this.liveWorkers()) {
      if (worker.silent || worker.stopReason !== null || worker.endMs !== null) {
        this.loseWorker(worker);
      }
    }
    this.joinWorker(testWorkerConfiguration(16, {
      resources: {
        resources: [
          { name: "cpus", kind: "range", start: 0, end: 15 },
          { name: "gpus", kind: "list", values: ["0", "1", "2", "3"] },
          { name: "mem", kind: "sum", size: 64 * 1024 * UNIT },
        ],
        coupling: { weights: [] },
      },
    }));
    for (let round = 0; this.activeJobs.size > 0; round++) {
      this.check(round < 100_000, () => `drain did not end`);
      let progress = 0;
      for (const command of this.schedule()) {
        if (command.type === "assign-tasks") progress += command.tasks.length;
      }
      for (const worker of this.liveWorkers()) {
        progress += this.startTasks(worker);
        this.answerRetracts(worker);
      }
      while (this.running.size > 0) {
        this.finishTask(this.running.pick(this.rng)!, "finished");
        progress++;
      }
      this.check(progress > 0, () => {
        const waiting = [...this.waitingSubmits].map((submit) =>
          `job ${submit.job.id} (priority ${submit.priority}, ${describeNeeds(submit.needs)}, ` +
          `time request ${submit.timeRequestMs})`
        );
        return `drain stuck: nothing assigned, started or finished; waiting: ${waiting.join("; ")}`;
      });
    }
    this.checkEverything();
    // (c) Every task in exactly one final state, every job completed.
    for (const job of this.jobs.values()) {
      const record = this.core.jobs.get(job.id)!;
      this.check(record.isCompleted, () => `job ${job.id} not completed after the drain`);
      for (const submit of job.submits) {
        for (const task of submit.tasks) {
          this.check(FINAL.has(task.state), () => `task ${keyOf(task)} ends ${task.state}`);
        }
      }
    }
  }
}

function refOf0(jobId: number, taskId: number): TaskRef {
  return { jobId, taskId, instanceId: 0 };
}

function sizeOf(item: ResourceDescriptorItem): number {
  switch (item.kind) {
    case "list":
      return item.values.length * UNIT;
    case "groups":
      return item.groups.flat().length * UNIT;
    case "range":
      return (item.end - item.start + 1) * UNIT;
    case "sum":
      return item.size;
  }
}

function randomWorkerConfiguration(rng: Rng): WorkerConfiguration {
  const cpus = rng.int(1, 16);
  const resources: ResourceDescriptorItem[] = [
    { name: "cpus", kind: "range", start: 0, end: cpus - 1 },
  ];
  if (rng.chance(0.35)) {
    const count = rng.int(1, 4);
    resources.push({
      name: "gpus",
      kind: "list",
      values: Array.from({ length: count }, (_, i) => String(i)),
    });
  }
  if (rng.chance(0.35)) {
    resources.push({ name: "mem", kind: "sum", size: rng.int(1, 32) * 1024 * UNIT });
  }
  return testWorkerConfiguration(cpus, {
    timeLimitMs: rng.chance(0.2) ? rng.int(30, 300) * 1_000 : null,
    idleTimeoutMs: rng.chance(0.1) ? rng.int(5, 30) * 1_000 : null,
    resources: { resources, coupling: { weights: [] } },
  });
}

/**
 * Whole CPUs 1–4, fractions, `all`; sometimes GPUs (1, 0.5, 2, `all`) and memory (MiB). With
 * a few requests ask for no CPUs at all (job files may, spec §3.1).
 */
function randomRequest(rng: Rng): ResourceRequestEntry[] {
  const entries: ResourceRequestEntry[] = [];
  const c = rng.next();
  if (c < 0.6) entries.push({ name: "cpus", amount: rng.int(1, 4) * UNIT, policy: "compact" });
  else if (c < 0.8) {
    entries.push({
      name: "cpus",
      amount: rng.pick([2_500, 5_000, 7_500, 15_000]),
      policy: "compact",
    });
  } else if (c < 0.85) entries.push({ name: "cpus", amount: 0, policy: "all" });
  else if (c < 0.93) {
    entries.push({
      name: "cpus",
      amount: rng.int(1, 3) * UNIT,
      policy: rng.pick(["scatter", "tight", "compact!"] as const),
    });
  }
  const g = rng.next();
  if (g < 0.2) {
    entries.push({ name: "gpus", amount: rng.pick([UNIT, 5_000, 2 * UNIT]), policy: "compact" });
  } else if (g < 0.24) entries.push({ name: "gpus", amount: 0, policy: "all" });
  const m = rng.next();
  if (m < 0.2) {
    entries.push({ name: "mem", amount: rng.int(1, 16) * 512 * UNIT, policy: "compact" });
  } else if (m < 0.22) entries.push({ name: "mem", amount: 0, policy: "all" });
  if (entries.length === 0) entries.push({ name: "cpus", amount: UNIT, policy: "compact" });
  return entries;
}

function describeNeeds(needs: readonly Need[]): string {
  return needs.map((need) => `${need.name}=${need.all ? "all" : need.amount / UNIT}`).join(",");
}

function describeAmounts(amounts: ReadonlyMap<string, number>): string {
  return [...amounts].map(([name, amount]) => `${name}=${amount / UNIT}`).join(",") || "-";
}

function describeEvent(event: CoreEvent): string {
  switch (event.type) {
    case "worker-joined": {
      const c = event.configuration;
      const pools = c.resources.resources.map((item) => `${item.name}=${sizeOf(item) / UNIT}`);
      return `worker-joined ${event.workerId} [${pools.join(",")}] limit=${c.timeLimitMs} ` +
        `idle=${c.idleTimeoutMs}`;
    }
    case "job-created": {
      const t = event.submit!.template;
      const needs = t.resources.map((e) =>
        `${e.name}=${e.policy === "all" ? "all" : e.amount / UNIT}`
      );
      return `job-created ${event.jobId} ids=${JSON.stringify(event.submit!.ids)} ` +
        `[${needs.join(",")}] prio=${t.priority} tr=${t.timeRequestMs} crash=${t.crashLimit} ` +
        `maxFails=${event.maxFails}`;
    }
    case "task-started":
    case "task-finished":
    case "task-failed":
      return `${event.type} w${event.workerId} ${event.task.jobId}@${event.task.taskId}` +
        `#${event.task.instanceId}`;
    default:
      return JSON.stringify(event);
  }
}

function describeCommands(commands: readonly CoreCommand[]): string {
  return commands.map((command) => {
    switch (command.type) {
      case "assign-tasks":
      case "cancel-tasks":
        return `${command.type} w${command.workerId} ` +
          command.tasks.map((t) => `${t.jobId}@${t.taskId}#${t.instanceId}`).join(",");
      default:
        return `${command.type} w${command.workerId}`;
    }
  }).join("; ");
}

function seedsFromEnv(): number[] | null {
  const text = Deno.env.get("HQ_PROPERTY_SEEDS");
  if (!text) return null;
  const [first, last] = text.split("-").map(Number);
  return Array.from({ length: (last ?? first) - first + 1 }, (_, i) => first + i);
}

function runSeed(seed: number, events = EVENTS_PER_SEED, prefillCpuSlots = 0): Simulation {
  const sim = new Simulation(seed, prefillCpuSlots);
  for (let i = 0; i < events; i++) sim.randomStep();
  sim.checkEverything();
  sim.drain();
  return sim;
}

// -------------------------------------------------------------------------------------------------
// Tests

Deno.test("SchedulerCore property: random workers, jobs and reports keep every invariant", () => {
  const verbose = seedsFromEnv() !== null;
  for (const seed of SEEDS) {
    const sim = runSeed(seed);
    if (verbose) console.log(`seed ${seed}: ${JSON.stringify(sim.stats)}`);
    assert.ok(sim.stats.assigned > 1_000, `seed ${seed} assigned only ${sim.stats.assigned}`);
    assert.ok(sim.stats.lost > 0 && sim.stats.canceled > 0, `seed ${seed}: ${sim.stats}`);
  }
});

Deno.test("SchedulerCore property, as the server runs it (deep prefill for small workers)", () => {
  for (const seed of SEEDS.slice(0, 4)) {
    const sim = runSeed(seed, EVENTS_PER_SEED, SERVER_PREFILL_CPU_SLOTS);
    assert.ok(sim.stats.assigned > 1_000, `seed ${seed} assigned only ${sim.stats.assigned}`);
  }
});

// -------------------------------------------------------------------------------------------------
// Minimal repros of the core bugs the property test found (see KNOWN_BUGS). Ignored while the bug
// is open: un-ignore each (and set its KNOWN_BUGS entry to false) once it is fixed.

function bareCore(...workers: Array<[number, WorkerConfiguration]>): SchedulerCore {
  const core = new SchedulerCore();
  for (const [workerId, configuration] of workers) {
    core.handle({ type: "worker-joined", workerId, configuration }, 1);
  }
  return core;
}

function workerWith(cpus: number, gpus: number): WorkerConfiguration {
  return testWorkerConfiguration(cpus, {
    resources: {
      resources: [
        { name: "cpus", kind: "range", start: 0, end: cpus - 1 },
        { name: "gpus", kind: "list", values: Array.from({ length: gpus }, (_, i) => String(i)) },
      ],
      coupling: { weights: [] },
    },
  });
}

function jobOf(
  jobId: number,
  count: number,
  resources: ResourceRequestEntry[],
  priority = 0,
): CoreEvent {
  return {
    type: "job-created",
    jobId,
    name: "job",
    maxFails: null,
    isOpen: false,
    submit: {
      template: testTaskTemplate("/tmp", { resources, priority }),
      ids: [[0, count - 1, 1]],
      entries: null,
    },
  };
}

const cpusRq = (cpus: number): ResourceRequestEntry => ({
  name: "cpus",
  amount: cpus * UNIT,
  policy: "compact",
});
const gpusRq = (gpus: number): ResourceRequestEntry => ({
  name: "gpus",
  amount: gpus * UNIT,
  policy: "compact",
});

Deno.test({
  name: "SchedulerCore (found at seed 1, event #55): a canceled running task leaves runningTasks",
  ignore: KNOWN_BUGS.runningCountAfterCancel,
  fn() {
    const core = bareCore([1, testWorkerConfiguration(1)]);
    core.handle(jobOf(1, 1, [cpusRq(1)]), 2);
    core.handle({ type: "schedule" }, 3);
    core.handle({ type: "task-started", workerId: 1, task: refOf0(1, 0) }, 4);
    core.handle({ type: "job-canceled", jobId: 1, reason: null }, 5);
    assert.equal(core.workers.get(1)!.placements.size, 0);
    // Else `hq worker info` shows 1 running task, and #rebalance never takes from this worker.
    assert.equal(core.workers.get(1)!.runningTasks, 0);
  },
});

Deno.test({
  name: "SchedulerCore (bench/scheduler_core.ts, scenario B): a one-task job that ran keeps a " +
    "task table sized to it, not a 16,384-task chunk",
  fn() {
    const core = bareCore([1, testWorkerConfiguration(16)]);
    for (let jobId = 1; jobId <= 500; jobId++) core.handle(jobOf(jobId, 1, [cpusRq(1)]), 2);
    const before = Deno.memoryUsage().external;
    for (let round = 0; round < 500 / 32; round++) {
      for (const command of core.handle({ type: "schedule" }, 3)) {
        if (command.type !== "assign-tasks") continue;
        for (const task of command.tasks) {
          const ref = refOf0(task.jobId, task.taskId);
          core.handle({ type: "task-started", workerId: 1, task: ref }, 4);
          core.handle({ type: "task-finished", workerId: 1, task: ref }, 5);
        }
      }
    }
    const grownMb = (Deno.memoryUsage().external - before) / 1e6;
    // 500 jobs × 344 KB = 172 MB before the fix; a table sized to its job needs a few KB.
    assert.ok(grownMb < 20, `500 finished one-task jobs hold ${grownMb.toFixed(0)} MB`);
  },
});

Deno.test({
  name: "SchedulerCore (found at seed 1, event #777): a priority block is decided after the " +
    "blocking submit was placed, so it leaves no free CPUs idle",
  ignore: KNOWN_BUGS.staleBlockInRound,
  fn() {
    const core = bareCore([1, workerWith(4, 1)]);
    const gpuTask = [cpusRq(0.5), gpusRq(1)];
    core.handle(jobOf(1, 2, gpuTask, 1), 2);
    core.handle({ type: "schedule" }, 3); // worker 1: its GPU is taken 2x (one runs, one queued)
    core.handle(jobOf(2, 2, gpuTask, 1), 4); // higher priority, needs a GPU
    core.handle(jobOf(3, 1, [cpusRq(2)]), 5); // fits worker 1 (3 CPUs free)
    core.handle({ type: "worker-joined", workerId: 2, configuration: workerWith(1, 1) }, 6);
    // Job 2 is Busy on worker 1 but goes entirely to worker 2 (prefill), so nothing of higher
    // priority waits for worker 1 any more, and job 3 takes its free CPUs in the same round.
    const round = core.handle({ type: "schedule" }, 7);
    const jobsOn = (workerId: number) =>
      round.flatMap((c) => c.type === "assign-tasks" && c.workerId === workerId ? c.tasks : [])
        .map((task) => task.jobId);
    assert.ok(jobsOn(1).includes(3), JSON.stringify(round));
  },
});

Deno.test({
  name: "SchedulerCore (found at seed 1, event #716 with CPU-less requests): a GPU-only task " +
    "uses free GPUs when the worker's CPUs are taken",
  ignore: KNOWN_BUGS.cpulessSkipped,
  fn() {
    const core = bareCore([1, workerWith(1, 2)]);
    core.handle(jobOf(1, 2, [cpusRq(1)]), 2);
    core.handle({ type: "schedule" }, 3); // one runs, one queued: CPUs at 2x
    core.handle(jobOf(2, 1, [gpusRq(1)]), 4); // a job file's `request` may leave out cpus
    const commands = core.handle({ type: "schedule" }, 5);
    assert.deepEqual(commands.map((c) => [c.type, c.workerId]), [["assign-tasks", 1]]);
  },
});

Deno.test({
  name: "SchedulerCore (drain of seed 4): a round never assigns a task and asks it back at once",
  fn() {
    // Two idle 1-CPU workers, one task: the round assigns it to worker 1 and retracts it in the
    // same breath (the real worker has started it by then: a wasted message; a simulated worker
    // that answers first livelocks the drain).
    const core = bareCore([1, testWorkerConfiguration(1)], [2, testWorkerConfiguration(1)]);
    core.handle(jobOf(1, 1, [cpusRq(1)]), 2);
    assert.deepEqual(core.handle({ type: "schedule" }, 3).map((c) => c.type), ["assign-tasks"]);
  },
});

Deno.test({
  name: "SchedulerCore: with fragmented GPU labels a task is not assigned and retracted forever",
  fn() {
    // Worker 1 has 0.75 of each of its 2 GPUs taken (a fraction never spans labels, so 0.5
    // cannot start there, though the amounts add up); worker 2 is idle with a free GPU. Each
    // round assigns the 0.5-GPU task to worker 1 and retracts it; worker 1 gives it back; again.
    const fragmented = bareCore([1, workerWith(3, 2)]);
    fragmented.handle(jobOf(1, 2, [cpusRq(1), gpusRq(0.75)]), 2);
    fragmented.handle({ type: "schedule" }, 3);
    for (const taskId of [0, 1]) {
      fragmented.handle({ type: "task-started", workerId: 1, task: refOf0(1, taskId) }, 4);
    }
    fragmented.handle({ type: "worker-joined", workerId: 2, configuration: workerWith(1, 1) }, 5);
    fragmented.handle(jobOf(2, 1, [cpusRq(1), gpusRq(0.5)]), 6);
    for (let round = 0; round < 3; round++) {
      const commands = fragmented.handle({ type: "schedule" }, 7 + round);
      assert.notDeepEqual(
        commands.map((c) => [c.type, c.workerId]),
        [["assign-tasks", 1], ["retract-tasks", 1]],
        `round ${round}: assigned to worker 1 and asked back, never placed on worker 2`,
      );
      fragmented.handle({ type: "tasks-retracted", workerId: 1, tasks: [refOf0(2, 0)] }, 8 + round);
    }
  },
});
