/**
 * Runs the tasks the server assigns to this worker (jobs spec §4, §5). The server may hand out
 * more tasks than there are free resources: they wait in a local queue whose policy (which task
 * starts next, which goes back to the server) is `core/local_queue.ts`, and start as soon as
 * their resources free up, with the labels chosen here (resources spec §4). Each task is prepared (env, placeholders,
 * directories, task dir, pinning), reported running, spawned in its own process group with its
 * outputs on files, held to its time limit, and reported when it ends. Canceled tasks are
 * stopped (or dropped from the queue) and not reported.
 */
import { describeError } from "../common/errors.ts";
import { requestVariants, type TaskTemplate } from "../common/job_types.ts";
import type { ResourceRequestEntry } from "../common/resources/resource_request.ts";
import { logger } from "../common/log.ts";
import { LongTimeout } from "../common/long_timeout.ts";
import { dirname, joinPath } from "../common/paths.ts";
import { resolveForTask } from "../common/placeholders.ts";
import type { AssignedTaskMessage, TaskRefMessage, WorkerMessage } from "../common/protocol.ts";
import type { ResourceDescriptor } from "../common/resources/resource_descriptor.ts";
import { allocationEnv, type ResourceAllocation, ResourceAllocator } from "./resource_allocator.ts";
import { newTaskSecret, type NotifyListener, sameSecret } from "./notify_listener.ts";
import type { OrphanGuard } from "./orphan_guard.ts";
import type { OutputStreams, StreamFile } from "./output_streams.ts";
import {
  describeExit,
  type ProcessExit,
  SpawnError,
  spawnTask,
  type TaskProcess,
} from "./task_process.ts";
import { noteTaskEnded } from "./memory_trim.ts";
import { LocalQueue, type QueuedTask } from "./core/local_queue.ts";
// Linux's errno values, which HyperQueue's hints are chosen by.
import { EACCES, ENOENT } from "./_libc.ts";

const log = logger("worker::task_runner");

/** How long a streamed task's pipes may stay open after it exited (held by what it left behind). */
const PIPE_DRAIN_MS = 1_000;
/**
 * Start, finish and failure reports wait up to this long to share one frame, while at least
 * `DEFER_MIN_QUEUED` tasks wait in the local queue (the server then needs no report to keep the
 * worker busy). One frame per task cost the worker ~100 µs (msgpack, AES-GCM, a write) and the
 * server as much again to open it (bench `job_throughput`).
 */
const REPORT_DEFER_MS = 4;
const DEFER_MIN_QUEUED = 4;
const ERROR_FILE_NAME = "hq-error";
const ERROR_FILE_LIMIT = 2048;

interface RunningTask {
  ref: TaskRefMessage;
  process: TaskProcess | null;
  /** Set when the server canceled the task: its end is not reported. */
  canceled: boolean;
  timedOut: boolean;
  /** The secret of its `HQ_ACCESS_KEY`, once started with one. */
  notifySecret?: string;
}

interface QueuedItem {
  task: AssignedTaskMessage;
  entry: RunningTask;
  /** The request (variant) the server chose for it. */
  request: ResourceRequestEntry[];
}

export interface TaskRunnerOptions {
  /** The worker's scratch directory (task dirs and stdin files live here). */
  workDir: string;
  /** The worker's resources. */
  resources: ResourceDescriptor;
  /** Sends a message to the server. */
  send: (message: WorkerMessage) => void;
  /** The environment tasks inherit. @default {Deno.env.toObject()} */
  env?: Record<string, string>;
  /** Told of every task process group, to end them if the worker dies. */
  guard?: OrphanGuard | null;
  /** Gives each task its `HQ_ACCESS_KEY` for `hq task notify`. */
  notify?: NotifyListener | null;
  /** Absolute path of an `hq` executable, for the tasks' `HQ` variable. */
  hqPath?: string;
  /** Report every task started and finished at once instead of running it (benchmarks). */
  zeroWorker?: boolean;
  /** Where streamed tasks' output goes (spec §10.1); without it such tasks fail. */
  streams?: OutputStreams | null;
  /**
   * When the worker's time limit ends it (`Date.now()` time), or null: a queued task whose time
   * request no longer fits is handed back instead of started. @default {null}
   */
  endMs?: number | null;
}

