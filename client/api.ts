/**
 * The typed TypeScript API of hq (`mod.ts`): a connection to a running server with one method
 * per client command, typed results and errors, and the event stream of journal spec §1.2.
 */
import { ConnectionClosedError, ConnectionError, HqError } from "../common/errors.ts";
import type { IdRange } from "../common/id_ranges.ts";
import { parseIdSelector } from "../common/id_selector.ts";
import type { JobDetailView, JobSummaryView, TaskView } from "../common/job_types.ts";
import { isPublicJournalEvent } from "../common/journal/journal_events.ts";
import type { IdSelector } from "../common/protocol.ts";
import { expandJobDetail } from "../common/task_columns.ts";
import type {
  AllocQueue,
  HqEventBody,
  JobActionResult,
  JobSpec,
  JobState,
  OutputSpec,
  ServerInfo,
  TaskCounts,
  TaskExplanation,
  TaskState,
  Worker,
  WorkerFilter,
} from "./api_types.ts";
import { expectResponse, HqClient } from "./hq_client.ts";
import type { ArrayDefinition, RequestDefinition } from "./job_definition.ts";

/** Where the server is and how long connecting may take. */
export interface HqConnectOptions {
  /**
   * The server directory (`--server-dir`, `HQ_SERVER_DIR`); the default is `$HQ_SERVER_DIR`,
   * else `~/.hq-server`.
   */
  serverDir?: string;
  /** Bound on connecting plus the handshake, in milliseconds. @default {10_000} */
  timeoutMs?: number;
}

/** A job or task id, several ids, or id selector text such as `"1-10"`, `"last"` or `"all"`. */
export type IdsLike = number | readonly number[] | string;

/** A job of one command as `hq submit` makes it: a single task, or an array with `array`. */
export interface SubmitOptions {
  /** The program and its arguments (no shell). */
  command: string[];
  /** The job name. @default {the program's file name} */
  name?: string;
  /** Task ids (`--array` syntax, e.g. `"1-10"`); without it one task with id 0. */
  array?: string;
  /** One `HQ_ENTRY` per task (`--each-line`); ids are 0.. unless `array` names them. */
  entries?: string[];
  /** Extra environment variables of the tasks. */
  env?: Record<string, string>;
  /** Working directory of the tasks (placeholders allowed). @default {the submit directory} */
  cwd?: string;
  /** Stdout of each task: a path (placeholders allowed) or `"none"`. */
  stdout?: OutputSpec;
  /** Stderr of each task: a path (placeholders allowed) or `"none"`. */
  stderr?: OutputSpec;
  /** Text given to each task on stdin. */
  stdin?: string;
  /** Resources each task needs, e.g. `{ cpus: 2, mem: "1024" }` (`--resource`). */
  resources?: Record<string, number | string>;
  /** Time limit of each task, humantime such as `"10m"`. */
  timeLimit?: string;
  /** Minimal remaining lifetime of a worker, humantime (`--time-request`). */
  timeRequest?: string;
  /** Scheduling priority. @default {0} */
  priority?: number;
  /** How often a task may be lost with its worker before it fails. */
  crashLimit?: number | "never-restart" | "unlimited";
  /** Cancel the job's remaining tasks after this many failed ones. */
  maxFails?: number;
  /** Pinning of the tasks' processes. */
  pin?: "taskset" | "omp";
  /** Give each task a temporary directory (`HQ_TASK_DIR`). */
  taskDir?: boolean;
  /** Add the tasks to this open job (`--job`). */
  jobId?: number;
  /** The directory `%{SUBMIT_DIR}` and relative paths refer to. @default {Deno.cwd()} */
  submitDir?: string;
}

/** A job as `hq job list` shows it. */
export interface JobSummary {
  /** Job id. */
  id: number;
  /** Job name. */
  name: string;
  /** State derived from the tasks' states. */
  state: JobState;
  /** An open job (`hq job open`) takes more submits until it is closed. */
  isOpen: boolean;
  /** Number of tasks. */
  taskCount: number;
  /** How many tasks are in each state. */
  taskStats: TaskCounts;
  /** The reason given to `hq job cancel`, if any. */
  cancelReason: string | null;
}

/** A job in detail, as `hq job info` shows it. */
export interface Job extends JobSummary {
  /** Cancel the remaining tasks after this many failed ones (null: never). */
  maxFails: number | null;
  /** When the job was submitted. */
  submittedAt: Date;
  /** When its last task ended (null while it has active tasks or is open). */
  completedAt: Date | null;
}

