/**
 * The automatic allocator's pure core (journal-alloc spec §2.8–§2.11): queues, their allocations
 * and rate limiters, and the decision of how many allocations to submit. No processes, timers or
 * files: the shell (autoalloc_service.ts) passes the time and the waiting tasks in, runs
 * sbatch/qsub, and reports back. What the core decides to record or say comes out of `drain()`.
 */
import type {
  AllocationStatus,
  AllocationView,
  ManagerName,
  QueueDetail,
  QueueParams,
  QueueStallReason,
  QueueView,
} from "../../common/autoalloc.ts";
import type { JournalEvent } from "../../common/journal/journal_events.ts";
import type { WorkerLostReason } from "../../common/protocol.ts";
import type { ResourceDescriptor } from "../../common/resources/resource_descriptor.ts";
import type { ManagerPollResult } from "./allocation_manager.ts";
import { computeDemand, type DemandQueue, type QueueDemand, type WaitingShape } from "./demand.ts";
import { RateLimiter, type RateLimiterOptions } from "./rate_limiter.ts";

/** A worker that lived at most this long before its connection broke "crashed" (§2.8). */
export const CRASH_LIFETIME_MS = 60_000;
/** Status errors that end an allocation unexpectedly, while queued / running (§2.8). */
const MAX_QUEUED_STATUS_ERRORS = 10;
const MAX_RUNNING_STATUS_ERRORS = 20;

/** What the core wants recorded in the journal (journal spec §1.2): the `autoalloc-*` events. */
export type AllocatorJournalEvent = Extract<
  JournalEvent,
  { type: `autoalloc-${string}` }
>;

export type AllocatorOutput =
  | { type: "record"; event: AllocatorJournalEvent }
  | { type: "log"; level: "info" | "warn" | "error"; message: string }
  /** Cancel this allocation (qdel/scancel); failures are only logged. */
  | {
    type: "cancel";
    queueId: number;
    manager: ManagerName;
    allocationId: string;
    workdir: string;
  };

/**
 * A queue rebuilt from the journal (journal spec §1.4), with the allocations it had submitted
 * that had not finished (ours: followed again, so that work they cover is not submitted twice).
 */
export interface RestoredQueueState {
  queueId: number;
  knownResources: ResourceDescriptor | null;
  allocations?: Array<{
    allocationId: string;
    workerCount: number;
    workdir: string;
    queuedMs: number;
    startedMs: number | null;
  }>;
}

export interface ActiveAllocation {
  queueId: number;
  manager: ManagerName;
  allocationId: string;
  workdir: string;
}

/** Allocations one queue should submit now, in order; the first failure ends the list. */
export interface PlannedSubmission {
  queueId: number;
  workerCounts: number[];
}

interface AllocationRecord {
  id: string;
  queueId: number;
  targetWorkerCount: number;
  queuedMs: number;
  startedMs: number | null;
  endedMs: number | null;
  state: "queued" | "running" | "finished";
  failed: boolean;
  unexpected: boolean;
  workdir: string;
  connected: Set<number>;
  disconnected: number;
  crashed: number;
  statusErrors: number;
}

interface QueueRecord {
  id: number;
  params: QueueParams;
  paused: boolean;
  /** Why the limiter paused it (null when active or paused by the user). */
  autoPaused: string | null;
  knownResources: ResourceDescriptor | null;
  allocations: Map<string, AllocationRecord>;
  limiter: RateLimiter;
  nextAttempt: number;
  lastError: { message: string; scriptPath: string | null } | null;
  stall: QueueStallReason | null;
}

export interface AllocatorCoreOptions {
  rateLimiter?: RateLimiterOptions;
  /** A pass runs at least this often even when nothing asked for one. @default {30_000} */
  maxScheduleDelayMs?: number;
}

export class AllocatorCore {
  readonly #queues = new Map<number, QueueRecord>();
  readonly #byWorker = new Map<number, AllocationRecord>();
  #nextQueueId = 1;
  #passRequested = false;
  #lastPassMs: number | null = null;
  #outputs: AllocatorOutput[] = [];
  readonly #options: AllocatorCoreOptions;

  constructor(options: AllocatorCoreOptions = {}) {
    this.#options = options;
  }