export class TaskRunner {
  /** Templates by job id, then submit index (dropped when the server says the job is done). */
  readonly #templates = new Map<number, TaskTemplate[]>();
  /** `--stdin` files by job id, then submit index. */
  readonly #stdinFiles = new Map<number, string[]>();
  readonly #running = new Map<string, RunningTask>();
  /** Assigned tasks waiting for resources. */
  readonly #queue: LocalQueue<QueuedItem>;
  readonly #allocator: ResourceAllocator;
  /** Directories this worker already created (a deleted one fails the spawn, which is reported). */
  readonly #existingDirs = new Set<string>();
  readonly #baseEnv: Record<string, string>;
  #accepting = true;
  /** Reports held back to share a frame (see REPORT_DEFER_MS), in order. */
  #deferred: WorkerMessage[] = [];
  #deferTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushDeferred = () => this.#flushReports();

  constructor(private readonly options: TaskRunnerOptions) {
    this.#baseEnv = options.env ?? Deno.env.toObject();
    this.#allocator = new ResourceAllocator(options.resources);
    this.#queue = new LocalQueue(this.#allocator);
  }

  get runningCount(): number {
    return this.#running.size;
  }

  addTemplates(
    templates: Array<{ jobId: number; submitIndex: number; template: TaskTemplate }>,
  ): void {
    for (const { jobId, submitIndex, template } of templates) {
      let submits = this.#templates.get(jobId);
      if (!submits) this.#templates.set(jobId, submits = []);
      submits[submitIndex] = template;
    }
  }

  /** Forgets completed jobs: their templates, and their `--stdin` files on disk. */
  dropJobs(jobIds: number[]): void {
    for (const jobId of jobIds) {
      this.#templates.delete(jobId);
      const stdinFiles = this.#stdinFiles.get(jobId);
      if (!stdinFiles) continue;
      this.#stdinFiles.delete(jobId);
      for (const path of stdinFiles) if (path) Deno.remove(path).catch(() => {});
    }
  }

