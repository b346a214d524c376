/**
 * The server's side of worker connections: registration, turning worker messages into core
 * events, carrying the core's commands to the workers, and the views clients ask for.
 */
import { describeError } from "../common/errors.ts";
import { selectIds } from "../common/id_selector.ts";
import { logger } from "../common/log.ts";
import type {
  IdSelector,
  ServerToWorkerMessage,
  TaskNotification,
  WorkerConfiguration,
  WorkerFilter,
  WorkerLostReason,
  WorkerMessage,
  WorkerStopOutcome,
  WorkerView,
} from "../common/protocol.ts";
import { validateResourceDescriptor } from "../common/resources/mod.ts";
import { FrameError, type MessageConnection } from "../common/transport/mod.ts";
import type { TaskTemplate } from "../common/job_types.ts";
import type { AssignedTask, CoreCommand, CoreEvent, WorkerId } from "./scheduler/core_events.ts";
import type { JobRecord, SubmitRecord } from "./scheduler/job_record.ts";
import { ServerJournal } from "./server_journal.ts";
import type { SchedulerCore, WorkerRecord } from "./scheduler/scheduler_core.ts";

const log = logger("server::worker_hub");
/**
 * A longer gap between two ticks (100 ms apart) means the server itself did not run: stopped
 * (SIGSTOP, a suspended machine) or blocked. The workers' heartbeats wait unread meanwhile.
 */
const STALL_MS = 1_000;

type WorkerConnection = MessageConnection<WorkerMessage, ServerToWorkerMessage>;

/** How often workers send overviews while a dashboard streams events (HyperQueue: 2 s). */
export const FORCED_OVERVIEW_INTERVAL_MS = 2_000;

export const REASON_WORDS: Record<WorkerLostReason, string> = {
  "stopped": "stopped",
  "idle-timeout": "idle timeout",
  "time-limit-reached": "time limit reached",
  "connection-lost": "connection lost",
  "heartbeat-lost": "heartbeat lost",
};

export interface WorkerHubOptions {
  /** The server's `--idle-timeout`, applied to workers that set none. */
  defaultIdleTimeoutMs: number | null;
  /** The clock; injected so the hub stays testable. @default {Date.now} */
  now?: () => number;
  /** Where worker and task events are recorded. @default {ServerJournal.inMemory()} */
  journal?: ServerJournal;
  /** Told to workers for their output stream files (spec §10.1). @default {""} */
  serverUid?: string;
}

export class WorkerHub {
  readonly #links = new Map<WorkerId, WorkerConnection>();
  #roundPending = false;
  /** Called after each batch of events (job waiters check their jobs here). */
  onChange: () => void = () => {};
  /** Called when a worker registered (the allocator follows its allocations by this). */
  onWorkerJoined: (workerId: WorkerId, configuration: WorkerConfiguration) => void = () => {};
  /** Called once when a worker went offline. */
  onWorkerLost: (record: Readonly<WorkerRecord>) => void = () => {};
  /** Called when a task of a worker sends a notification (`hq task notify`). */
  onNotify: (notification: TaskNotification) => void = () => {};
  #nextWorkerId = 1;
  #lastWorkerId = 0;
  /** Workers whose going offline was logged (a connection may close after the disconnect). */
  readonly #reportedOffline = new Set<WorkerId>();
  readonly #now: () => number;
  #lastTickMs: number | null = null;
  readonly #journal: ServerJournal;
  /** Live streams that asked for overviews (`journal-replay` with `overviews`). */
  #overviewStreams = 0;
  /** Overviews sent only for those streams: other live listeners skip them. */
  readonly transientEvents: WeakSet<object> = new WeakSet();

  constructor(readonly core: SchedulerCore, private readonly options: WorkerHubOptions) {
    this.#now = options.now ?? Date.now;
    this.#journal = options.journal ?? ServerJournal.inMemory();
  }

  /** The highest worker id handed out by this run, 0 if none. */
  get lastWorkerId(): number {
    return this.#lastWorkerId;
  }

  /** Worker ids continue after those of the runs a journal restored. */
  continueWorkerIdsFrom(nextWorkerId: number): void {
    this.#nextWorkerId = Math.max(this.#nextWorkerId, nextWorkerId);
  }

