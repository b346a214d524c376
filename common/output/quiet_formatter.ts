import type { JobSummaryView } from "../job_types.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import { CliFormatter } from "./cli_formatter.ts";
import type { Formatter } from "./formatter.ts";
import { writeStdout } from "./stdout.ts";
import { workerState } from "./worker_words.ts";
import { SUMMARY_STATES } from "./job_words.ts";

/** Only the minimal lines the spec lists for quiet mode. Errors still go to stderr. */
export class QuietFormatter implements Formatter {
  serverInfo(_info: ServerInfo, serverDir: string | null): void {
    if (serverDir !== null) writeStdout(`${serverDir}\n`);
  }

  workerList(workers: WorkerView[]): void {
    writeStdout(workers.map((view) => `${view.id} ${workerState(view).text}\n`).join(""));
  }

  workerInfo(_workers: WorkerView[]): void {}

  hwdetect(): void {}

  submitted(jobId: number): void {
    writeStdout(`${jobId}\n`);
  }

  jobOpened(jobId: number): void {
    writeStdout(`${jobId}\n`);
  }

  jobList(jobs: JobSummaryView[]): void {
    writeStdout(jobs.map((job) => `${job.id} ${job.state.toUpperCase()}\n`).join(""));
  }

  jobInfo(): void {}

  taskList(): void {}

  jobSummary(counts: Record<string, number>): void {
    writeStdout(
      SUMMARY_STATES.map((state) => `${state.toUpperCase()} ${counts[state] ?? 0}\n`).join(""),
    );
  }

  taskIds(): void {}

  taskInfo(): void {}

  taskExplain(): void {}

  // Quiet mode suppresses alloc listings (journal-alloc conventions).
  allocList(): void {}

  allocInfo(): void {}

  error(error: unknown): void {
    new CliFormatter(false).error(error);
  }

  finish(): void {}
}
