/**
 * What goes into the scheduler core and what comes out. The core never does I/O: the server loop
 * turns messages into events, passes the time in, and carries the commands out.
 */
import type { WorkerConfiguration } from "../../common/protocol.ts";

export type WorkerId = number;

export type CoreEvent =
  /** A worker registered; the shell chose its id and applied the server's defaults. */
  | { type: "worker-joined"; workerId: WorkerId; configuration: WorkerConfiguration }
  | { type: "worker-heartbeat"; workerId: WorkerId }
  /** `hq worker stop`: the reason is fixed now, even if the connection breaks later. */
  | { type: "worker-stop-requested"; workerId: WorkerId }
  /** The worker reported that its own time limit expired. */
  | { type: "worker-time-limit-reached"; workerId: WorkerId }
  /** The worker's connection closed or broke. */
  | { type: "worker-connection-closed"; workerId: WorkerId }
  /** Time passed: check heartbeats, idle timeouts and stop grace periods. */
  | { type: "tick" };

export type CoreCommand =
  /** Tell the worker to exit. */
  | { type: "stop-worker"; workerId: WorkerId }
  /** Drop the worker's connection (heartbeat lost, or it ignored a stop for too long). */
  | { type: "disconnect-worker"; workerId: WorkerId };
