/**
 * A worker process (spec §4.1 startup sequence, §5 lifecycle): connects to the server's worker
 * endpoint, registers, sends heartbeats, and ends on a stop from the server, its own time limit,
 * a signal, or the loss of the server.
 */
import { OutputStreams } from "./output_streams.ts";
import { ConnectionClosedError, ConnectionError, describeError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { LongTimeout, timerPeriodMs } from "../common/long_timeout.ts";
import {
  isServerToWorkerMessage,
  type ServerToWorkerMessage,
  type WorkerConfiguration,
  type WorkerMessage,
  type WorkerView,
} from "../common/protocol.ts";
import { loadWorkerEndpoint } from "../common/server_dir.ts";
import { connectSession, type MessageConnection } from "../common/transport/mod.ts";
import { hqExecutable } from "./hq_executable.ts";
import { NotifyListener } from "./notify_listener.ts";
import { OrphanGuard } from "./orphan_guard.ts";
import { HwSampler } from "./hw_overview.ts";
import { TaskRunner } from "./task_runner.ts";
import { prepareConfiguration, type WorkerOptions } from "./worker_configuration.ts";

const log = logger("worker");

const CONNECT_ATTEMPTS = 20;
const CONNECT_RETRY_MS = 2_000;
const REGISTRATION_TIMEOUT_MS = 30_000;

export interface StartWorkerOptions extends WorkerOptions {
  /** Root server directory (absolute). */
  serverDir: string;
  /** Called once registered with the worker's own view (the info printout). */
  onRegistered?: (view: WorkerView) => void;
  /** The environment to detect the batch system and GPUs from. @default {Deno.env} */
  env?: Record<string, string | undefined>;
  /** Tasks finish at once, no process is started (hidden `--zero-worker`, for benchmarks). */
  zeroWorker?: boolean;
}

type ServerLink = MessageConnection<ServerToWorkerMessage, WorkerMessage>;

/** Why the worker ended; each maps to an exit code (spec §5.6). */
type Ending =
  | { kind: "stopped" }
  | { kind: "signal"; signal: Deno.Signal }
  | { kind: "time-limit" }
  | { kind: "server-lost"; error: Error };

/** Runs the worker until it ends; resolves with the exit code, or throws a user-facing error. */
export async function startWorker(options: StartWorkerOptions): Promise<number> {
  const endpoint = loadWorkerEndpoint(options.serverDir);
  const { temporaryDir, ...prepared } = await prepareConfiguration(
    options,
    options.env ?? Deno.env.toObject(),
  );
  const cleanups: Array<() => void> = [];
  if (temporaryDir !== null) {
    cleanups.push(() => Deno.removeSync(temporaryDir, { recursive: true }));
  }
  try {
    const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    cleanups.push(() => listener.close());
    const configuration = {
      ...prepared,
      listenAddress: `${prepared.hostname}:${listener.addr.port}`,
    };
    const link = await connectWithRetries(endpoint.host, endpoint.port, endpoint.secretKey);
    cleanups.push(() => link.close());
    link.send({ type: "register", configuration });
    const batches = link.batches();
    // The first frame may carry more than the registration (tasks assigned right away).
    const [registered, ...early] = await firstBatch(batches);
    if (registered.type !== "registered") {
      throw new ConnectionError(`The server did not accept the registration`);
    }
    log.info(`Worker ${registered.workerId} registered`);

    const workDir = registered.configuration.workDir;
    let runner: TaskRunner | null = null;
    const notify = NotifyListener.start(
      workDir,
      (task, secret, message) => runner?.notify(task, secret, message) ?? false,
    );
    if (notify) cleanups.push(() => notify.close());
    const streams = new OutputStreams({
      serverUid: registered.serverUid ?? "",
      workerId: registered.workerId,
    });
    const { timeLimitMs } = registered.configuration;
    const endMs = timeLimitMs === null ? null : Date.now() + timeLimitMs;
    runner = new TaskRunner({
      streams,
      workDir,
      resources: registered.configuration.resources,
      send: (message) => link.send(message),
      guard: OrphanGuard.start(),
      notify,
      hqPath: await hqExecutable(workDir),
      zeroWorker: options.zeroWorker ?? false,
      endMs,
    });
    const ending = await new Promise<Ending>((resolve) => {
      const heartbeat = () => link.send({ type: "heartbeat" });
      heartbeat();
      const heartbeatTimer = setInterval(
        heartbeat,
        timerPeriodMs(registered.configuration.heartbeatIntervalMs),
      );
      cleanups.push(() => clearInterval(heartbeatTimer));
      const { overviewIntervalMs } = registered.configuration;
      if (overviewIntervalMs) {
        cleanups.push(sendOverviews(registered.configuration, overviewIntervalMs, link, false));
      }
      // While a dashboard streams events, transient overviews besides the worker's own ones.
      let stopTransient: (() => void) | null = null;
      const overviewsFor = (intervalMs: number | null) => {
        stopTransient?.();
        stopTransient = null;
        if (intervalMs !== null && !(overviewIntervalMs && overviewIntervalMs <= intervalMs)) {
          stopTransient = sendOverviews(registered.configuration, intervalMs, link, true);
        }
      };
      cleanups.push(() => stopTransient?.());
      const { retractCheckIntervalMs } = registered.configuration;
      if (timeLimitMs !== null && endMs !== null) {
        const retractTimer = setInterval(
          () => runner.retractLate(endMs - Date.now()),
          timerPeriodMs(retractCheckIntervalMs),
        );
        cleanups.push(() => clearInterval(retractTimer));
        const timer = new LongTimeout(() => resolve({ kind: "time-limit" }), timeLimitMs);
        cleanups.push(() => timer.clear());
      }
      for (const signal of ["SIGINT", "SIGTERM", "SIGTSTP"] as const) {
        const onSignal = () => resolve({ kind: "signal", signal });
        Deno.addSignalListener(signal, onSignal);
        cleanups.push(() => Deno.removeSignalListener(signal, onSignal));
      }
      // Printed only once the signal listeners are in place: a script that signals the worker as
      // soon as it sees the printout must get the graceful stop, not the default action (for
      // SIGTSTP that is a stopped process the server later records as HEARTBEAT LOST).
      options.onRegistered?.({
        id: registered.workerId,
        configuration: registered.configuration,
        startedMs: registered.startedMs,
        ended: null,
        lastTaskStarted: null,
        runtimeInfo: null,
      });
      receive(early, batches, runner, overviewsFor).then(resolve);
    });
    if (
      ending.kind === "server-lost" && registered.configuration.onServerLost === "finish-running"
    ) {
      log.info(`Server lost; finishing ${runner.runningCount} running task(s)`);
      await runner.finishRunning();
    } else {
      await runner.stopAll();
    }
    await streams.closeAll();
    return await finish(ending, link);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch {
        // Already released.
      }
    }
  }
}

