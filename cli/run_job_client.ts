/** The `hq job …` and `hq task …` commands that talk to the server (jobs spec §7, §8). */
import { ConnectionClosedError, HqError, ServerReplyError } from "../common/errors.ts";
import { IdRanges } from "../common/id_ranges.ts";
import type { JobDetailView, JobState, TaskState, TaskView } from "../common/job_types.ts";
import { expandJobDetail } from "../common/task_columns.ts";
import type { HqClient } from "../client/mod.ts";
import { logger } from "../common/log.ts";
import type { ClientRequest, IdSelector, ServerResponse } from "../common/protocol.ts";
import { expectResponse } from "../client/mod.ts";
import type { CliContext } from "./context.ts";
import type { JobCatArgs, JobListArgs, TaskInfoArgs, TaskListArgs } from "./job_commands.ts";
import { writeStdout } from "../common/output/mod.ts";
import { resolveForTask } from "../common/placeholders.ts";
import { templateOf } from "../common/output/job_words.ts";
import { withClient } from "./with_client.ts";

const log = logger("client::job");

/** `job info` of the selected jobs, their tasks expanded from the wire's columns. */
async function jobDetails(
  client: HqClient,
  selector: IdSelector,
): Promise<{ jobs: JobDetailView[]; notFound: number[] }> {
  const response = expectResponse(
    await client.request({ type: "job-info", selector }),
    "job-details",
  );
  // Lazy: `job info --output-mode json` writes a big job's tasks from the columns.
  const jobs = response.jobs.map((job) => expandJobDetail(job, true));
  return { jobs, notFound: response.notFound };
}

export async function runJobList(args: JobListArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const filter = args.filter.flat() as JobState[];
    // The server filters: a plain `job list` should not receive every completed job.
    const request: ClientRequest = args.all
      ? { type: "job-list" }
      : filter.length > 0
      ? { type: "job-list", states: filter }
      : { type: "job-list", states: ["waiting", "running"], open: true };
    const response = expectResponse(await client.request(request), "jobs");
    context.output.jobList(response.jobs, {
      totalCount: response.totalCount ?? response.jobs.length,
      verbose: args.verbose,
    });
  });
}

