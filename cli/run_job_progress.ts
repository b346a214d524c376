/**
 * `hq job progress` and `hq submit --progress` (jobs spec §7.7): one redrawn line with a bar and
 * counts in a terminal, plain lines (one per change, at most one a second) otherwise. Exit 0
 * whatever the tasks' outcome.
 */
import type { HqClient } from "../client/mod.ts";
import { HqError } from "../common/errors.ts";
import type { JobSummaryView, TaskCounts } from "../common/job_types.ts";
import { emptyCounts } from "../common/job_types.ts";
import { logger } from "../common/log.ts";
import { progressBar } from "../common/output/job_words.ts";
import { writeStdout } from "../common/output/mod.ts";
import type { IdSelector } from "../common/protocol.ts";
import type { CliContext } from "./context.ts";
import { withClient } from "./with_client.ts";

const log = logger("client::progress");
const POLL_MS = 200;
const PLAIN_LINE_EVERY_MS = 1_000;

export async function runJobProgress(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, (client) => showProgress(client, selector));
}

/** Polls the selected jobs until all are completed, drawing the progress line. */
export async function showProgress(client: HqClient, selector: IdSelector): Promise<void> {
  const first = await summaries(client, selector);
  const unfinished = first.filter((job) => !isCompleted(job));
  if (unfinished.length === 0) {
    log.warn("There are no jobs to wait for");
    return;
  }
  const tasks = unfinished.reduce((sum, job) => sum + job.counts.waiting + job.counts.running, 0);
  log.info(
    `Waiting for ${unfinished.length} job${plural(unfinished.length)} with ${tasks} task${
      plural(tasks)
    }`,
  );
  const ids: IdSelector = {
    type: "ids",
    ranges: unfinished.map((job) => [job.id, job.id, 1]),
  };
  const terminal = Deno.stdout.isTerminal();
  let lastLine = "";
  let lastPrintMs = 0;
  for (let jobs = unfinished;;) {
    const line = progressLine(jobs);
    const done = jobs.every(isCompleted);
    if (terminal) {
      if (line !== lastLine) writeStdout(`\r\x1b[2K${line}`);
    } else if (line !== lastLine && (done || Date.now() - lastPrintMs >= PLAIN_LINE_EVERY_MS)) {
      writeStdout(`${line}\n`);
      lastPrintMs = Date.now();
    }
    lastLine = line;
    if (done) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    jobs = await summaries(client, ids);
  }
}

/** `[<bar>] <done>/<jobs> jobs, <completed>/<tasks> tasks <counts>`. */
export function progressLine(jobs: JobSummaryView[]): string {
  const counts: TaskCounts = emptyCounts();
  let total = 0;
  for (const job of jobs) {
    total += job.taskCount;
    for (const state of Object.keys(counts) as Array<keyof TaskCounts>) {
      counts[state] += job.counts[state];
    }
  }
  const completed = total - counts.waiting - counts.running;
  const done = jobs.filter(isCompleted).length;
  const parts = (["running", "finished", "failed", "canceled", "aborted"] as const)
    .filter((state) => counts[state] > 0)
    .map((state) => `${counts[state]} ${state.toUpperCase()}`);
  return `${progressBar(counts, total)} ${done}/${jobs.length} jobs, ${completed}/${total} tasks ${
    parts.join(" ")
  }`.trimEnd();
}

async function summaries(client: HqClient, selector: IdSelector): Promise<JobSummaryView[]> {
  const response = await client.request({ type: "job-list", selector });
  if (response.type !== "jobs") throw new HqError(`Unexpected response "${response.type}"`);
  return response.jobs;
}

function isCompleted(job: JobSummaryView): boolean {
  return !job.isOpen && job.counts.waiting + job.counts.running === 0;
}

function plural(count: number): string {
  return count === 1 ? "" : "s";
}