  #template(task: AssignedTaskMessage): TaskTemplate | undefined {
    return this.#templates.get(task.jobId)?.[task.submitIndex];
  }

  assign(tasks: AssignedTaskMessage[]): void {
    if (!this.#accepting) return;
    for (const task of tasks) {
      const entry: RunningTask = {
        ref: refOf(task),
        process: null,
        canceled: false,
        timedOut: false,
      };
      this.#running.set(`${task.jobId}:${task.taskId}`, entry);
      const template = this.#template(task) ?? null;
      const variant = template ? requestVariants(template)[task.variant ?? 0] : undefined;
      const request = variant?.resources ?? [];
      this.#queue.add({
        item: { task, entry, request },
        request,
        timeRequestMs: variant?.timeRequestMs ?? 0,
        priority: template?.priority ?? 0,
      });
    }
    this.#startQueued();
  }

  /**
   * Starts the queued tasks the queue's policy picks, and gives back to the server those whose
   * time request no longer fits the worker's remaining time.
   */
  #startQueued(): void {
    // Each task's end comes here: with nothing queued, no pass (its sets, maps and closure).
    if (this.#queue.size === 0) return;
    const endMs = this.options.endMs ?? null;
    const handedBack: TaskRefMessage[] = [];
    this.#queue.next(endMs === null ? null : endMs - Date.now(), (decision) => {
      if (decision.type === "start") {
        this.#launch(decision.item, decision.allocation);
        return;
      }
      const { task, entry } = decision.item;
      this.#forget(task, entry);
      handedBack.push(entry.ref);
    });
    if (handedBack.length > 0) this.#sendNow({ type: "tasks-retracted", tasks: handedBack });
  }

  #launch({ task, entry, request }: QueuedItem, allocation: ResourceAllocation): void {
    if (this.options.zeroWorker) {
      // The whole protocol (queue, allocation, reports) without a process: start and end are
      // sent together and the resources are free again before the next queued task is tried.
      this.#report({ type: "task-started", task: entry.ref });
      this.#report({ type: "task-finished", task: entry.ref });
      this.#forget(task, entry);
      this.#allocator.release(allocation);
      return;
    }
    this.#run(task, entry, request, allocation).catch((error) => {
      log.error(`Task ${task.jobId}@${task.taskId} failed in the worker: ${describeError(error)}`);
    }).finally(() => {
      this.#forget(task, entry);
      this.#allocator.release(allocation);
      if (this.#accepting) this.#startQueued();
    });
  }

  #forget(task: AssignedTaskMessage, entry: RunningTask): void {
    const key = `${task.jobId}:${task.taskId}`;
    if (this.#running.get(key) === entry) this.#running.delete(key);
  }

  /** Gives back to the server those of these tasks still queued here (not started). */
  retract(refs: TaskRefMessage[]): void {
    const wanted = new Set(refs.map((ref) => `${ref.jobId}:${ref.taskId}:${ref.instanceId}`));
    this.#giveBack(({ item: { entry: { ref } } }) =>
      wanted.has(`${ref.jobId}:${ref.taskId}:${ref.instanceId}`)
    );
  }

  /**
   * Gives back the queued tasks whose time request no longer fits the worker's remaining time
   * (server-worker spec §4.1 `--retract-check-interval`, resources spec §3.8).
   */
  retractLate(remainingMs: number): void {
    this.#giveBack((queued) => queued.timeRequestMs > remainingMs);
  }

  #giveBack(wanted: (queued: QueuedTask<QueuedItem>) => boolean): void {
    const retracted: TaskRefMessage[] = [];
    for (const { item: { task, entry } } of this.#queue.remove(wanted)) {
      this.#forget(task, entry);
      retracted.push(entry.ref);
    }
    if (retracted.length > 0) this.#sendNow({ type: "tasks-retracted", tasks: retracted });
  }

  /**
   * Passes on a running task's notification; false if that instance is not running here or the
   * secret is not its own (another task of this worker speaking for it).
   */
  notify(task: TaskRefMessage, secret: string, message: Uint8Array): boolean {
    const entry = this.#running.get(`${task.jobId}:${task.taskId}`);
    if (!entry || entry.ref.instanceId !== task.instanceId || entry.process === null) return false;
    if (entry.notifySecret === undefined || !sameSecret(secret, entry.notifySecret)) return false;
    this.#sendNow({ type: "task-notify", task: entry.ref, message });
    return true;
  }

  /** Stops canceled or aborted tasks (SIGINT, 1 s, SIGKILL); nothing is reported for them. */
  cancel(refs: TaskRefMessage[]): void {
    let queued = false;
    for (const ref of refs) {
      const entry = this.#running.get(`${ref.jobId}:${ref.taskId}`);
      if (!entry || entry.ref.instanceId !== ref.instanceId) continue;
      entry.canceled = true;
      if (entry.process) entry.process.stop().catch(() => {});
      else queued = true;
    }
    if (!queued) return;
    for (const { item: { task, entry } } of this.#queue.remove(({ item }) => item.entry.canceled)) {
      this.#forget(task, entry);
    }
  }

  /** Takes no new tasks and stops every running one (worker stop, server lost with `stop`). */
  async stopAll(): Promise<void> {
    this.#accepting = false;
    this.#flushReports();
    this.#queue.clear();
    const stopping = [...this.#running.values()].map((entry) => {
      entry.canceled = true;
      return entry.process?.stop().catch(() => {});
    });
    await Promise.allSettled(stopping);
  }

  /** Takes no new tasks and waits for the running ones (`--on-server-lost finish-running`). */
  async finishRunning(): Promise<void> {
    this.#accepting = false;
    this.#flushReports();
    for (const { item: { task, entry } } of this.#queue.clear()) this.#forget(task, entry);
    await Promise.allSettled([...this.#running.values()].map((entry) => entry.process?.exited));
  }

  async #run(
    task: AssignedTaskMessage,
    entry: RunningTask,
    request: ResourceRequestEntry[],
    allocation: ResourceAllocation,
  ): Promise<void> {
    const template = this.#template(task);
    if (!template) {
      this.#fail(entry, "The worker did not receive the task's definition", false);
      return;
    }
    const paths = resolveForTask(template, {
      jobId: task.jobId,
      taskId: task.taskId,
      instanceId: task.instanceId,
      submitDir: template.submitDir,
      serverUid: this.options.streams?.serverUid ?? "",
    });
    const streamed = template.stream ?? null;
    if (streamed?.stdout) paths.stdout = null;
    if (streamed?.stderr) paths.stderr = null;
    let stream: StreamFile | null = null;
    if (streamed && (streamed.stdout || streamed.stderr)) {
      try {
        if (!this.options.streams) throw new Error("This worker cannot stream output");
        stream = await this.options.streams.open(streamed.dir);
      } catch (error) {
        this.#fail(entry, describeError(error), false);
        return;
      }
    }
    const env: Record<string, string> = { ...this.#baseEnv, ...template.env };
    env.HQ_JOB_ID = String(task.jobId);
    env.HQ_TASK_ID = String(task.taskId);
    env.HQ_INSTANCE_ID = String(task.instanceId);
    env.HQ_SUBMIT_DIR = template.submitDir;
    // A line of `--each-line` that is not UTF-8 comes as bytes, and reaches the task unchanged.
    const byteEnv = task.entry instanceof Uint8Array ? { HQ_ENTRY: task.entry } : undefined;
    if (typeof task.entry === "string") env.HQ_ENTRY = task.entry;
    if (this.options.hqPath) env.HQ = this.options.hqPath;
    if (this.options.notify) {
      entry.notifySecret = newTaskSecret();
      env.HQ_ACCESS_KEY = this.options.notify.accessKey(entry.ref, entry.notifySecret);
    }
    Object.assign(env, allocationEnv(request, allocation, template.env));
    if (task.variant !== undefined) env.HQ_RESOURCE_VARIANT = String(task.variant);
    const cpus = allocation.entries.find((allocated) => allocated.name === "cpus")?.labels ?? [];
    let argv = template.args;
    if (template.pin !== null) {
      if (cpus.length === 0) {
        this.#fail(entry, "Pinning failed, no CPU ids allocated for task", false);
        return;
      }
      env.HQ_PIN = template.pin;
      if (template.pin === "taskset") argv = ["taskset", "-c", cpus.join(","), ...argv];
      else {
        // The worker's own OMP_* would pin to the wrong CPUs; only the user's `--env` wins.
        if (!("OMP_PROC_BIND" in template.env)) env.OMP_PROC_BIND = "close";
        if (!("OMP_PLACES" in template.env)) env.OMP_PLACES = `{${cpus.join(",")}}`;
      }
    }

    // Preparation: a failure here fails the task before it ever ran (spec §5.1).
    let taskDir: string | null = null;
    try {
      if (template.taskDir || task.nodes) {
        taskDir = await Deno.makeTempDir({ dir: this.options.workDir, prefix: "t" });
        env.HQ_TASK_DIR = taskDir;
        env.HQ_ERROR_FILENAME = joinPath(taskDir, ERROR_FILE_NAME);
      }
      if (taskDir && task.nodes) Object.assign(env, await writeNodeFiles(taskDir, task.nodes));
    } catch (error) {
      this.#fail(
        entry,
        `Cannot create task_dir in worker's workdir at ${this.options.workDir}: ${
          describeError(error)
        }`,
        false,
      );
      return;
    }
    try {
      for (const [name, path] of [["stdout", paths.stdout], ["stderr", paths.stderr]] as const) {
        if (path === null || this.#existingDirs.has(dirname(path))) continue;
        try {
          await Deno.mkdir(dirname(path), { recursive: true });
          this.#existingDirs.add(dirname(path));
        } catch (error) {
          this.#fail(
            entry,
            `Cannot create ${name} directory at ${dirname(path)}: ${describeError(error)}`,
            false,
          );
          return;
        }
      }
      const stdin = template.stdin ? await this.#stdinFile(task, template.stdin) : null;
      if (entry.canceled) return;

      this.#report({ type: "task-started", task: entry.ref });
      // Arrays share a working directory: create it once, not once per task.
      if (!this.#existingDirs.has(paths.cwd)) {
        try {
          await Deno.mkdir(paths.cwd, { recursive: true });
          this.#existingDirs.add(paths.cwd);
        } catch (error) {
          this.#fail(entry, `Could not create working directory: ${describeError(error)}`, true);
          return;
        }
      }
      stream?.start(entry.ref);
      const sink = (channel: 0 | 1) =>
        stream && { onData: (data: Uint8Array) => stream.chunk(entry.ref, channel, data) };
      const process = spawnTask({
        argv,
        env,
        byteEnv,
        cwd: paths.cwd,
        stdin,
        stdout: (streamed?.stdout && sink(0)) || paths.stdout,
        stderr: (streamed?.stderr && sink(1)) || paths.stderr,
      });
      // Set while the spawn is in flight: a cancel or stopAll() then stops the task once it runs.
      entry.process = process;
      try {
        await process.started;
      } catch (error) {
        await this.#endStream(stream, entry);
        this.#fail(entry, spawnErrorText(error, argv, paths.cwd), true);
        return;
      }
      this.options.guard?.add(process.pid);
      if (entry.canceled) process.stop().catch(() => {});
      let timer: LongTimeout | undefined;
      if (template.timeLimitMs !== null) {
        timer = new LongTimeout(() => {
          entry.timedOut = true;
          process.stop().catch(() => {});
        }, template.timeLimitMs);
      }
      let exit: ProcessExit;
      try {
        exit = await process.exited;
      } finally {
        timer?.clear();
        this.options.guard?.remove(process.pid);
      }
      if (stream) {
        // Canceled, aborted and timed-out tasks may lose output (spec §10.1): no waiting.
        if (entry.canceled || entry.timedOut) process.abandonPipes();
        else await drainPipes(process);
        const streamError = await this.#endStream(stream, entry);
        if (streamError !== null && !entry.timedOut) {
          this.#fail(entry, `Streaming: "${streamError}"`, true);
          return;
        }
      }
      if (entry.canceled) return;
      if (entry.timedOut) {
        this.#fail(entry, "Time limit reached", true);
        return;
      }
      const failure = describeExit(exit);
      if (failure === null) {
        await removeIf(template.removeStdoutIfFinished, paths.stdout);
        await removeIf(template.removeStderrIfFinished, paths.stderr);
        this.#report({ type: "task-finished", task: entry.ref });
      } else {
        this.#fail(entry, (taskDir && await readErrorFile(taskDir)) ?? failure, true);
      }
    } finally {
      if (taskDir) await Deno.remove(taskDir, { recursive: true }).catch(() => {});
      noteTaskEnded();
    }
  }

  /**
   * Sends a task's report, or holds it back a few ms to share a frame with the next ones while the
   * local queue is deep enough that the server needs no report to keep this worker busy.
   */
  #report(message: WorkerMessage): void {
    if (this.#queue.size < DEFER_MIN_QUEUED || !this.#accepting) {
      this.#sendNow(message);
      return;
    }
    this.#deferred.push(message);
    this.#deferTimer ??= setTimeout(this.#flushDeferred, REPORT_DEFER_MS);
  }

  /** Sends the message after the reports held back, so that the server sees them in order. */
  #sendNow(message: WorkerMessage): void {
    if (this.#deferred.length > 0) this.#flushReports();
    this.options.send(message);
  }

  /** Sends the reports held back now (before the worker stops, or when their time is up). */
  #flushReports(): void {
    if (this.#deferTimer !== undefined) {
      clearTimeout(this.#deferTimer);
      this.#deferTimer = undefined;
    }
    const deferred = this.#deferred;
    if (deferred.length === 0) return;
    this.#deferred = [];
    for (const message of deferred) this.options.send(message);
  }

  /** Ends the instance's stream and waits for it to be written; returns a write error's text. */
  async #endStream(stream: StreamFile | null, entry: RunningTask): Promise<string | null> {
    if (!stream) return null;
    try {
      await stream.end(entry.ref);
      return null;
    } catch (error) {
      return describeError(error);
    }
  }

  #fail(entry: RunningTask, error: string, started: boolean): void {
    if (entry.canceled) return;
    this.#report({ type: "task-failed", task: entry.ref, error, started });
  }

  /** The `--stdin` bytes of a submit, written once to a file every instance reads. */
  async #stdinFile(task: AssignedTaskMessage, bytes: Uint8Array): Promise<string> {
    let paths = this.#stdinFiles.get(task.jobId);
    if (!paths) this.#stdinFiles.set(task.jobId, paths = []);
    let path = paths[task.submitIndex];
    if (!path) {
      path = joinPath(this.options.workDir, `stdin-${task.jobId}-${task.submitIndex}`);
      await Deno.writeFile(path, bytes);
      paths[task.submitIndex] = path;
    }
    return path;
  }
}