  /** Serves one authenticated worker connection until it closes. */
  async serve(connection: WorkerConnection, peer: string): Promise<void> {
    let workerId: WorkerId | null = null;
    try {
      for await (const batch of connection.batches()) {
        for (const message of batch) {
          if (workerId === null) {
            if (message.type !== "register") {
              throw new FrameError(`Expected a registration, got "${message.type}"`);
            }
            workerId = this.#register(connection, message.configuration, peer);
            continue;
          }
          switch (message.type) {
            case "register":
              throw new FrameError("The worker registered twice");
            case "heartbeat":
              this.handle({ type: "worker-heartbeat", workerId });
              break;
            case "overview": {
              // Informational only (the dashboard's charts, `journal export`): not for the core.
              const event = {
                type: "worker-overview" as const,
                workerId,
                hwState: message.hwState,
              };
              if (message.transient) {
                // Asked for by a dashboard: live streams only, never the file (spec §1.2).
                this.transientEvents.add(event);
                this.#journal.recordLive(event, this.#now());
              } else {
                this.#journal.record(event, this.#now());
              }
              break;
            }
            case "time-limit-reached":
              this.handle({ type: "worker-time-limit-reached", workerId });
              break;
            case "task-started":
              this.handle({ type: "task-started", workerId, task: message.task });
              break;
            case "task-finished":
              this.handle({ type: "task-finished", workerId, task: message.task });
              break;
            case "task-failed":
              this.handle({
                type: "task-failed",
                workerId,
                task: message.task,
                error: message.error,
                started: message.started,
              });
              break;
            case "tasks-retracted":
              this.handle({ type: "tasks-retracted", workerId, tasks: message.tasks });
              break;
            case "task-notify":
              this.onNotify({
                jobId: message.task.jobId,
                taskId: message.task.taskId,
                workerId,
                message: message.message,
              });
              break;
          }
        }
      }
    } catch (error) {
      if (!connection.closed) {
        log.warn(`Worker connection from ${peer} failed: ${describeError(error)}`);
      }
    } finally {
      connection.close();
      if (workerId !== null) {
        this.#links.delete(workerId);
        this.handle({ type: "worker-connection-closed", workerId });
      }
    }
  }

  /**
   * Advances the core's clock: heartbeats, idle timeouts, stop grace periods. After a stall of
   * the server, every running worker gets a fresh heartbeat window instead of being found silent
   * all at once: its heartbeats were sent but not read; a worker that is really gone is found
   * silent two periods later.
   */
  tick(): void {
    const now = this.#now();
    const gapMs = this.#lastTickMs === null ? 0 : now - this.#lastTickMs;
    this.#lastTickMs = now;
    if (gapMs > STALL_MS) {
      const running = [...this.core.workers.keys()].filter((id) => this.core.isRunning(id));
      log.warn(
        `The server did not run for ${(gapMs / 1000).toFixed(1)} s` +
          (running.length > 0
            ? `; its ${running.length} worker(s) get a fresh heartbeat window`
            : ""),
      );
      for (const workerId of running) this.handle({ type: "worker-heartbeat", workerId });
    }
    this.handle({ type: "tick" });
  }