/** A task, as `hq task list`/`hq task info` show it. */
export interface Task {
  /** Task id. */
  id: number;
  /** Task state. */
  state: TaskState;
  /** Incremented each time the task is started again (after its worker was lost). */
  instanceId: number;
  /** The worker of a running or ended task (the root worker of a multi-node task). */
  workerId: number | null;
  /** A multi-node task's workers, root first; null for a single-node task. */
  nodeIds: number[] | null;
  /** When its last instance started. */
  startedAt: Date | null;
  /** When it ended. */
  finishedAt: Date | null;
  /** Why a failed task failed. */
  error: string | null;
}

/** One event of the server (journal spec §1.2): when, and what. */
export interface HqEvent {
  /** Milliseconds since the Unix epoch. */
  timeMs: number;
  /** What happened. */
  event: HqEventBody;
}

/** What `stopWorker` did to one worker. */
export interface WorkerStopResult {
  /** The worker. */
  workerId: number;
  /** What happened to it. */
  outcome: "stopped" | "already-stopped" | "not-found";
}

/** A job, task or worker that the server does not know. */
export class NotFoundError extends HqError {}

/**
 * Connects to the server of `options.serverDir`. Close the connection with `close()`, or let
 * `await using` close it:
 *
 * ```ts
 * import { connect } from "./mod.ts";
 * await using hq = await connect({ serverDir: "/tmp/hq-server" });
 * console.log((await hq.serverInfo()).version);
 * ```
 *
 * @throws {ServerDirError} when the server directory has no usable access file.
 * @throws {ConnectionError} when the server cannot be reached.
 */
export function connect(options: HqConnectOptions = {}): Promise<Hq> {
  return Hq.connect(options);
}

/** A connection to a running hq server. Made by {@link connect}. */
export class Hq implements AsyncDisposable {
  readonly #client: HqClient;
  readonly #options: HqConnectOptions;
  readonly #streams = new Set<HqClient>();
  #closed = false;