  /** What happened since the last call: journal records, log lines, cancels to run. */
  drain(): AllocatorOutput[] {
    const outputs = this.#outputs;
    this.#outputs = [];
    return outputs;
  }

  /** Queue ids continue after those a journal restored (removed queues included). */
  continueQueueIdsFrom(nextQueueId: number): void {
    this.#nextQueueId = Math.max(this.#nextQueueId, nextQueueId);
  }

  get hasActiveQueue(): boolean {
    for (const queue of this.#queues.values()) if (!queue.paused) return true;
    return false;
  }

  /**
   * A new queue (`hq alloc add`), or one restored from the journal with its id and the worker
   * resources last learned for it (restoring records nothing).
   */
  addQueue(params: QueueParams, restored: RestoredQueueState | null = null): number {
    const id = restored?.queueId ?? this.#nextQueueId;
    this.#nextQueueId = Math.max(this.#nextQueueId, id + 1);
    this.#queues.set(id, {
      id,
      params,
      paused: false,
      autoPaused: null,
      knownResources: restored?.knownResources ?? null,
      allocations: new Map(),
      limiter: new RateLimiter(this.#options.rateLimiter),
      nextAttempt: 1,
      lastError: null,
      stall: null,
    });
    if (!restored) this.#record({ type: "autoalloc-queue-created", queueId: id, params });
    const queue = this.#queues.get(id)!;
    for (const allocation of restored?.allocations ?? []) {
      queue.allocations.set(allocation.allocationId, {
        ...newAllocation(id, allocation.allocationId, allocation.workerCount, allocation.workdir),
        queuedMs: allocation.queuedMs,
        startedMs: allocation.startedMs,
        state: allocation.startedMs === null ? "queued" : "running",
      });
    }
    this.#passRequested = true;
    return id;
  }

