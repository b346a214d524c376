/**
 * The server process: its two endpoints, its instance in the server directory, and the handling
 * of client requests. Decisions live in the pure `SchedulerCore`; this shell feeds it events and
 * the time, and carries its commands out.
 */
import { describeError, HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { ACCESS_FILE_NAME } from "../common/access_record.ts";
import { dirname, joinPath } from "../common/paths.ts";
import {
  type ClientMessage,
  type ClientRequest,
  isClientMessage,
  isWorkerMessage,
  type ServerInfo,
  type ServerResponse,
  type ServerToClientMessage,
  type ServerToWorkerMessage,
  type TaskNotification,
  type WorkerMessage,
} from "../common/protocol.ts";
import { unlinkCurrent } from "../common/server_dir.ts";
import type { MessageConnection } from "../common/transport/mod.ts";
import { HQ_VERSION } from "../common/version.ts";
import { EndpointListener } from "./endpoint_listener.ts";
import { openServerAccess, refuseLiveServer, type ServerAccess } from "./server_access.ts";
import { SchedulerCore, SERVER_PREFILL_CPU_SLOTS } from "./scheduler/scheduler_core.ts";
import { JobService } from "./job_service.ts";
import { validateClientRequest } from "./request_validation.ts";
import { WorkerHub } from "./worker_hub.ts";
import type { RestoredState } from "./journal_restore.ts";
import { ServerJournal } from "./server_journal.ts";
import { AutoallocService } from "./autoalloc/autoalloc_service.ts";
import { synthesizeHistory } from "./synthesized_history.ts";
import { takoDump } from "./tako_dump.ts";
import { isPublicJournalEvent, type JournalEvent } from "../common/journal/journal_events.ts";

const log = logger("server::hq_server");

/**
 * Requests that change jobs: refused once the journal cannot be written; the job service makes
 * each change only after its record is on disk (journal spec §1.3).
 */
const MODIFYING_REQUESTS: ReadonlySet<ClientRequest["type"]> = new Set([
  "submit",
  "submit-graph",
  "job-open",
  "job-cancel",
  "job-close",
  "alloc-add",
  "alloc-remove",
  "alloc-pause",
  "alloc-resume",
]);

export interface ServerOptions {
  /** Root server directory (absolute). */
  serverDir: string;
  /** Advertised to clients and workers. @default {Deno.hostname()} */
  host?: string;
  /** @default {0} (a free port) */
  clientPort?: number;
  /** @default {0} (a free port) */
  workerPort?: number;
  /** Default idle timeout for workers that set none. */
  idleTimeoutMs?: number;
  /** Event journal (journal spec §1): restored from first when it exists, then appended to. */
  journalPath?: string;
  /** Period of the journal's background flush. @default {30_000} */
  journalFlushPeriodMs?: number;
  /** Cut a journal damaged in the middle at the damage instead of refusing to start. */
  journalTruncateCorrupted?: boolean;
  /** Reuse hosts, ports, keys and server uid from this full access record. */
  accessFile?: string;
  disableClientAuthentication?: boolean;
  disableWorkerAuthentication?: boolean;
}

type ClientConnection = MessageConnection<ClientMessage, ServerToClientMessage>;

/** How often the core gets a `tick` (heartbeat and idle checks are due at most this late). */
const TICK_INTERVAL_MS = 100;

export class HqServer {
  #clients = new Set<ClientConnection>();
  /** The server directory's lock (`refuseLiveServer`), released when the server stops. */
  #serverDirLock: Deno.FsFile | null = null;
  /** Clients subscribed to task notifications, by job id (`--on-notify`). */
  readonly #notifySubscribers = new Map<number, Set<ClientConnection>>();
  readonly #core = new SchedulerCore({ prefillCpuSlots: SERVER_PREFILL_CPU_SLOTS });
  readonly #workers: WorkerHub;
  readonly #jobService: JobService;
  readonly #autoalloc: AutoallocService;
  readonly #ticker: ReturnType<typeof setInterval>;
  readonly #journal: ServerJournal;
  /** The highest worker id of the runs a journal restored (the id watermark of prune). */
  #restoredLastWorkerId = 0;
  /** Ends the `journal stream` of each client that runs one. */
  readonly #streams = new Map<ClientConnection, () => void>();
  #stopping = false;
  #resolveStopped!: () => void;
  /** Resolves once the server has shut down. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.#resolveStopped = resolve));

  private constructor(
    readonly info: ServerInfo,
    readonly serverDir: string,
    readonly instanceDir: string,
    private readonly clientEndpoint: EndpointListener<ClientMessage, ServerToClientMessage>,
    private readonly workerEndpoint: EndpointListener<WorkerMessage, ServerToWorkerMessage>,
    idleTimeoutMs: number | null,
    journal: ServerJournal,
    restored: RestoredState | null,
  ) {
    this.#journal = journal;
    this.#workers = new WorkerHub(this.#core, {
      defaultIdleTimeoutMs: idleTimeoutMs,
      journal,
      serverUid: info.serverUid,
    });
    this.#workers.onNotify = (notification) => this.#forwardNotification(notification);
    this.#jobService = new JobService(this.#workers, info.serverUid, journal);
    this.#autoalloc = new AutoallocService({
      scheduler: this.#core,
      journal,
      serverDir,
      instanceDir,
    });
    this.#workers.onWorkerJoined = (workerId, configuration) =>
      this.#autoalloc.workerJoined(workerId, configuration);
    this.#workers.onWorkerLost = (record) => this.#autoalloc.workerLost(record);
    let completed: number[] = [];
    if (restored) {
      const started = performance.now();
      for (const job of restored.jobs) this.#core.handle(job, Date.now());
      // Jobs whose every task ended before a crash, but whose completion was not on disk yet.
      completed = this.#core.takeCompletedJobs().map((job) => job.id);
      const ms = Math.round(restored.replayMs + performance.now() - started);
      log.info(
        `Restored ${restored.jobs.length} job(s) from ${restored.events} journal events in ${ms} ms`,
      );
      this.#jobService.continueJobIdsFrom(restored.nextJobId);
      this.#workers.continueWorkerIdsFrom(restored.nextWorkerId);
      this.#restoredLastWorkerId = restored.lastWorkerId;
      this.#autoalloc.restore(
        restored.queues,
        restored.nextQueueId,
        (dir) => readdressInstance(serverDir, dir, instanceDir),
      );
    }
    journal.record({ type: "server-start", serverUid: info.serverUid, ...this.#lastIds() });
    for (const jobId of completed) journal.record({ type: "job-completed", jobId });
    this.#ticker = setInterval(() => this.#workers.tick(), TICK_INTERVAL_MS);
    this.#autoalloc.start();
  }

  /**
   * Starts the server (spec §3.1 steps 1–5) and begins serving. With `access` (from
   * `openServerAccess`, after `refuseLiveServer`) the ports are open and the access file is
   * written already; a restored server's uid is in the access file, so a journal's server opens
   * its access after the restore.
   */
  static async start(options: ServerOptions, access?: ServerAccess): Promise<HqServer> {
    const lock = access === undefined ? await refuseLiveServer(options.serverDir) : access.lock;
    let journal: ServerJournal | null = null;
    try {
      const opened = options.journalPath
        ? await ServerJournal.open(options.journalPath, options.journalFlushPeriodMs ?? 30_000, {
          truncateCorrupted: options.journalTruncateCorrupted,
        })
        : { journal: ServerJournal.inMemory(), restored: null };
      journal = opened.journal;
      access ??= await openServerAccess(options, opened.restored?.serverUid ?? undefined, lock);
      return await HqServer.#startWith(options, access, opened.journal, opened.restored);
    } catch (error) {
      for (const listener of access ? [access.clientListener, access.workerListener] : []) {
        try {
          listener.close();
        } catch {
          // Closed already.
        }
      }
      await journal?.close();
      lock?.close();
      throw error;
    }
  }

  static async #startWith(
    options: ServerOptions,
    access: ServerAccess,
    journal: ServerJournal,
    restored: RestoredState | null,
  ): Promise<HqServer> {
    const root = options.serverDir;
    const { clientListener, workerListener, record, instanceDir } = access;
    const clientKey = record.client!.secretKey;
    const workerKey = record.worker!.secretKey;
    const info: ServerInfo = {
      serverUid: record.serverUid!,
      clientHost: record.client!.host,
      clientPort: record.client!.port,
      workerHost: record.worker!.host,
      workerPort: record.worker!.port,
      version: HQ_VERSION,
      pid: Deno.pid,
      startDateMs: Date.now(),
      journalPath: options.journalPath ?? null,
    };
    // deno-lint-ignore prefer-const
    let server: HqServer;
    const clientEndpoint = new EndpointListener<ClientMessage, ServerToClientMessage>(
      clientListener,
      {
        role: "client",
        secretKey: clientKey,
        isMessage: isClientMessage,
        onConnection: (connection, peer) => server.#serveClient(connection, peer),
      },
    );
    const workerEndpoint = new EndpointListener<WorkerMessage, ServerToWorkerMessage>(
      workerListener,
      {
        role: "worker",
        secretKey: workerKey,
        isMessage: isWorkerMessage,
        onConnection: (connection, peer) => server.#workers.serve(connection, peer),
      },
    );
    server = new HqServer(
      info,
      root,
      instanceDir,
      clientEndpoint,
      workerEndpoint,
      options.idleTimeoutMs ?? null,
      journal,
      restored,
    );
    server.#serverDirLock = access.lock ?? null;
    await journal.flush();
    clientEndpoint.serve();
    workerEndpoint.serve();
    return server;
  }

  /** Shuts down (spec §3.1 step 7): stop accepting, drop connections, remove `hq-current`. */
  async stop(): Promise<void> {
    if (this.#stopping) return await this.stopped;
    this.#stopping = true;
    log.info("Stopping server");
    await this.#releaseServerDir();
    this.clientEndpoint.close();
    this.workerEndpoint.close();
    clearInterval(this.#ticker);
    await this.#autoalloc.stop();
    // The last record, in the file only; `journal stream` clients get what came before it.
    this.#journal.recordLast({ type: "server-stop" });
    await Promise.resolve();
    await Promise.allSettled([...this.#clients].map((c) => c.flush()));
    for (const connection of this.#clients) connection.close();
    this.#workers.closeAll();
    await this.#journal.flush().catch(() => {}); // Logged by the journal.
    await this.#journal.close();
    try {
      this.#serverDirLock?.close();
    } catch { /* closed already */ }
    this.#resolveStopped();
  }

  #subscribe(connection: ClientConnection, jobIds: number[]): void {
    for (const jobId of jobIds) {
      const subscribers = this.#notifySubscribers.get(jobId) ?? new Set();
      subscribers.add(connection);
      this.#notifySubscribers.set(jobId, subscribers);
    }
  }

  /** Forwards a task's notification to the clients subscribed to its job; nothing is kept. */
  #forwardNotification(notification: TaskNotification): void {
    this.#journal.recordLive({ type: "task-notify", ...notification });
    const subscribers = this.#notifySubscribers.get(notification.jobId);
    if (!subscribers) return;
    for (const connection of subscribers) connection.send({ type: "task-notify", notification });
  }

  /** Removes `hq-current`, so that clients stop finding this server. Idempotent. */
  async #releaseServerDir(): Promise<void> {
    await unlinkCurrent(this.serverDir, this.instanceDir);
  }

  async #serveClient(connection: ClientConnection, peer: string): Promise<void> {
    this.#clients.add(connection);
    log.debug(`Client connected from ${peer}`);
    try {
      for await (const batch of connection.batches()) {
        // Not awaited: a `job wait` must not hold up the requests behind it.
        for (const message of batch) this.#respond(connection, message);
      }
    } catch (error) {
      if (!connection.closed) {
        log.warn(`Client connection from ${peer} failed: ${describeError(error)}`);
      }
    } finally {
      connection.close();
      this.#clients.delete(connection);
      this.#streams.get(connection)?.();
      this.#jobService.dropWaiters(connection);
      for (const [jobId, subscribers] of this.#notifySubscribers) {
        subscribers.delete(connection);
        if (subscribers.size === 0) this.#notifySubscribers.delete(jobId);
      }
    }
  }

  async #respond(connection: ClientConnection, message: ClientMessage): Promise<void> {
    let response: ServerResponse;
    const request = message.request;
    if (request.type === "notify-subscribe") {
      this.#subscribe(connection, request.jobIds);
      connection.send({ type: "response", requestId: message.requestId, response: { type: "ok" } });
      return;
    }
    const modifying = MODIFYING_REQUESTS.has(request.type);
    try {
      validateClientRequest(request);
      // What cannot be journaled is not done (journal spec §1.3); a failed journal is tried
      // again first, as the disk may have room again.
      if (modifying && this.#journal.failure !== null) await this.#journal.recover();
      const failure = modifying ? this.#journal.failure : null;
      if (failure) throw failure;
      response = await this.#handleRequest(request, connection);
    } catch (error) {
      if (!(error instanceof HqError)) {
        log.error(`Request "${request.type}" failed: ${describeError(error)}`);
      }
      response = { type: "error", message: describeError(error) };
    }
    if (
      (request.type === "submit" || request.type === "submit-graph") &&
      response.type === "job-created"
    ) this.#autoalloc.requestPass();
    // Subscribed before any task of the job can start, so no notification is missed.
    if (request.type === "submit" && request.subscribeNotify && response.type === "job-created") {
      this.#subscribe(connection, [response.jobId]);
    }
    connection.send({ type: "response", requestId: message.requestId, response });
    if (message.request.type === "stop-server") {
      await connection.flush().catch(() => {});
      this.stop();
    }
  }

  async #handleRequest(
    request: ClientRequest,
    connection: ClientConnection,
  ): Promise<ServerResponse> {
    switch (request.type) {
      case "server-info":
        return { type: "server-info", info: this.info };
      case "stop-server":
        // Gone from the server directory before the client hears back, so that a script's next
        // command after `hq server stop` already sees the server as stopped.
        await this.#releaseServerDir();
        return { type: "ok" };
      case "debug-dump":
        return await this.#debugDump(request.path);
      case "journal-flush":
        await this.#journal.flush();
        return { type: "ok" };
      case "journal-prune":
        await this.#journal.prune((event) => this.#pruned(event));
        return { type: "ok" };
      case "journal-replay":
        return await this.#replay(connection, request.live, request.overviews === true);
      case "worker-list":
        return { type: "workers", workers: this.#workers.list(request.filter) };
      case "worker-info":
        return { type: "workers", workers: this.#workers.info(request.selector) };
      case "worker-stop":
        return { type: "worker-stop", results: this.#workers.stop(request.selector) };
      case "alloc-add":
      case "alloc-dry-run":
      case "alloc-list":
      case "alloc-info":
      case "alloc-log":
      case "alloc-pause":
      case "alloc-resume":
      case "alloc-remove":
        return await this.#autoalloc.handle(request);
      default:
        return await this.#jobService.handle(request, connection);
    }
  }

  /**
   * Pushes the past events, then (with `live`) the new ones until the client goes away. With
   * `overviews` (a live dashboard) the workers send overviews meanwhile; other streams skip those.
   */
  async #replay(
    connection: ClientConnection,
    live: boolean,
    overviews: boolean,
  ): Promise<ServerResponse> {
    const transient = this.#workers.transientEvents;
    const isTransient = ([, event]: [number, JournalEvent]) =>
      event.type === "worker-overview" && transient.has(event);
    // What is for the restore only (not exported) is not streamed either.
    const isSkipped = (record: [number, JournalEvent]) =>
      !isPublicJournalEvent(record[1]) || (!overviews && isTransient(record));
    const send = (records: Array<[number, JournalEvent]>) => {
      if (records.some(isSkipped)) {
        records = records.filter((record) => !isSkipped(record));
        if (records.length === 0) return;
      }
      connection.send({ type: "journal-records", records });
    };
    const journalStop = await this.#journal.replay(
      send,
      live,
      () => synthesizeHistory(this.#core, this.info.serverUid, this.info.startDateMs),
    );
    if (!live) return { type: "ok" };
    const release = overviews ? this.#workers.forceOverviews() : () => {};
    const stop = () => {
      journalStop();
      release();
    };
    if (connection.closed || this.#stopping) {
      stop();
      return { type: "ok" };
    }
    // The stream ends when the server stops (the connection closes) or the client leaves.
    await new Promise<void>((resolve) => {
      this.#streams.set(connection, () => {
        stop();
        this.#streams.delete(connection);
        resolve();
      });
    });
    return { type: "ok" };
  }

  /** The highest job and worker ids used so far, for `server-start` (restores never reuse them). */
  #lastIds(): { lastJobId: number; lastWorkerId: number } {
    return {
      lastJobId: this.#jobService.lastJobId,
      lastWorkerId: Math.max(this.#restoredLastWorkerId, this.#workers.lastWorkerId),
    };
  }

  /**
   * What `hq journal prune` keeps of an event (journal spec §1.5), as HyperQueue does: live jobs'
   * events (open, or with waiting or running tasks), connected workers' events, cancels and aborts
   * trimmed to live jobs' tasks, server events; null drops it. The ids of what is dropped stay
   * used: the kept `server-start`s carry the highest ids, where `export` does not show them.
   */
  #pruned(event: JournalEvent): JournalEvent | null {
    const liveJob = (jobId: number) => {
      const job = this.#core.jobs.get(jobId);
      return job !== undefined && (job.isOpen || job.activeTasks > 0);
    };
    switch (event.type) {
      case "server-start":
        return { ...event, ...this.#lastIds() };
      case "server-stop":
      case "autoalloc-queue-created":
      case "autoalloc-queue-removed":
      case "autoalloc-allocation-queued":
      case "autoalloc-allocation-started":
      case "autoalloc-allocation-finished":
        return event;
      case "worker-connected":
      case "worker-overview":
        return this.#core.isRunning(event.workerId) ? event : null;
      case "worker-lost":
        return this.#core.isRunning(event.workerId) ? event : null;
      case "job-completed":
      case "job-open":
      case "job-created":
      case "job-close":
      case "job-cancel":
      case "task-started":
      case "task-finished":
      case "task-failed":
        return liveJob(event.jobId) ? event : null;
      case "job-idle":
      case "task-notify":
        return null; // Live only; never in the file.
      case "tasks-canceled":
      case "tasks-aborted": {
        const tasks = event.tasks.filter(([jobId]) => liveJob(jobId));
        if (tasks.length === 0) return null;
        return tasks.length === event.tasks.length ? event : { ...event, tasks };
      }
      case "tasks-taken-back": {
        // A restore needs them to never hand those instance ids out again.
        const tasks = event.tasks.filter(([jobId]) => liveJob(jobId));
        if (tasks.length === 0) return null;
        return tasks.length === event.tasks.length ? event : { ...event, tasks };
      }
    }
  }

  async #debugDump(path: string): Promise<ServerResponse> {
    const dump = {
      // Where HyperQueue's dump keeps the scheduler's state; the rest is ours.
      tako: takoDump(this.#core),
      info: this.info,
      serverDir: this.serverDir,
      instanceDir: this.instanceDir,
      connectedClients: this.#clients.size,
      pendingWaits: this.#jobService.pendingWaits,
      connectedWorkers: this.#workers.connectedCount,
      workers: this.#workers.list("all"),
      memory: Deno.memoryUsage(),
    };
    try {
      await Deno.writeTextFile(path, JSON.stringify(dump, null, 2) + "\n");
      return { type: "ok" };
    } catch (error) {
      return {
        type: "error",
        message: `Cannot write debug dump to "${path}": ${describeError(error)}`,
      };
    }
  }
}

/**
 * Points an earlier instance directory of this server directory at this server (its server is
 * gone: only one server runs per directory), by copying this instance's access file there: the
 * workers of allocations queued by the earlier server then find this one.
 */
async function readdressInstance(
  serverDir: string,
  oldInstanceDir: string,
  instanceDir: string,
): Promise<void> {
  if (dirname(oldInstanceDir) !== serverDir) return;
  const target = joinPath(oldInstanceDir, ACCESS_FILE_NAME);
  try {
    await Deno.lstat(target);
  } catch {
    return; // Not an instance directory (any more).
  }
  const temporary = `${target}.${Deno.pid}.tmp`;
  await Deno.copyFile(joinPath(instanceDir, ACCESS_FILE_NAME), temporary);
  await Deno.rename(temporary, target);
  log.info(`Access file of ${oldInstanceDir} now points at this server`);
}