  private constructor(client: HqClient, options: HqConnectOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** Connects to the server of `options.serverDir`; the same as {@link connect}. */
  static async connect(options: HqConnectOptions = {}): Promise<Hq> {
    return new Hq(await HqClient.connect(options), options);
  }

  /** The server's version, address, start time and journal. */
  serverInfo(): Promise<ServerInfo> {
    return this.#client.serverInfo();
  }

  /** Asks the server to stop. */
  stopServer(): Promise<void> {
    return this.#client.stopServer();
  }

  /**
   * Submits a job of one command (what `hq submit` does); `array` makes it a task array.
   * Resolves with the job id once the server has it (on disk too, with a journal).
   */
  async submit(options: SubmitOptions): Promise<{ jobId: number }> {
    const array: ArrayDefinition = { command: options.command };
    if (options.array !== undefined) array.ids = options.array;
    else if (options.entries === undefined) array.ids = "0";
    if (options.entries !== undefined) array.entries = options.entries;
    if (options.env !== undefined) array.env = options.env;
    if (options.cwd !== undefined) array.cwd = options.cwd;
    if (options.stdout !== undefined) array.stdout = options.stdout;
    if (options.stderr !== undefined) array.stderr = options.stderr;
    if (options.stdin !== undefined) array.stdin = options.stdin;
    if (options.timeLimit !== undefined) array.time_limit = options.timeLimit;
    if (options.priority !== undefined) array.priority = options.priority;
    if (options.crashLimit !== undefined) array.crash_limit = options.crashLimit;
    if (options.pin !== undefined) array.pin = options.pin;
    if (options.taskDir !== undefined) array.task_dir = options.taskDir;
    if (options.resources !== undefined || options.timeRequest !== undefined) {
      const request: RequestDefinition = {};
      if (options.resources !== undefined) request.resources = options.resources;
      if (options.timeRequest !== undefined) request.time_request = options.timeRequest;
      array.request = [request];
    }
    const definition: JobSpec = {
      name: options.name ?? defaultJobName(options.command),
      array,
    };
    if (options.maxFails !== undefined) definition.max_fails = options.maxFails;
    return { jobId: await this.submitJob(definition, options) };
  }

  /**
   * Submits a job definition: the keys of a TOML job file (`hq job submit-file`) as an object,
   * e.g. tasks with ids, dependencies (`deps`) and resource variants (`request`). With `jobId`,
   * into that open job. Resolves with the job id.
   *
   * @throws {JobDefinitionError} when the definition breaks a rule of the job file format.
   */
  submitJob(
    definition: JobSpec,
    options: { jobId?: number; submitDir?: string } = {},
  ): Promise<number> {
    return this.#client.submitJob(definition, options);
  }

  /** Opens a job that takes submits until {@link closeJob} (`hq job open`). */
  async openJob(options: { name?: string; maxFails?: number } = {}): Promise<number> {
    const response = await this.#client.request({
      type: "job-open",
      name: options.name ?? "",
      maxFails: options.maxFails ?? null,
    });
    return expectResponse(response, "job-created").jobId;
  }

  /** Closes open jobs (`hq job close`). */
  async closeJob(ids: IdsLike): Promise<JobActionResult[]> {
    const response = await this.#client.request({ type: "job-close", selector: selector(ids) });
    return expectResponse(response, "job-actions").results;
  }

  /** The jobs the server knows (`hq job list --all`), or those in one of `states`. */
  async jobs(options: { states?: JobState[] } = {}): Promise<JobSummary[]> {
    const response = await this.#client.request(
      options.states ? { type: "job-list", states: options.states } : { type: "job-list" },
    );
    return expectResponse(response, "jobs").jobs.map(jobSummary);
  }

  /**
   * One job in detail.
   * @throws {NotFoundError} when the server does not know the job.
   */
  async job(id: number): Promise<Job> {
    return jobOf(await this.#detail(id));
  }

  /**
   * The tasks of a job, all of them or those of `ids` (ids or `--tasks` selector text).
   * @throws {NotFoundError} when the server does not know the job.
   */
  async tasks(jobId: number, ids?: IdsLike): Promise<Task[]> {
    const detail = await this.#detail(jobId);
    let tasks = detail.tasks;
    if (ids !== undefined) {
      const wanted = idSet(ids);
      tasks = tasks.filter((task) => wanted(task.id));
    }
    return tasks.map(taskOf);
  }

  /** Why a waiting task does not run, or where it could (`hq task explain`). */
  async explain(jobId: number, taskId: number): Promise<TaskExplanation> {
    const response = await this.#client.request({
      type: "task-explain",
      job: selector(jobId),
      taskId,
    });
    return expectResponse(response, "task-explain").explanation;
  }

  /**
   * Waits until the job is completed (every task ended and the job closed), then returns it;
   * with `withoutClose`, an open job is awaited until it has no active task.
   */
  async wait(jobId: number, options: { withoutClose?: boolean } = {}): Promise<Job> {
    await this.#client.request({
      type: "job-wait",
      selector: selector(jobId),
      withoutClose: options.withoutClose ?? false,
    });
    return await this.job(jobId);
  }

  /** Cancels jobs (`hq job cancel`): their waiting and running tasks end as canceled. */
  async cancel(ids: IdsLike, options: { reason?: string } = {}): Promise<JobActionResult[]> {
    const response = await this.#client.request({
      type: "job-cancel",
      selector: selector(ids),
      reason: options.reason ?? null,
    });
    return expectResponse(response, "job-actions").results;
  }

  /**
   * Makes the server forget completed jobs (`hq job forget`); `states` as `--filter`
   * (default: every end state).
   */
  async forget(ids: IdsLike, options: { states?: TaskState[] } = {}): Promise<JobActionResult[]> {
    const response = await this.#client.request({
      type: "job-forget",
      selector: selector(ids),
      states: options.states ?? ["finished", "failed", "aborted", "canceled"],
    });
    return expectResponse(response, "job-actions").results;
  }

  /** Workers (`hq worker list`): `running` (default), `offline` or `all`. */
  workers(filter: WorkerFilter = "running"): Promise<Worker[]> {
    return this.#client.workerList(filter);
  }

  /**
   * One worker in detail (`hq worker info`).
   * @throws {NotFoundError} when the server does not know the worker.
   */
  async worker(id: number): Promise<Worker> {
    const [worker] = await this.#client.workerInfo(selector(id));
    if (!worker) throw new NotFoundError(`Worker ${id} not found`);
    return worker;
  }

  /** Stops workers (`hq worker stop`). */
  stopWorker(ids: IdsLike): Promise<WorkerStopResult[]> {
    return this.#client.workerStop(selector(ids));
  }

  /** The allocation queues (`hq alloc list`). */
  async allocQueues(): Promise<AllocQueue[]> {
    return expectResponse(await this.#client.request({ type: "alloc-list" }), "alloc-queues")
      .queues;
  }

  /**
   * The server's events (journal spec §1.2): every past event (from its journal, or rebuilt
   * from its state without one), then, unless `live` is false, new events as they happen, until
   * the server stops, the loop breaks or this connection is closed. Uses a connection of its own.
   *
   * ```ts
   * for await (const { timeMs, event } of hq.events()) {
   *   if (event.type === "task-failed") console.log(new Date(timeMs), event.error);
   * }
   * ```
   */
  async *events(options: { live?: boolean } = {}): AsyncGenerator<HqEvent, void, undefined> {
    const live = options.live ?? true;
    if (this.#closed) throw new ConnectionClosedError();
    const stream = await HqClient.connect(this.#options);
    this.#streams.add(stream);
    const batches: HqEvent[][] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let failure: unknown = null;
    stream.onJournalRecords = (records) => {
      const batch: HqEvent[] = [];
      for (const [timeMs, event] of records) {
        // A server streams no internal event; one that did is skipped.
        if (isPublicJournalEvent(event)) batch.push({ timeMs, event });
      }
      batches.push(batch);
      wake?.();
    };
    stream.request({ type: "journal-replay", live }).then(
      () => {
        ended = true;
        wake?.();
      },
      (error) => {
        // A live stream ends when the server stops or this side closes the connection.
        if (!(live && error instanceof ConnectionError)) failure = error;
        ended = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        const batch = batches.shift();
        if (batch) {
          yield* batch;
          continue;
        }
        if (ended) {
          if (failure !== null && !this.#closed) throw failure;
          return;
        }
        await new Promise<void>((resolve) => wake = resolve);
        wake = null;
      }
    } finally {
      this.#streams.delete(stream);
      stream.close();
    }
  }

  /** Closes the connection and every event stream of it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.#streams) stream.close();
    this.#client.close();
  }

  /** For `await using`: closes the connection. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #detail(id: number): Promise<JobDetailView> {
    const response = expectResponse(
      await this.#client.request({ type: "job-info", selector: selector(id) }),
      "job-details",
    );
    const [wire] = response.jobs;
    if (!wire) throw new NotFoundError(`Job ${id} not found`);
    return expandJobDetail(wire);
  }
}

function defaultJobName(command: string[]): string {
  const program = command[0] ?? "";
  return program.slice(program.lastIndexOf("/") + 1);
}

function selector(ids: IdsLike): IdSelector {
  if (typeof ids === "string") return parseIdSelector(ids);
  const list = typeof ids === "number" ? [ids] : ids;
  return { type: "ids", ranges: list.map((id): IdRange => [id, id, 1]) };
}

function idSet(ids: IdsLike): (id: number) => boolean {
  if (typeof ids === "number") return (id) => id === ids;
  if (typeof ids !== "string") {
    const set = new Set(ids);
    return (id) => set.has(id);
  }
  const parsed = parseIdSelector(ids);
  if (parsed.type !== "ids") return () => true;
  return (id) =>
    parsed.ranges.some(([start, end, step]) =>
      id >= start && id <= end && (id - start) % step === 0
    );
}

function jobSummary(view: JobSummaryView): JobSummary {
  return {
    id: view.id,
    name: view.name,
    state: view.state,
    isOpen: view.isOpen,
    taskCount: view.taskCount,
    taskStats: { ...view.counts },
    cancelReason: view.cancelReason,
  };
}

function jobOf(view: JobDetailView): Job {
  return {
    ...jobSummary(view),
    maxFails: view.maxFails,
    submittedAt: new Date(view.submittedMs),
    completedAt: view.completedMs === null ? null : new Date(view.completedMs),
  };
}

function taskOf(view: TaskView): Task {
  return {
    id: view.id,
    state: view.state,
    instanceId: view.instanceId,
    workerId: view.workerId,
    nodeIds: view.nodeIds,
    startedAt: view.startedMs === null ? null : new Date(view.startedMs),
    finishedAt: view.finishedMs === null ? null : new Date(view.finishedMs),
    error: view.error,
  };
}