  /**
   * `hq alloc remove`: refused (an error text) while an allocation runs, unless `force`;
   * otherwise every queued or running allocation is cancelled.
   */
  removeQueue(queueId: number, force: boolean): string | null {
    const queue = this.#queues.get(queueId);
    if (!queue) return "Allocation queue not found";
    const active = [...queue.allocations.values()].filter((a) => a.state !== "finished");
    if (!force && active.some((allocation) => allocation.state === "running")) {
      return "Allocation queue has running jobs, so it will not be removed. Use `--force` if you want to remove the queue anyway";
    }
    for (const allocation of active) {
      this.#outputs.push({
        type: "cancel",
        queueId,
        manager: queue.params.manager,
        allocationId: allocation.id,
        workdir: allocation.workdir,
      });
    }
    for (const allocation of queue.allocations.values()) {
      for (const workerId of allocation.connected) this.#byWorker.delete(workerId);
    }
    this.#queues.delete(queueId);
    this.#record({ type: "autoalloc-queue-removed", queueId });
    return null;
  }

  /** `hq alloc pause`; false when there is no such queue. */
  pause(queueId: number): boolean {
    const queue = this.#queues.get(queueId);
    if (!queue) return false;
    queue.paused = true;
    queue.autoPaused = null;
    return true;
  }

  /**
   * `hq alloc resume`; false when there is no such queue. Ours: the limiter's counters are
   * cleared, so a queue that paused itself after failures gets a fresh start (HyperQueue keeps
   * them, and such a queue pauses again at once).
   */
  resume(queueId: number): boolean {
    const queue = this.#queues.get(queueId);
    if (!queue) return false;
    queue.paused = false;
    queue.autoPaused = null;
    queue.limiter.reset();
    this.#passRequested = true;
    return true;
  }

  /** Something changed (a submit, a worker came or went): run a pass at the next tick. */
  requestPass(): void {
    this.#passRequested = true;
  }

  /** Whether a scheduling pass is due (§2.9): requested, or the last one is too old. */
  passDue(nowMs: number): boolean {
    if (!this.hasActiveQueue) return false;
    if (this.#passRequested || this.#lastPassMs === null) return true;
    return nowMs - this.#lastPassMs >= (this.#options.maxScheduleDelayMs ?? 30_000);
  }

  /** The attempt number (the `NNN` directory) of the queue's next submission. */
  nextAttempt(queueId: number): number {
    const queue = this.#queues.get(queueId);
    if (!queue) throw new Error(`no queue ${queueId}`);
    return queue.nextAttempt++;
  }

  queueParams(queueId: number): QueueParams | null {
    return this.#queues.get(queueId)?.params ?? null;
  }

  /**
   * A scheduling pass, steps 1–5 of §2.10: which allocations each queue should submit now. The
   * caller submits them in order, reports each outcome (`submitted`/`submitFailed`), then calls
   * `endPass`.
   */
  plan(
    nowMs: number,
    shapes: readonly WaitingShape[],
    knownResourceNames: readonly string[],
  ): PlannedSubmission[] {
    this.#passRequested = false;
    this.#lastPassMs = nowMs;
    this.#autoPause();
    const candidates: QueueRecord[] = [];
    for (const queue of [...this.#queues.values()].sort((a, b) => a.id - b.id)) {
      if (queue.paused) {
        queue.stall = this.#pausedStall(queue);
        continue;
      }
      const queued = this.#count(queue, "queued");
      if (queued >= queue.params.backlog) {
        queue.stall = {
          kind: "backlog-full",
          message:
            `the backlog is full: ${queued} allocation(s) queued in the manager (--backlog ${queue.params.backlog})`,
        };
        continue;
      }
      const { maxWorkerCount } = queue.params;
      if (maxWorkerCount !== null && this.#activeWorkers(queue) >= maxWorkerCount) {
        queue.stall = {
          kind: "max-worker-count",
          message:
            `the queue has ${maxWorkerCount} worker(s) in queued or running allocations (--max-worker-count ${maxWorkerCount})`,
        };
        continue;
      }
      candidates.push(queue);
    }
    if (candidates.length === 0) return [];
    const waiting = shapes.some((shape) => shape.count > 0);
    if (!waiting) {
      for (const queue of candidates) {
        queue.stall = { kind: "no-waiting-tasks", message: "no task is waiting" };
      }
      return [];
    }
    const demands = new Map<number, QueueDemand>();
    for (const demand of computeDemand(shapes, candidates.map(demandQueue), knownResourceNames)) {
      demands.set(demand.queueId, demand);
    }
    const planned: PlannedSubmission[] = [];
    for (const queue of candidates) {
      const demand = demands.get(queue.id);
      const workerCounts = demand ? this.#allocationsFor(queue, demand) : [];
      if (workerCounts.length === 0) {
        queue.stall = noDemandStall(demand);
        continue;
      }
      if (!queue.limiter.canSubmit(nowMs)) {
        const untilMs = queue.limiter.nextAllowedMs();
        queue.stall = {
          kind: "rate-limited",
          message: `submissions are delayed after failures until ${
            new Date(untilMs ?? nowMs).toISOString()
          }`,
          untilMs,
          lastError: queue.lastError,
        };
        continue;
      }
      queue.limiter.attempted(nowMs);
      queue.stall = null;
      planned.push({ queueId: queue.id, workerCounts });
    }
    return planned;
  }

  /** A planned allocation was submitted (§2.8 Queued). */
  submitted(
    queueId: number,
    allocation: { allocationId: string; workerCount: number; workdir: string },
    nowMs: number,
  ): void {
    const queue = this.#queues.get(queueId);
    if (!queue) return;
    queue.limiter.submissionSucceeded();
    queue.allocations.set(allocation.allocationId, {
      ...newAllocation(
        queueId,
        allocation.allocationId,
        allocation.workerCount,
        allocation.workdir,
      ),
      queuedMs: nowMs,
    });
    this.#record({
      type: "autoalloc-allocation-queued",
      queueId,
      allocationId: allocation.allocationId,
      workerCount: allocation.workerCount,
      workdir: allocation.workdir,
    });
  }

  /** A planned allocation could not be submitted (§2.11: the limiter climbs). */
  submitFailed(queueId: number, error: { message: string; scriptPath: string | null }): void {
    const queue = this.#queues.get(queueId);
    if (!queue) return;
    queue.limiter.submissionFailed();
    queue.lastError = error;
    queue.stall = {
      kind: "submission-failed",
      message: `the last submission failed (${queue.limiter.submissionFails} in a row)`,
      lastError: error,
    };
    this.#log(
      "error",
      `Queue ${queueId}: failed to submit an allocation: ${error.message}${
        error.scriptPath ? `\nYou can find the submitted script at ${error.scriptPath}` : ""
      }`,
    );
  }

  /** Step 6 of §2.10: queues whose limiter says so are paused. */
  endPass(): void {
    this.#autoPause();
  }

  /**
   * A worker registered. With `allocationId` of one of our allocations, that allocation runs
   * (§2.8) and the queue learns its workers' resources.
   */
  workerConnected(
    workerId: number,
    allocationId: string,
    resources: ResourceDescriptor,
    nowMs: number,
  ): void {
    const allocation = this.#findAllocation(allocationId);
    if (!allocation) {
      this.#log(
        "warn",
        `Worker ${workerId} belongs to allocation ${allocationId}, which no queue knows; ignored`,
      );
      return;
    }
    const queue = this.#queues.get(allocation.queueId)!;
    queue.knownResources = resources;
    if (allocation.state === "finished") {
      this.#log(
        "warn",
        `Worker ${workerId} connected to allocation ${allocationId}, which has already finished`,
      );
      return;
    }
    if (allocation.connected.size + allocation.disconnected >= allocation.targetWorkerCount) {
      this.#log(
        "warn",
        `Worker ${workerId} connected to allocation ${allocationId}, which already has all its ${allocation.targetWorkerCount} worker(s)`,
      );
      return;
    }
    allocation.connected.add(workerId);
    this.#byWorker.set(workerId, allocation);
    if (allocation.state === "queued") {
      allocation.state = "running";
      allocation.startedMs = nowMs;
      allocation.statusErrors = 0;
      this.#record({
        type: "autoalloc-allocation-started",
        queueId: allocation.queueId,
        allocationId,
      });
    }
    this.#passRequested = true;
  }

  /** A worker went offline; when all its allocation's workers are gone, the allocation ends. */
  workerLost(
    workerId: number,
    reason: WorkerLostReason,
    lifetimeMs: number,
    nowMs: number,
  ): void {
    this.#passRequested = true;
    const allocation = this.#byWorker.get(workerId);
    if (!allocation) return;
    this.#byWorker.delete(workerId);
    allocation.connected.delete(workerId);
    allocation.disconnected++;
    const crashed = (reason === "connection-lost" || reason === "heartbeat-lost") &&
      lifetimeMs <= CRASH_LIFETIME_MS;
    if (crashed) allocation.crashed++;
    if (
      allocation.state !== "finished" && allocation.disconnected >= allocation.targetWorkerCount
    ) {
      this.#finish(allocation, allocation.crashed === allocation.disconnected, false, nowMs);
    }
  }

  /** Which allocations a status poll should ask about, per queue (cwd: the first one's dir). */
  pollTargets(): Array<{ queueId: number; ids: string[]; cwd: string }> {
    const targets: Array<{ queueId: number; ids: string[]; cwd: string }> = [];
    for (const queue of this.#queues.values()) {
      const active = [...queue.allocations.values()].filter((a) => a.state !== "finished");
      if (active.length === 0) continue;
      targets.push({ queueId: queue.id, ids: active.map((a) => a.id), cwd: active[0].workdir });
    }
    return targets;
  }

  /** What a status poll found (§2.7–§2.8). */
  pollResult(
    queueId: number,
    results: ReadonlyMap<string, ManagerPollResult>,
    nowMs: number,
  ): void {
    const queue = this.#queues.get(queueId);
    if (!queue) return;
    for (const [allocationId, result] of results) {
      const allocation = queue.allocations.get(allocationId);
      if (!allocation || allocation.state === "finished") continue;
      switch (result.kind) {
        case "queued":
          break; // A "queued" report for a running allocation is ignored.
        case "running":
          if (allocation.state === "queued") {
            allocation.state = "running";
            allocation.startedMs = nowMs;
          }
          allocation.statusErrors = 0;
          break;
        case "finished":
          allocation.startedMs = result.startedMs ?? allocation.startedMs;
          this.#finish(allocation, result.failed, true, result.endedMs ?? nowMs);
          break;
        case "error": {
          allocation.statusErrors++;
          const limit = allocation.state === "queued"
            ? MAX_QUEUED_STATUS_ERRORS
            : MAX_RUNNING_STATUS_ERRORS;
          if (allocation.statusErrors > limit) {
            this.#log(
              "warn",
              `Allocation ${allocationId} of queue ${queueId}: its status could not be read ${allocation.statusErrors} times (${result.message}); it is considered finished`,
            );
            this.#finish(allocation, allocation.state === "queued", true, nowMs, false);
          }
          break;
        }
      }
    }
  }

  /** Every queued or running allocation (cancelled when the server stops, §2.9). */
  activeAllocations(): ActiveAllocation[] {
    const found: ActiveAllocation[] = [];
    for (const queue of this.#queues.values()) {
      for (const allocation of queue.allocations.values()) {
        if (allocation.state === "finished") continue;
        found.push({
          queueId: queue.id,
          manager: queue.params.manager,
          allocationId: allocation.id,
          workdir: allocation.workdir,
        });
      }
    }
    return found;
  }

  list(): QueueView[] {
    return [...this.#queues.values()].sort((a, b) => a.id - b.id).map(queueView);
  }

  detail(queueId: number): QueueDetail | null {
    const queue = this.#queues.get(queueId);
    if (!queue) return null;
    return {
      queue: queueView(queue),
      allocations: [...queue.allocations.values()]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(allocationView),
      stall: queue.paused ? this.#pausedStall(queue) : queue.stall,
    };
  }

  /** An allocation by its manager job id, with its queue. */
  allocation(allocationId: string): { queueId: number; allocation: AllocationView } | null {
    const found = this.#findAllocation(allocationId);
    return found ? { queueId: found.queueId, allocation: allocationView(found) } : null;
  }

  // ---------------------------------------------------------------------------------------------

  #findAllocation(allocationId: string): AllocationRecord | undefined {
    for (const queue of this.#queues.values()) {
      const allocation = queue.allocations.get(allocationId);
      if (allocation) return allocation;
    }
    return undefined;
  }

  #finish(
    allocation: AllocationRecord,
    failed: boolean,
    unexpected: boolean,
    nowMs: number,
    countsForLimiter = true,
  ): void {
    allocation.state = "finished";
    allocation.failed = failed;
    allocation.unexpected = unexpected;
    allocation.endedMs = nowMs;
    for (const workerId of allocation.connected) this.#byWorker.delete(workerId);
    const queue = this.#queues.get(allocation.queueId);
    if (queue && countsForLimiter) {
      if (failed) queue.limiter.allocationFailed();
      else queue.limiter.allocationSucceeded();
    }
    this.#record({
      type: "autoalloc-allocation-finished",
      queueId: allocation.queueId,
      allocationId: allocation.id,
    });
    this.#passRequested = true;
  }

  #autoPause(): void {
    for (const queue of this.#queues.values()) {
      if (queue.paused) continue;
      const reason = queue.limiter.pauseReason();
      if (reason === null) continue;
      queue.paused = true;
      queue.autoPaused = reason;
      this.#log(
        "error",
        `Allocation queue ${queue.id} was paused: ${reason}${
          queue.lastError ? `; the last error: ${queue.lastError.message}` : ""
        }. Use \`hq alloc resume ${queue.id}\` once the cause is fixed`,
      );
    }
  }

  #pausedStall(queue: QueueRecord): QueueStallReason {
    if (queue.autoPaused !== null) {
      return {
        kind: "auto-paused",
        message: `the queue paused itself: ${queue.autoPaused}`,
        lastError: queue.lastError,
      };
    }
    return { kind: "paused", message: "the queue is paused (hq alloc resume)" };
  }

  #count(queue: QueueRecord, state: AllocationRecord["state"]): number {
    let count = 0;
    for (const allocation of queue.allocations.values()) if (allocation.state === state) count++;
    return count;
  }

  #activeWorkers(queue: QueueRecord): number {
    let workers = 0;
    for (const allocation of queue.allocations.values()) {
      if (allocation.state !== "finished") workers += allocation.targetWorkerCount;
    }
    return workers;
  }

  /** §2.10 step 4: the worker counts of the allocations to submit. */
  #allocationsFor(queue: QueueRecord, demand: QueueDemand): number[] {
    const { backlog, maxWorkersPerAlloc, maxWorkerCount } = queue.params;
    let remaining = maxWorkerCount === null
      ? Infinity
      : maxWorkerCount - this.#activeWorkers(queue);
    if (remaining <= 0) return [];
    let count = demand.multiNode?.count ?? 0;
    const perAlloc = demand.multiNode?.perAlloc ?? 0;
    let single = demand.singleNode;
    let queued = 0;
    for (const allocation of queue.allocations.values()) {
      if (allocation.state === "finished") continue;
      // Ours beyond §2.10: a running allocation whose workers have not all connected yet still
      // brings the missing ones (a multi-node allocation's nodes start one after another), so
      // its task is not submitted for twice.
      const missing = allocation.targetWorkerCount - allocation.connected.size -
        allocation.disconnected;
      if (allocation.state === "queued") queued++;
      else if (missing <= 0) continue;
      let capacity = allocation.state === "queued" ? allocation.targetWorkerCount : missing;
      if (count > 0 && perAlloc <= allocation.targetWorkerCount) {
        count--;
        capacity = Math.max(0, capacity - perAlloc);
      }
      single = Math.max(0, single - capacity);
    }
    const candidates: number[] = [];
    for (let i = 0; i < count; i++) candidates.push(perAlloc);
    for (let i = 0; i < Math.floor(single / maxWorkersPerAlloc); i++) {
      candidates.push(maxWorkersPerAlloc);
    }
    if (single % maxWorkersPerAlloc > 0) candidates.push(single % maxWorkersPerAlloc);
    const result: number[] = [];
    for (const wanted of candidates.slice(0, Math.max(0, backlog - queued))) {
      const workers = Math.min(wanted, remaining);
      if (workers <= 0) break;
      remaining -= workers;
      result.push(workers);
    }
    return result;
  }

  #record(event: AllocatorJournalEvent): void {
    this.#outputs.push({ type: "record", event });
  }

  #log(level: "info" | "warn" | "error", message: string): void {
    this.#outputs.push({ type: "log", level, message });
  }
}

