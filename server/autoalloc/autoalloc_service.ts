/**
 * The automatic allocator's shell (journal-alloc spec §2): runs the pure `AllocatorCore` on
 * timers, feeds it the waiting tasks and the workers that come and go, carries out its
 * submissions, polls and cancels with sbatch/qsub and friends, journals what it records, and
 * answers the `hq alloc` requests.
 */
import type { QueueParams } from "../../common/autoalloc.ts";
import { describeError, HqError } from "../../common/errors.ts";
import { logger } from "../../common/log.ts";
import { dirname, joinPath } from "../../common/paths.ts";
import type { ClientRequest, ServerResponse, WorkerConfiguration } from "../../common/protocol.ts";
import type { SchedulerCore, WorkerRecord } from "../scheduler/scheduler_core.ts";
import type { ServerJournal } from "../server_journal.ts";
import type { RestoredQueue } from "../journal_restore.ts";
import { type ActiveAllocation, AllocatorCore } from "./allocator_core.ts";
import { allocationManager } from "./allocation_manager.ts";
import { AllocationSubmitError } from "./manager_command.ts";
import { pruneFailedDirs, submitAllocation } from "./allocation_dir.ts";
import { dryRun } from "./dry_run.ts";
import { hqLauncherPath } from "../../common/hq_launcher.ts";
import { DEFAULT_SUBMIT_DELAYS_MS } from "./rate_limiter.ts";

const log = logger("server::autoalloc");

/** The spec's timers (§2.9), each overridable by its environment variable (milliseconds). */
export interface AutoallocTimers {
  scheduleTickMs: number;
  maxScheduleDelayMs: number;
  refreshIntervalMs: number;
  maxAllocationFails: number;
  /** Ours (tests): the delay ladder of §2.11, `HQ_AUTOALLOC_SUBMIT_DELAYS_MS=0,100,200`. */
  submitDelaysMs: readonly number[];
}

