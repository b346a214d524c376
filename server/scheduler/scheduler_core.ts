/**
 * The pure, synchronous core of the server. Today it owns the workers' lifecycle (spec §5):
 * registration, heartbeats, idle timeouts, stop requests and the final reason of every offline
 * worker. Task scheduling joins it with the job and scheduler issues.
 */
import type { WorkerConfiguration, WorkerLostReason } from "../../common/protocol.ts";
import type { CoreCommand, CoreEvent, WorkerId } from "./core_events.ts";

/** A worker told to stop that is still connected this long later is dropped (spec §5.2). */
export const STOP_GRACE_MS = 60_000;
const MIN_CHECK_INTERVAL_MS = 500;
const MAX_CHECK_INTERVAL_MS = 5 * 60_000;

export interface WorkerRecord {
  id: WorkerId;
  configuration: WorkerConfiguration;
  startedMs: number;
  /** Set once the worker is offline; never changes afterwards. */
  ended: { atMs: number; reason: WorkerLostReason } | null;
  lastHeartbeatMs: number;
  /** The reason recorded when the server (or the worker) decided it should stop. */
  stopReason: WorkerLostReason | null;
  stopRequestedMs: number | null;
  /** When the worker last became idle (no assigned tasks); null while it has tasks. */
  idleSinceMs: number | null;
  assignedTasks: number;
  nextCheckMs: number;
}

export class SchedulerCore {
  readonly #workers = new Map<WorkerId, WorkerRecord>();
  readonly #running = new Set<WorkerId>();

  handle(event: CoreEvent, nowMs: number): CoreCommand[] {
    switch (event.type) {
      case "worker-joined":
        return this.#onWorkerJoined(event.workerId, event.configuration, nowMs);
      case "worker-heartbeat": {
        const worker = this.#runningWorker(event.workerId);
        if (worker) worker.lastHeartbeatMs = nowMs;
        return [];
      }
      case "worker-stop-requested":
        return this.#requestStop(event.workerId, "stopped", nowMs);
      case "worker-time-limit-reached": {
        const worker = this.#runningWorker(event.workerId);
        if (worker && worker.stopReason === null) {
          worker.stopReason = "time-limit-reached";
          worker.stopRequestedMs = nowMs;
        }
        return [];
      }
      case "worker-connection-closed": {
        const worker = this.#runningWorker(event.workerId);
        if (worker) this.#markOffline(worker, worker.stopReason ?? "connection-lost", nowMs);
        return [];
      }
      case "tick":
        return this.#onTick(nowMs);
    }
  }

  /** Every worker ever registered, running and offline, by id. */
  get workers(): ReadonlyMap<WorkerId, Readonly<WorkerRecord>> {
    return this.#workers;
  }

  /** Whether the worker is registered and not offline. */
  isRunning(workerId: WorkerId): boolean {
    return this.#running.has(workerId);
  }

  #onWorkerJoined(
    workerId: WorkerId,
    configuration: WorkerConfiguration,
    nowMs: number,
  ): CoreCommand[] {
    const worker: WorkerRecord = {
      id: workerId,
      configuration,
      startedMs: nowMs,
      ended: null,
      lastHeartbeatMs: nowMs,
      stopReason: null,
      stopRequestedMs: null,
      idleSinceMs: nowMs,
      assignedTasks: 0,
      nextCheckMs: nowMs + checkIntervalMs(configuration),
    };
    this.#workers.set(workerId, worker);
    this.#running.add(workerId);
    return [];
  }

  #requestStop(workerId: WorkerId, reason: WorkerLostReason, nowMs: number): CoreCommand[] {
    const worker = this.#runningWorker(workerId);
    if (!worker || worker.stopReason !== null) return [];
    worker.stopReason = reason;
    worker.stopRequestedMs = nowMs;
    return [{ type: "stop-worker", workerId }];
  }

  #onTick(nowMs: number): CoreCommand[] {
    const commands: CoreCommand[] = [];
    for (const workerId of this.#running) {
      const worker = this.#workers.get(workerId)!;
      if (nowMs < worker.nextCheckMs) continue;
      worker.nextCheckMs = nowMs + checkIntervalMs(worker.configuration);
      const { heartbeatIntervalMs, idleTimeoutMs } = worker.configuration;
      if (nowMs - worker.lastHeartbeatMs > 2 * heartbeatIntervalMs) {
        this.#markOffline(worker, worker.stopReason ?? "heartbeat-lost", nowMs);
        commands.push({ type: "disconnect-worker", workerId });
      } else if (
        worker.stopRequestedMs !== null && nowMs - worker.stopRequestedMs > STOP_GRACE_MS
      ) {
        this.#markOffline(worker, worker.stopReason!, nowMs);
        commands.push({ type: "disconnect-worker", workerId });
      } else if (
        idleTimeoutMs !== null && worker.stopReason === null && worker.idleSinceMs !== null &&
        nowMs - worker.idleSinceMs > idleTimeoutMs
      ) {
        commands.push(...this.#requestStop(workerId, "idle-timeout", nowMs));
      }
    }
    return commands;
  }

  #markOffline(worker: WorkerRecord, reason: WorkerLostReason, nowMs: number): void {
    worker.ended = { atMs: nowMs, reason };
    this.#running.delete(worker.id);
  }

  #runningWorker(workerId: WorkerId): WorkerRecord | undefined {
    return this.#running.has(workerId) ? this.#workers.get(workerId) : undefined;
  }
}

/** Spec §5.2: `clamp(min(heartbeat, idle_timeout / 16), 0.5 s, 5 min)`. */
export function checkIntervalMs(configuration: WorkerConfiguration): number {
  let interval = configuration.heartbeatIntervalMs;
  if (configuration.idleTimeoutMs !== null) {
    interval = Math.min(interval, configuration.idleTimeoutMs / 16);
  }
  return Math.min(Math.max(interval, MIN_CHECK_INTERVAL_MS), MAX_CHECK_INTERVAL_MS);
}