function newAllocation(
  queueId: number,
  id: string,
  workerCount: number,
  workdir: string,
): AllocationRecord {
  return {
    id,
    queueId,
    targetWorkerCount: workerCount,
    queuedMs: 0,
    startedMs: null,
    endedMs: null,
    state: "queued",
    failed: false,
    unexpected: false,
    workdir,
    connected: new Set(),
    disconnected: 0,
    crashed: 0,
    statusErrors: 0,
  };
}

function demandQueue(queue: QueueRecord): DemandQueue {
  const { params } = queue;
  return {
    queueId: queue.id,
    workerShape: queue.knownResources
      ? { kind: "exact", resources: queue.knownResources.resources }
      : params.cliResources
      ? { kind: "partial", resources: params.cliResources }
      : { kind: "probing", resources: [] },
    imaginaryWorkers: params.backlog * params.maxWorkersPerAlloc,
    timeLimitMs: params.workerTimeLimitMs ?? params.timeLimitMs,
    minUtilization: params.minUtilization,
    maxWorkersPerAlloc: params.maxWorkersPerAlloc,
  };
}

function queueView(queue: QueueRecord): QueueView {
  return {
    id: queue.id,
    state: queue.paused ? "paused" : "active",
    params: queue.params,
    knownWorkerResources: queue.knownResources,
  };
}

function allocationView(allocation: AllocationRecord): AllocationView {
  let status: AllocationStatus;
  if (allocation.state === "finished") status = allocation.failed ? "failed" : "finished";
  else status = allocation.state;
  return {
    id: allocation.id,
    targetWorkerCount: allocation.targetWorkerCount,
    queuedMs: allocation.queuedMs,
    startedMs: allocation.startedMs,
    endedMs: allocation.endedMs,
    status,
    unexpected: allocation.unexpected,
    workdir: allocation.workdir,
  };
}

function noDemandStall(demand: QueueDemand | undefined): QueueStallReason {
  if (demand?.unfit) {
    return {
      kind: "no-fitting-tasks",
      message: `no waiting task fits the queue's workers: ${demand.unfit.why}`,
    };
  }
  if (demand && (demand.singleNode > 0 || (demand.multiNode?.count ?? 0) > 0)) {
    return {
      kind: "covered",
      message: "the waiting tasks are covered by allocations already queued",
    };
  }
  return {
    kind: "covered",
    message: "the waiting tasks are covered by running workers or by other queues",
  };
}