export function autoallocTimersFromEnv(env: (name: string) => string | undefined): AutoallocTimers {
  const number = (name: string, fallback: number) => {
    const value = Number(env(name));
    return env(name) !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  const delays = env("HQ_AUTOALLOC_SUBMIT_DELAYS_MS")?.split(",").map(Number);
  return {
    scheduleTickMs: number("HQ_AUTOALLOC_SCHEDULE_TICK_INTERVAL_MS", 5_000),
    maxScheduleDelayMs: number("HQ_AUTOALLOC_MAX_SCHEDULE_DELAY_MS", 30_000),
    refreshIntervalMs: number("HQ_AUTOALLOC_REFRESH_INTERVAL_MS", 30 * 60_000),
    maxAllocationFails: number("HQ_AUTOALLOC_MAX_ALLOCATION_FAILS", 3),
    submitDelaysMs: delays && delays.length > 0 && delays.every((d) => Number.isFinite(d) && d >= 0)
      ? delays
      : DEFAULT_SUBMIT_DELAYS_MS,
  };
}

export interface AutoallocServiceOptions {
  scheduler: SchedulerCore;
  journal: ServerJournal;
  /** The server's root directory (restored queues live here, §1.4 quirk). */
  serverDir: string;
  /** This server's instance directory (new queues' allocations live here). */
  instanceDir: string;
  timers?: AutoallocTimers;
}

export class AutoallocService {
  readonly #core: AllocatorCore;
  readonly #scheduler: SchedulerCore;
  readonly #journal: ServerJournal;
  readonly #serverDir: string;
  readonly #instanceDir: string;
  readonly #timers: AutoallocTimers;
  /** Queues restored from the journal: directories and `--server-dir` at the root (§1.4). */
  readonly #restoredQueues = new Set<number>();
  #tickTimer: ReturnType<typeof setInterval> | null = null;
  #refreshTimer: ReturnType<typeof setInterval> | null = null;
  #passing = false;
  /** The flush that makes the last submission durable (clients see it only after). */
  #submissionFlush: Promise<void> = Promise.resolve();
  #polling = false;
  #hqPath: Promise<string> | null = null;
  #stopped = false;
  /** Cancels and other background work in flight (awaited at shutdown). */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: AutoallocServiceOptions) {
    this.#scheduler = options.scheduler;
    this.#journal = options.journal;
    this.#serverDir = options.serverDir;
    this.#instanceDir = options.instanceDir;
    this.#timers = options.timers ?? autoallocTimersFromEnv((name) => Deno.env.get(name));
    this.#core = new AllocatorCore({
      maxScheduleDelayMs: this.#timers.maxScheduleDelayMs,
      rateLimiter: {
        maxAllocationFails: this.#timers.maxAllocationFails,
        delaysMs: this.#timers.submitDelaysMs,
      },
    });
  }

  /**
   * Recreates the journal's queues (active) and continues their ids. Ours beyond the spec: the
   * allocations they had queued or running are followed again (polled at once), so the work
   * they cover is not submitted twice; `readdress` points the `--server-dir` of each still
   * queued one at this server, so its workers find it when the allocation starts.
   */
  restore(
    queues: RestoredQueue[],
    nextQueueId: number,
    readdress: (serverDir: string) => Promise<void>,
  ): void {
    this.#core.continueQueueIdsFrom(nextQueueId);
    const serverDirs = new Set<string>();
    for (const queue of queues) {
      this.#core.addQueue(queue.params, queue);
      this.#restoredQueues.add(queue.queueId);
      for (const allocation of queue.allocations) {
        // `<server dir>/autoalloc/<queue>/<NNN>`.
        if (allocation.startedMs === null) {
          serverDirs.add(dirname(dirname(dirname(allocation.workdir))));
        }
      }
    }
    if (queues.length === 0) return;
    const followed = queues.reduce((sum, queue) => sum + queue.allocations.length, 0);
    log.info(
      `Restored ${queues.length} allocation queue(s)${
        followed > 0 ? ` and ${followed} allocation(s) not finished yet` : ""
      }`,
    );
    serverDirs.delete(this.#instanceDir);
    this.#track(
      Promise.all(
        [...serverDirs].map((dir) =>
          readdress(dir).catch((error) =>
            log.warn(`Cannot point ${dir} at this server: ${describeError(error)}`)
          )
        ),
      ).then(() => followed > 0 ? this.pollNow() : undefined),
    );
  }

  start(): void {
    this.#tickTimer = setInterval(() => this.#tick(), this.#timers.scheduleTickMs);
    this.#refreshTimer = setInterval(() => this.#refresh(), this.#timers.refreshIntervalMs);
  }

  /** Server shutdown (§2.9): every queued or running allocation is cancelled. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tickTimer !== null) clearInterval(this.#tickTimer);
    if (this.#refreshTimer !== null) clearInterval(this.#refreshTimer);
    const cancels = this.#core.activeAllocations().map((allocation) => this.#cancel(allocation));
    await Promise.allSettled([...cancels, ...this.#pending]);
  }

  /** A job was submitted: waiting tasks may need allocations. */
  requestPass(): void {
    this.#core.requestPass();
  }

  workerJoined(workerId: number, configuration: WorkerConfiguration): void {
    const manager = configuration.manager;
    if (manager) {
      this.#core.workerConnected(
        workerId,
        manager.allocationId,
        configuration.resources,
        Date.now(),
      );
    } else this.#core.requestPass();
    this.#drain();
  }

  workerLost(record: Readonly<WorkerRecord>): void {
    const endedMs = record.ended?.atMs ?? Date.now();
    this.#core.workerLost(
      record.id,
      record.ended?.reason ?? "connection-lost",
      endedMs - record.startedMs,
      endedMs,
    );
    this.#drain();
  }

  /** Answers an `alloc-*` request. */
  async handle(request: ClientRequest): Promise<ServerResponse> {
    // What a client is shown of allocations is on disk: a submission in flight is awaited.
    await this.#submissionFlush;
    switch (request.type) {
      case "alloc-add":
        return await this.#add(request.params, request.dryRun);
      case "alloc-dry-run": {
        const failure = await this.#dryRun(request.params);
        return failure ?? { type: "ok" };
      }
      case "alloc-list":
        return { type: "alloc-queues", queues: this.#core.list() };
      case "alloc-info": {
        const detail = this.#core.detail(request.queueId);
        if (!detail) throw new HqError(`Queue ${request.queueId} not found`);
        return { type: "alloc-queue", detail };
      }
      case "alloc-log": {
        const found = this.#core.allocation(request.allocationId);
        if (!found) throw new HqError(`Allocation ${request.allocationId} not found`);
        return { type: "alloc-allocation", ...found };
      }
      case "alloc-pause":
        if (!this.#core.pause(request.queueId)) {
          throw new HqError(`Queue ${request.queueId} that should have been paused was not found`);
        }
        await this.#flushJournal();
        return { type: "ok" };
      case "alloc-resume":
        if (!this.#core.resume(request.queueId)) {
          throw new HqError(`Queue ${request.queueId} that should have been resumed was not found`);
        }
        await this.#flushJournal();
        return { type: "ok" };
      case "alloc-remove": {
        const error = this.#core.removeQueue(request.queueId, request.force);
        if (error !== null) throw new HqError(error);
        this.#restoredQueues.delete(request.queueId);
        this.#drain();
        await this.#flushJournal();
        return { type: "ok" };
      }
      default:
        throw new Error(`not an alloc request: ${request.type}`);
    }
  }

  async #add(params: QueueParams, withDryRun: boolean): Promise<ServerResponse> {
    if (withDryRun) {
      const failure = await this.#dryRun(params);
      if (failure) return failure;
    }
    const queueId = this.#core.addQueue(params);
    this.#drain();
    await this.#flushJournal();
    log.info(`Allocation queue ${queueId} created`);
    return { type: "alloc-added", queueId, dryRun: withDryRun };
  }

  async #dryRun(params: QueueParams): Promise<ServerResponse | null> {
    try {
      await dryRun(params, { hqPath: await this.#hq(), serverDir: this.#instanceDir });
      return null;
    } catch (error) {
      return { type: "alloc-dry-run-failed", message: describeError(error) };
    }
  }

  async #flushJournal(): Promise<void> {
    if (this.#journal.hasFile) await this.#journal.flush();
  }

  #hq(): Promise<string> {
    this.#hqPath ??= hqLauncherPath(this.#instanceDir);
    return this.#hqPath;
  }

  #tick(): void {
    if (this.#passing || this.#stopped) return;
    if (!this.#core.passDue(Date.now())) return;
    this.#passing = true;
    this.#track(this.#pass().finally(() => (this.#passing = false)));
  }

  async #pass(): Promise<void> {
    const shapes = this.#scheduler.waitingShapes();
    // Every name the server knows: of workers, and of what tasks ask for (spec §2.10).
    const names = new Set<string>();
    for (const shape of shapes) {
      for (const variant of shape.variants) {
        for (const need of variant.needs) names.add(need.resource);
      }
    }
    for (const worker of this.#scheduler.workers.values()) {
      for (const item of worker.configuration.resources.resources) names.add(item.name);
    }
    const planned = this.#core.plan(Date.now(), shapes, [...names]);
    this.#drain();
    for (const { queueId, workerCounts } of planned) {
      for (const workerCount of workerCounts) {
        if (this.#stopped) return;
        const params = this.#core.queueParams(queueId);
        if (!params) break; // Removed meanwhile.
        const root = this.#restoredQueues.has(queueId) ? this.#serverDir : this.#instanceDir;
        try {
          // With the "submitted" line below, times the submission (bench/autoalloc_latency.ts).
          log.debug(`Queue ${queueId}: submitting an allocation (${workerCount} worker(s))`);
          const { allocationId, dir } = await submitAllocation({
            manager: allocationManager(params.manager),
            autoallocRoot: joinPath(root, "autoalloc"),
            queueId,
            params,
            attempt: this.#core.nextAttempt(queueId),
            workerCount,
            hqPath: await this.#hq(),
            serverDir: root,
          });
          log.info(
            `Queue ${queueId}: allocation ${allocationId} submitted (${workerCount} worker(s))`,
          );
          this.#core.submitted(
            queueId,
            { allocationId, workerCount, workdir: dir },
            Date.now(),
          );
        } catch (error) {
          const scriptPath = error instanceof AllocationSubmitError ? error.scriptPath : null;
          this.#core.submitFailed(queueId, { message: describeError(error), scriptPath });
          break;
        } finally {
          this.#drain();
        }
        // A batch job the journal does not know would be submitted again after a crash.
        this.#submissionFlush = this.#flushJournal().catch(() => {}); // Logged by the journal.
        await this.#submissionFlush;
      }
    }
    this.#core.endPass();
    this.#drain();
  }

  /** The slow status poll of every queue's allocations (§2.7), and pruning of failed dirs. */
  #refresh(): void {
    if (this.#polling || this.#stopped || !this.#core.hasActiveQueue) return;
    this.#polling = true;
    this.#track(this.pollNow().finally(() => (this.#polling = false)));
  }

  /** Polls every queue's active allocations once (also used at start after a restore). */
  async pollNow(): Promise<void> {
    for (const { queueId, ids, cwd } of this.#core.pollTargets()) {
      const params = this.#core.queueParams(queueId);
      if (!params) continue;
      const results = await allocationManager(params.manager).poll(ids, cwd);
      this.#core.pollResult(queueId, results, Date.now());
      this.#drain();
      await pruneFailedDirs(joinPath(cwd, "..")).catch(() => {});
    }
  }

  #drain(): void {
    for (const output of this.#core.drain()) {
      switch (output.type) {
        case "record":
          this.#journal.record(output.event);
          break;
        case "log":
          log[output.level](output.message);
          break;
        case "cancel":
          this.#track(this.#cancel(output));
          break;
      }
    }
  }

  async #cancel({ manager, allocationId, workdir }: ActiveAllocation): Promise<void> {
    try {
      await allocationManager(manager).cancel(allocationId, workdir);
      log.info(`Allocation ${allocationId} canceled`);
    } catch (error) {
      log.warn(`Could not cancel allocation ${allocationId}: ${describeError(error)}`);
    }
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) =>
      log.error(`Automatic allocation failed: ${describeError(error)}`)
    );
    this.#pending.add(tracked);
    tracked.finally(() => this.#pending.delete(tracked));
  }
}
