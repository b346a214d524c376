/**
 * The typed TypeScript API of hq, a HyperQueue-compatible task scheduler: connect to a running
 * server, submit jobs and task graphs, wait for them, list jobs, tasks and workers, and follow the
 * server's events as they happen.
 *
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * await using hq = await connect({ serverDir: "/tmp/hq-server" });
 * const { jobId } = await hq.submit({
 *   name: "api",
 *   command: ["bash", "-c", "echo $HQ_TASK_ID"],
 *   array: "1-10",
 * });
 * const job = await hq.wait(jobId);
 * console.log(job.taskStats.finished); // 10
 * for await (const { event } of hq.events()) {
 *   if (event.type === "task-failed") console.log(event.error);
 * }
 * ```
 *
 * Every `hq` client command has a method on {@link Hq}. Errors a user can cause are
 * {@link HqError}s: {@link ConnectionError} (the server cannot be reached or went away),
 * {@link ServerDirError} (no usable access file), {@link ServerReplyError} (the server refused a
 * request), {@link NotFoundError}, {@link JobDefinitionError}.
 *
 * The lower-level client that the `hq` command line uses is `HqClient` in `client/mod.ts`.
 *
 * @module
 */
export { connect, Hq, NotFoundError } from "./client/api.ts";
export type {
  HqConnectOptions,
  HqEvent,
  IdsLike,
  Job,
  JobSummary,
  SubmitOptions,
  Task,
  WorkerStopResult,
} from "./client/api.ts";
export type {
  AllocQueue,
  AllocQueueParams,
  GraphArray,
  GraphTask,
  GraphTaskOptions,
  HqEventBody,
  HwOverview,
  JobActionResult,
  JobSpec,
  JobState,
  OutputSpec,
  ServerInfo,
  SubmitSummary,
  TaskCounts,
  TaskExplanation,
  TaskRef,
  TaskRequest,
  TaskState,
  Worker,
  WorkerConfig,
  WorkerFilter,
  WorkerLostReason,
  WorkerResource,
} from "./client/api_types.ts";
export { JobDefinitionError } from "./client/job_definition.ts";
export {
  AuthenticationError,
  ConnectionClosedError,
  ConnectionError,
  HqError,
  ProtocolMismatchError,
  ServerDirError,
  ServerReplyError,
} from "./common/errors.ts";
export { defaultServerDir } from "./common/server_dir.ts";
export { HQ_VERSION } from "./common/version.ts";