  /** `hq worker stop`: `all` means every running worker. */
  stop(selector: IdSelector): Array<{ workerId: WorkerId; outcome: WorkerStopOutcome }> {
    const ids = selector.type === "all"
      ? [...this.core.workers.keys()].filter((id) => this.core.isRunning(id))
      : selectIds(selector, this.#knownIds());
    return ids.map((workerId) => {
      if (!this.core.workers.has(workerId)) return { workerId, outcome: "not-found" };
      const record = this.core.workers.get(workerId)!;
      if (!this.core.isRunning(workerId) || record.stopReason !== null) {
        return { workerId, outcome: "already-stopped" };
      }
      this.handle({ type: "worker-stop-requested", workerId });
      return { workerId, outcome: "stopped" };
    });
  }

  /** Workers for `hq worker list`. */
  list(filter: WorkerFilter): WorkerView[] {
    const views: WorkerView[] = [];
    for (const record of this.core.workers.values()) {
      const running = record.ended === null;
      if (filter === "running" && !running) continue;
      if (filter === "offline" && running) continue;
      views.push(toView(record, false));
    }
    return views.sort((a, b) => a.id - b.id);
  }

  /** Workers for `hq worker info`; unknown ids are left out. */
  info(selector: IdSelector): WorkerView[] {
    const views: WorkerView[] = [];
    for (const id of selectIds(selector, this.#knownIds())) {
      const record = this.core.workers.get(id);
      if (record) views.push(toView(record, true));
    }
    return views;
  }

  get connectedCount(): number {
    return this.#links.size;
  }

  /**
   * A dashboard's stream wants overviews from every worker until the returned function is
   * called: the first such stream turns them on at the workers, the last one off again.
   */
  forceOverviews(): () => void {
    if (++this.#overviewStreams === 1) this.#sendOverviewInterval(FORCED_OVERVIEW_INTERVAL_MS);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#overviewStreams === 0) this.#sendOverviewInterval(null);
    };
  }

  #sendOverviewInterval(intervalMs: number | null): void {
    for (const link of this.#links.values()) {
      if (!link.closed) link.send({ type: "overview-interval", intervalMs });
    }
  }

  /** Drops every worker connection (server shutdown); workers follow their server-lost policy. */
  closeAll(): void {
    for (const link of this.#links.values()) link.close();
  }

  #register(
    connection: WorkerConnection,
    requested: WorkerConfiguration,
    peer: string,
  ): WorkerId {
    try {
      validateResourceDescriptor(requested.resources);
    } catch (error) {
      throw new FrameError(`Invalid worker resources: ${describeError(error)}`);
    }
    const workerId = this.#nextWorkerId++;
    this.#lastWorkerId = workerId;
    const configuration: WorkerConfiguration = {
      ...requested,
      idleTimeoutMs: requested.idleTimeoutMs ?? this.options.defaultIdleTimeoutMs,
    };
    this.#links.set(workerId, connection);
    if (this.#journal.wanted) {
      this.#journal.record({ type: "worker-connected", workerId, configuration }, this.#now());
    }
    this.handle({ type: "worker-joined", workerId, configuration });
    const record = this.core.workers.get(workerId)!;
    connection.send({
      type: "registered",
      workerId,
      startedMs: record.startedMs,
      configuration,
      serverUid: this.options.serverUid ?? "",
    });
    if (this.#overviewStreams > 0) {
      connection.send({ type: "overview-interval", intervalMs: FORCED_OVERVIEW_INTERVAL_MS });
    }
    log.info(`Worker ${workerId} registered from ${peer}`);
    this.onWorkerJoined(workerId, configuration);
    return workerId;
  }

  /**
   * Feeds one event to the core and carries out its commands. A scheduling round follows once
   * the current batch of events is handled, so a frame of 1,000 finished tasks costs one round.
   */
  handle(event: CoreEvent): void {
    const wasRunning = "workerId" in event && this.core.isRunning(event.workerId);
    const nowMs = this.#now();
    this.core.recordHistory = this.#journal.wanted;
    this.#apply(this.core.handle(event, nowMs));
    this.#recordHistory(nowMs);
    if (wasRunning && "workerId" in event && !this.core.isRunning(event.workerId)) {
      this.#logOffline(event.workerId);
    }
    if (!this.#roundPending) {
      this.#roundPending = true;
      queueMicrotask(() => this.#afterEvents());
    }
  }

  #afterEvents(): void {
    this.#roundPending = false;
    const nowMs = this.#now();
    this.#apply(this.core.handle({ type: "schedule" }, nowMs));
    this.#recordHistory(nowMs);
    const completed = this.core.takeCompletedJobs();
    if (this.#journal.wanted) {
      for (const job of completed) {
        this.#journal.record({ type: "job-completed", jobId: job.id }, job.completedMs ?? nowMs);
      }
    }
    this.#releaseTemplates(completed);
    this.onChange();
  }

  /** Hands what the core recorded to the journal (job idle only to live listeners). */
  #recordHistory(nowMs: number): void {
    let lost = false;
    for (const event of this.core.takeHistory()) {
      if (event.type === "job-idle") this.#journal.recordLive(event, nowMs);
      else this.#journal.record(event, nowMs);
      if (event.type === "worker-lost") lost = true;
    }
    // A lost worker's record (and the instance ids it takes back) is synced at once, not with the
    // flush period (losses are rare): until it is on disk, a crash would let a restore hand out
    // again the instance ids its tasks had, or take next.
    // A failed journal (disk full) is retried by its own timer.
    if (lost && this.#journal.hasFile && this.#journal.failure === null) {
      this.#journal.flush().catch(() => {}); // Logged by flush.
    }
  }

