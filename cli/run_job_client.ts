/** The `hq job …` and `hq task …` commands that talk to the server (jobs spec §7, §8). */
import { HqError } from "../common/errors.ts";
import { IdRanges } from "../common/id_ranges.ts";
import type { JobDetailView, JobSummaryView, TaskState, TaskView } from "../common/job_types.ts";
import { logger } from "../common/log.ts";
import type { IdSelector, ServerResponse } from "../common/protocol.ts";
import type { CliContext } from "./context.ts";
import type { JobListArgs, TaskListArgs } from "./job_commands.ts";
import { withClient } from "./with_client.ts";

const log = logger("client::job");

export async function runJobList(args: JobListArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(await client.request({ type: "job-list" }), "jobs");
    const filter = args.filter.flat();
    const shown = response.jobs.filter((job: JobSummaryView) => {
      if (args.all) return true;
      if (filter.length > 0) return (filter as string[]).includes(job.state);
      return job.state === "waiting" || job.state === "running" || job.isOpen;
    });
    context.output.jobList(shown, { totalCount: response.jobs.length, verbose: args.verbose });
  });
}

export async function runJobInfo(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(await client.request({ type: "job-info", selector }), "job-details");
    for (const id of response.notFound) log.error(`Job ${id} not found`);
    context.output.jobInfo(response.jobs);
  });
}

export async function runJobCancel(
  selector: IdSelector,
  reason: string | null,
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(
      await client.request({ type: "job-cancel", selector, reason }),
      "job-actions",
    );
    if (response.results.length === 0) log.info("There is nothing to cancel");
    for (const result of response.results) {
      if (result.outcome === "canceled") {
        log.info(
          `Job ${result.jobId} canceled (${result.canceled} tasks canceled, ${result.finished} tasks already finished)`,
        );
      } else if (result.outcome === "not-found") {
        log.error(`Canceling job ${result.jobId} failed; job not found`);
      } else {
        log.error(`Canceling job ${result.jobId} failed; all tasks are already finished`);
      }
    }
  });
}

export async function runJobClose(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(await client.request({ type: "job-close", selector }), "job-actions");
    if (response.results.length === 0) log.info("There is nothing to close");
    for (const result of response.results) {
      if (result.outcome === "closed") log.info(`Job ${result.jobId} closed`);
      else if (result.outcome === "not-found") {
        log.error(`Closing job ${result.jobId} failed; job not found`);
      } else log.error(`Closing job ${result.jobId} failed; job is already closed`);
    }
  });
}

export async function runJobForget(
  selector: IdSelector,
  states: TaskState[],
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    const filter = states.length > 0 ? states : ["finished", "failed", "aborted", "canceled"];
    const response = expect(
      await client.request({ type: "job-forget", selector, states: filter as TaskState[] }),
      "job-actions",
    );
    const forgotten = response.results.filter((r) => r.outcome === "forgotten").length;
    const ignored = response.results.length - forgotten;
    log.info(
      `${forgotten} jobs were forgotten${
        ignored > 0 ? `, ${ignored} were ignored due to wrong state or invalid ID` : ""
      }`,
    );
  });
}

export async function runJobWait(
  selector: IdSelector,
  withoutClose: boolean,
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    try {
      await client.request({ type: "job-wait", selector, withoutClose });
    } catch (error) {
      // (quirk) A server that closes the connection cleanly ends the wait successfully.
      if (error instanceof Error && error.message === "Server connection closed") return;
      throw error;
    }
  });
}

export async function runJobOpen(
  name: string,
  maxFails: number | null,
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(
      await client.request({ type: "job-open", name, maxFails }),
      "job-created",
    );
    context.output.jobOpened(response.jobId);
  });
}

export async function runTaskList(args: TaskListArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expect(
      await client.request({ type: "job-info", selector: args.selector }),
      "job-details",
    );
    for (const id of response.notFound) log.warn(`Job ${id} not found`);
    const wanted = args.tasks ? new IdRanges(args.tasks) : null;
    const states = args.taskStatus.flat();
    const selected = response.jobs.map((job: JobDetailView) => ({
      job,
      tasks: job.tasks.filter((task: TaskView) =>
        (wanted === null || wanted.has(task.id)) &&
        (states.length === 0 || states.includes(task.state))
      ),
    }));
    context.output.taskList(selected, { verbose: args.verbose });
  });
}

function expect<T extends ServerResponse["type"]>(
  response: ServerResponse,
  type: T,
): Extract<ServerResponse, { type: T }> {
  if (response.type !== type) throw new HqError(`Unexpected response "${response.type}"`);
  return response as Extract<ServerResponse, { type: T }>;
}