/**
 * A multi-node task's node file (short names) and host file (full names), root first, and the
 * variables naming them (jobs spec §5.6).
 */
async function writeNodeFiles(taskDir: string, hosts: string[]): Promise<Record<string, string>> {
  const nodeFile = joinPath(taskDir, "hq-nodefile");
  const hostFile = joinPath(taskDir, "hq-hostfile");
  await Deno.writeTextFile(nodeFile, hosts.map((host) => `${shortHostname(host)}\n`).join(""));
  await Deno.writeTextFile(hostFile, hosts.map((host) => `${host}\n`).join(""));
  return {
    HQ_NUM_NODES: String(hosts.length),
    HQ_NODE_FILE: nodeFile,
    HQ_HOST_FILE: hostFile,
  };
}

/** The hostname up to its first `.`; a dotted IPv4 address stays whole. */
export function shortHostname(host: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host;
  const dot = host.indexOf(".");
  return dot < 0 ? host : host.slice(0, dot);
}

/**
 * Waits for the task's pipes to reach end of file; what it left running in the background may
 * hold them open, so after `PIPE_DRAIN_MS` they are closed and the rest is dropped.
 */
async function drainPipes(process: TaskProcess): Promise<void> {
  // Usually read to their end when the task was reaped: no timer then.
  if (!process.pipesOpen) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => timer = setTimeout(resolve, PIPE_DRAIN_MS));
  const drained = await Promise.race([process.drained.then(() => true), late.then(() => false)]);
  clearTimeout(timer);
  if (!drained) {
    log.warn(`A streamed task left its output open after it exited; the rest is dropped`);
    process.abandonPipes();
  }
}