export async function runJobInfo(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = await jobDetails(client, selector);
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
    const response = expectResponse(
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
    const response = expectResponse(
      await client.request({ type: "job-close", selector }),
      "job-actions",
    );
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
    const response = expectResponse(
      await client.request({ type: "job-forget", selector, states: filter as TaskState[] }),
      "job-actions",
    );
    const forgotten = response.results.filter((r) => r.outcome === "forgotten").length;
    const ignored = response.results.length - forgotten;
    log.info(
      // HyperQueue's words: "1 job were forgotten".
      `${forgotten} ${forgotten === 1 ? "job" : "jobs"} were forgotten${
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
      if (error instanceof ConnectionClosedError) return;
      throw error;
    }
  });
}

export async function runJobOpen(
  name: string,
  maxFails: number | null,
  context: CliContext,
): Promise<void> {
  if (/[\n\t]/.test(name)) throw new HqError("name cannot have a newline or a tab");
  await withClient(context, async (client) => {
    const response = expectResponse(
      await client.request({ type: "job-open", name, maxFails }),
      "job-created",
    );
    context.output.jobOpened(response.jobId);
  });
}

export async function runTaskList(args: TaskListArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = await jobDetails(client, args.selector);
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
    context.output.taskList(selected, { verbose: args.verbose > 0 });
  });
}

export async function runJobSummary(context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expectResponse(await client.request({ type: "job-list" }), "jobs");
    const counts: Record<string, number> = {};
    for (const job of response.jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
    context.output.jobSummary(counts);
  });
}

export async function runJobTaskIds(
  selector: IdSelector,
  states: TaskState[],
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    const response = await jobDetails(client, selector);
    if (response.notFound.length > 0) throw new HqError("Job Id not found");
    context.output.taskIds(response.jobs.map((job: JobDetailView) => ({
      jobId: job.id,
      ids: job.tasks
        .filter((task: TaskView) => states.length === 0 || states.includes(task.state))
        .map((task: TaskView) => task.id),
    })));
  });
}

/** Copies task output files to stdout, raw (spec §7.8). */
export async function runJobCat(args: JobCatArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = await jobDetails(client, args.selector);
    for (const id of response.notFound) log.error(`Job ${id} was not found`);
    if (response.jobs.length === 0) {
      log.error("No jobs were found");
      return;
    }
    // As HyperQueue: the server is asked first, so unknown jobs are reported as in cli mode; only
    // a job that exists meets the JSON printer, which cannot print outputs.
    if (context.globals.outputMode === "json") {
      throw new HqError("JSON output mode doesn't support job output");
    }
    const wanted = args.tasks ? new IdRanges(args.tasks) : null;
    const states = args.taskStatus.flat();
    for (const job of response.jobs) {
      if (wanted) {
        const known = new Set(job.tasks.map((task: TaskView) => task.id));
        for (const id of wanted) {
          if (!known.has(id)) log.warn(`Task ${id} of job ${job.id} not found`);
        }
      }
      const tasks = job.tasks.filter((task: TaskView) =>
        (wanted === null || wanted.has(task.id)) &&
        (states.length === 0 || states.includes(task.state))
      );
      if (tasks.length === 0) {
        log.warn(`No tasks were selected for job ${job.id}, there is nothing to print`);
        continue;
      }
      for (const task of tasks) {
        if (args.printTaskHeader) writeStdout(`# Job ${job.id}, task ${task.id}\n`);
        const template = templateOf(job, task.id);
        const started = task.startedMs !== null && task.state !== "aborted";
        // A streamed channel has no file (spec §10.1): `hq output-log` reads it.
        const streamed = template?.stream?.[args.stream] ?? false;
        const path = template && started && !streamed
          ? resolveForTask(template, {
            jobId: job.id,
            taskId: task.id,
            instanceId: task.instanceId,
            submitDir: template.submitDir,
            serverUid: "",
          })[args.stream]
          : null;
        if (path === null) {
          log.warn(`Task ${task.id} has no \`${args.stream}\` stream associated with it`);
          continue;
        }
        try {
          const bytes = await Deno.readFile(path);
          await writeRaw(bytes);
        } catch (error) {
          log.warn(
            `File at \`${path}\` cannot be opened: ${
              error instanceof Error ? error.message : error
            }`,
          );
        }
      }
    }
  });
}

export async function runTaskInfo(args: TaskInfoArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = await jobDetails(client, args.jobId);
    const job = response.jobs[0];
    if (!job) {
      const id = response.notFound[0];
      log.error(`Cannot find job ${id ?? "last"}`);
      return;
    }
    const wanted = new IdRanges(args.taskIds);
    const byId = new Map(job.tasks.map((task: TaskView) => [task.id, task]));
    const tasks: TaskView[] = [];
    for (const id of wanted) {
      const task = byId.get(id);
      if (task) tasks.push(task);
      else log.warn(`Task ${id} not found`);
    }
    context.output.taskInfo(job, tasks, { verbose: args.verbose });
  });
}

/** `hq task explain` (resources spec §7): the server checks the task against its workers. */
export async function runTaskExplain(
  job: IdSelector,
  taskId: number,
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    let response: ServerResponse;
    try {
      response = await client.request({ type: "task-explain", job, taskId });
    } catch (error) {
      // HyperQueue reports these as its generic error, whose text starts `Error: ` (jobs §8.3).
      if (error instanceof ServerReplyError) {
        throw new ServerReplyError(`Error: ${error.message}`);
      }
      throw error;
    }
    const explained = expectResponse(response, "task-explain");
    context.output.taskExplain(
      { jobId: explained.jobId, taskId: explained.taskId },
      explained.explanation,
    );
  });
}

async function writeRaw(bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await Deno.stdout.write(bytes.subarray(offset));
}