/**
 * Sends a hardware overview every `intervalMs` (GPUs only of the families the worker has, as
 * HyperQueue does), `transient` ones for a dashboard; returns the function that stops it.
 */
function sendOverviews(
  configuration: WorkerConfiguration,
  intervalMs: number,
  link: ServerLink,
  transient: boolean,
): () => void {
  const names = new Set(configuration.resources.resources.map((item) => item.name));
  const sampler = new HwSampler({ nvidia: names.has("gpus/nvidia"), amd: names.has("gpus/amd") });
  let sampling = false;
  const timer = setInterval(async () => {
    if (sampling) return; // A slow nvidia-smi: skip a beat rather than pile up.
    sampling = true;
    try {
      const hwState = await sampler.sample();
      link.send(
        transient ? { type: "overview", hwState, transient } : { type: "overview", hwState },
      );
    } catch (error) {
      log.debug(`Cannot send a hardware overview: ${describeError(error)}`);
    } finally {
      sampling = false;
    }
  }, intervalMs);
  return () => clearInterval(timer);
}

async function finish(ending: Ending, link: ServerLink): Promise<number> {
  switch (ending.kind) {
    case "stopped":
      log.info("Worker stopped by the server");
      return 0;
    case "signal":
      log.info(`Received ${ending.signal}, stopping the worker`);
      return 0;
    case "time-limit":
      log.info("Time limit reached, stopping the worker");
      link.send({ type: "time-limit-reached" });
      await link.flush().catch(() => {});
      return 0;
    case "server-lost":
      throw ending.error;
  }
}

/** Messages from the server until it says stop or the connection ends. */
async function receive(
  early: ServerToWorkerMessage[],
  batches: AsyncGenerator<ServerToWorkerMessage[]>,
  runner: TaskRunner,
  overviewsFor: (intervalMs: number | null) => void,
): Promise<Ending> {
  const onBatch = (batch: ServerToWorkerMessage[]): Ending | null => {
    for (const message of batch) {
      switch (message.type) {
        case "stop":
          return { kind: "stopped" };
        case "assign-tasks":
          runner.addTemplates(message.templates);
          runner.assign(message.tasks);
          break;
        case "cancel-tasks":
          runner.cancel(message.tasks);
          break;
        case "retract-tasks":
          runner.retract(message.tasks);
          break;
        case "jobs-done":
          runner.dropJobs(message.jobIds);
          break;
        case "overview-interval":
          overviewsFor(message.intervalMs);
          break;
      }
    }
    return null;
  };
  try {
    const ending = onBatch(early);
    if (ending) return ending;
    for await (const batch of batches) {
      const ending = onBatch(batch);
      if (ending) return ending;
    }
    return { kind: "server-lost", error: new ConnectionClosedError() };
  } catch (error) {
    return {
      kind: "server-lost",
      error: new ConnectionError(`Server connection closed: ${describeError(error)}`),
    };
  }
}

async function firstBatch(
  batches: AsyncGenerator<ServerToWorkerMessage[]>,
): Promise<ServerToWorkerMessage[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConnectionError("The server did not answer the registration")),
      REGISTRATION_TIMEOUT_MS,
    );
  });
  try {
    const next = await Promise.race([batches.next(), timeout]);
    if (next.done || next.value.length === 0) {
      throw new ConnectionError("Server connection closed during registration");
    }
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

/** TCP connect: up to 20 attempts 2 s apart; an authentication rejection is never retried. */
async function connectWithRetries(
  host: string,
  port: number,
  secretKey: Uint8Array | null,
): Promise<ServerLink> {
  for (let attempt = 1;; attempt++) {
    try {
      return await connectSession<ServerToWorkerMessage, WorkerMessage>({
        host,
        port,
        role: "worker",
        secretKey,
        isMessage: isServerToWorkerMessage,
      });
    } catch (error) {
      if (error instanceof ConnectionError) throw error;
      log.warn(
        `Cannot connect to server at ${host}:${port} (attempt ${attempt}/${CONNECT_ATTEMPTS}): ${
          describeError(error)
        }`,
      );
      if (attempt >= CONNECT_ATTEMPTS) {
        throw new ConnectionError("Server could not be connected", { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}