function refOf(task: TaskRefMessage): TaskRefMessage {
  return { jobId: task.jobId, taskId: task.taskId, instanceId: task.instanceId };
}

async function removeIf(condition: boolean, path: string | null): Promise<void> {
  if (!condition || path === null) return;
  await Deno.remove(path).catch((error) =>
    log.warn(`Cannot remove "${path}": ${describeError(error)}`)
  );
}

const NOT_A_FILE = "Task created an error file, but it is not a regular file";
/** How long opening `hq-error` may take before it is given up on. */
const ERROR_FILE_OPEN_MS = 2_000;

/** The first 2048 bytes of `<task dir>/hq-error`, when the task left one (spec §5.4). */
async function readErrorFile(taskDir: string): Promise<string | null> {
  const path = joinPath(taskDir, ERROR_FILE_NAME);
  let file: Deno.FsFile;
  try {
    // Only a regular file, not followed through a link: opening a FIFO (or a link to one) blocks
    // until a writer comes, which hung the worker's handling of the task's end for good.
    if (!(await Deno.lstat(path)).isFile) return NOT_A_FILE;
    const opening = Deno.open(path);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const opened = await Promise.race([
      opening,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ERROR_FILE_OPEN_MS)),
    ]).finally(() => clearTimeout(timer));
    if (opened === null) {
      // Swapped for a FIFO after the check: give up on it (the open closes once it returns).
      opening.then((late) => late.close(), () => {});
      return NOT_A_FILE;
    }
    file = opened;
  } catch {
    return null;
  }
  try {
    const buffer = new Uint8Array(ERROR_FILE_LIMIT);
    let length = 0;
    while (length < buffer.length) {
      const count = await file.read(buffer.subarray(length));
      if (count === null) break;
      length += count;
    }
    if (length === 0) return "Task created an error file, but it is empty";
    const text = new TextDecoder().decode(buffer.subarray(0, length));
    return length === ERROR_FILE_LIMIT ? `${text}\n[The message was truncated]` : text;
  } finally {
    file.close();
  }
}

