/**
 * The output layer: every command hands its result to a `Formatter`, which renders it for the
 * chosen `--output-mode` (tables for `cli`, one JSON document for `json`, bare values for `quiet`).
 */
import type { AllocationView, QueueView } from "../autoalloc.ts";
import type { JobDetailView, JobSummaryView, TaskView } from "../job_types.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import type { ResourceDescriptor } from "../resources/resource_descriptor.ts";
import type { TaskExplanation } from "../task_explanation.ts";
import type { ExplainedTaskId } from "./explanation_words.ts";

export type OutputMode = "cli" | "json" | "quiet";
export const OUTPUT_MODES: readonly OutputMode[] = ["cli", "json", "quiet"];

export interface Formatter {
  /** Server info; `serverDir` is the root server directory when printed by `server start`. */
  serverInfo(info: ServerInfo, serverDir: string | null): void;
  /** `hq worker list`. */
  workerList(workers: WorkerView[]): void;
  /** `hq worker info`, and the worker's own printout at start (one element). */
  workerInfo(workers: WorkerView[]): void;
  /** `hq worker hwdetect`. */
  hwdetect(resources: ResourceDescriptor): void;
  /** `hq submit`: the new job's id. */
  submitted(jobId: number): void;
  /** `hq job open`. */
  jobOpened(jobId: number): void;
  /** `hq job list`; `totalCount` is the number of jobs the server knows. */
  jobList(jobs: JobSummaryView[], options: { totalCount: number; verbose: boolean }): void;
  /** `hq job info`. */
  jobInfo(jobs: JobDetailView[]): void;
  /** `hq task list`: the selected tasks of each found job. */
  taskList(
    jobs: Array<{ job: JobDetailView; tasks: TaskView[] }>,
    options: { verbose: boolean },
  ): void;
  /** `hq job summary`: number of jobs per derived state. */
  jobSummary(counts: Record<string, number>): void;
  /** `hq job task-ids`. */
  taskIds(jobs: Array<{ jobId: number; ids: number[] }>): void;
  /** `hq task info`. */
  taskInfo(job: JobDetailView, tasks: TaskView[], options: { verbose: boolean }): void;
  /** `hq task explain`. */
  taskExplain(task: ExplainedTaskId, explanation: TaskExplanation): void;
  /** `hq alloc list`. */
  allocList(queues: QueueView[]): void;
  /** `hq alloc info`: the allocations already filtered and sorted (`selectAllocations`). */
  allocInfo(allocations: AllocationView[]): void;
  /** An error that ends the command (exit code 1). */
  error(error: unknown): void;
  /** Called when the command ends; JSON mode prints `{}` if the command printed nothing. */
  finish(): void;
}