  #apply(commands: CoreCommand[]): void {
    for (const command of commands) {
      const link = this.#links.get(command.workerId);
      switch (command.type) {
        case "stop-worker":
          link?.send({ type: "stop" });
          break;
        case "disconnect-worker":
          this.#logOffline(command.workerId);
          link?.close();
          this.#links.delete(command.workerId);
          break;
        case "assign-tasks":
          link?.send({
            type: "assign-tasks",
            templates: this.#templatesToSend(command.workerId, command.tasks),
            tasks: command.tasks,
          });
          break;
        case "cancel-tasks":
          link?.send({ type: "cancel-tasks", tasks: command.tasks });
          break;
        case "retract-tasks":
          link?.send({ type: "retract-tasks", tasks: command.tasks });
          break;
      }
    }
  }

  #templatesToSend(
    workerId: WorkerId,
    tasks: AssignedTask[],
  ): Array<{ jobId: number; submitIndex: number; template: TaskTemplate }> {
    const templates = [];
    for (const { jobId, submitIndex } of tasks) {
      const submit = this.core.jobs.get(jobId)?.submits[submitIndex];
      if (!submit || !markSent(submit, workerId)) continue;
      templates.push({ jobId, submitIndex, template: submit.description.template });
    }
    return templates;
  }

  /** Tells each worker that got templates of these completed jobs to drop them. */
  #releaseTemplates(jobs: JobRecord[]): void {
    if (jobs.length === 0) return;
    const byWorker = new Map<WorkerId, number[]>();
    for (const job of jobs) {
      for (const submit of job.submits) {
        const sentTo = submit.templateSentTo;
        if (sentTo === null) continue;
        submit.templateSentTo = null;
        for (const workerId of typeof sentTo === "number" ? [sentTo] : sentTo) {
          const jobIds = byWorker.get(workerId) ?? [];
          if (jobIds.at(-1) !== job.id) jobIds.push(job.id);
          byWorker.set(workerId, jobIds);
        }
      }
    }
    for (const [workerId, jobIds] of byWorker) {
      this.#links.get(workerId)?.send({ type: "jobs-done", jobIds });
    }
  }

  /** Logs that a worker went offline and tells `onWorkerLost` (once per worker). */
  #logOffline(workerId: WorkerId): void {
    const record = this.core.workers.get(workerId);
    const reason = record?.ended?.reason;
    if (!record || !reason || this.#reportedOffline.has(workerId)) return;
    this.#reportedOffline.add(workerId);
    log.info(`Worker ${workerId} is offline: ${REASON_WORDS[reason]}`);
    this.onWorkerLost(record);
  }

  #knownIds(): number[] {
    return [...this.core.workers.keys()].sort((a, b) => a - b);
  }
}

/** Records that `workerId` has the submit's template; false if it had it already. */
function markSent(submit: SubmitRecord, workerId: WorkerId): boolean {
  const sentTo = submit.templateSentTo;
  if (sentTo === null) {
    submit.templateSentTo = workerId;
    return true;
  }
  if (sentTo === workerId) return false;
  if (typeof sentTo === "number") {
    submit.templateSentTo = new Set([sentTo, workerId]);
    return true;
  }
  if (sentTo.has(workerId)) return false;
  sentTo.add(workerId);
  return true;
}

function toView(record: Readonly<WorkerRecord>, withRuntimeInfo: boolean): WorkerView {
  return {
    id: record.id,
    configuration: record.configuration,
    startedMs: record.startedMs,
    ended: record.ended,
    lastTaskStarted: record.lastTaskStarted,
    runtimeInfo: withRuntimeInfo && record.ended === null
      ? {
        // Prefilled tasks (queued beyond its free resources) are not assigned yet (spec §5.1).
        assignedTasks: record.placements.size - record.prefilledTasks,
        runningTasks: record.runningTasks,
        isReserved: false,
      }
      : null,
  };
}