/**
 * HyperQueue's words for a program that could not be executed: `Cannot execute "<argv>": <OS
 * error> (os error <errno>)` (the argv as Rust's `{:?}` prints a string), then its hint lines.
 */
function spawnErrorText(error: unknown, argv: string[], cwd: string): string {
  if (!(error instanceof SpawnError) || error.stage !== "exec") return describeError(error);
  // A NUL byte is Rust's own `InvalidInput`, which has no errno to show.
  const osError = error.osError.startsWith("nul byte")
    ? error.osError
    : `${error.osError} (os error ${error.errno})`;
  let text = `Cannot execute ${rustDebugString(argv.join(" "))}: ${osError}`;
  const program = argv[0];
  if (error.errno === ENOENT) {
    text += `\nThe program that you have tried to execute (\`${program}\`) was not found.`;
    if (!program.includes("/")) {
      const path = joinPath(cwd, program);
      try {
        if (Deno.statSync(path).isFile) {
          text += `\nThe file \`${path}\` exists, maybe you have meant \`./${program}\` instead?`;
        }
      } catch {
        // No such file in the working directory either.
      }
    }
  } else if (error.errno === EACCES) {
    text += `\nThe script that you have tried to execute (\`${program}\`) is not executable.` +
      "\nTry making it executable or add a shebang line to it.";
  }
  return text;
}

/** A string quoted and escaped as Rust's `{:?}` prints it. */
function rustDebugString(value: string): string {
  let quoted = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") quoted += "\\" + char;
    else if (char === "\n") quoted += "\\n";
    else if (char === "\r") quoted += "\\r";
    else if (char === "\t") quoted += "\\t";
    else if (char === "\0") quoted += "\\0";
    else if (code < 0x20 || code === 0x7f) quoted += `\\u{${code.toString(16)}}`;
    else quoted += char;
  }
  return quoted + '"';
}
