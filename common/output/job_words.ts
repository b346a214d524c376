/** How jobs and tasks read in tables and JSON (jobs spec §6, §7, §9). */
import { formatDuration } from "../duration.ts";
import {
  type JobDetailView,
  type JobState,
  type JobSummaryView,
  type RequestVariant,
  requestVariants,
  type TaskCounts,
  type TaskState,
  type TaskTemplate,
  type TaskView,
} from "../job_types.ts";
import { resolveForTask } from "../placeholders.ts";
import type { Color } from "./colors.ts";
import { IdRanges } from "../id_ranges.ts";
import { jsonSeconds } from "./json.ts";
import { formatJsonTimestamp } from "../timestamp.ts";
import { formatRequest, requestJson } from "../resources/resource_request.ts";

const STATE_COLORS: Record<JobState, Color> = {
  waiting: "cyan",
  running: "yellow",
  finished: "green",
  failed: "red",
  canceled: "magenta",
  aborted: "blue",
  opened: "cyan",
};

/** `RUNNING`, `FINISHED`, … with its colour. */
export function stateCell(state: JobState | TaskState): { text: string; color: Color } {
  return { text: state.toUpperCase(), color: STATE_COLORS[state] };
}

/**
 * Durations in tables (§7.12): minutes precision from an hour on, seconds from a minute on,
 * else milliseconds: `1h 5m`, `2m 13s`, `4s 27ms`, `0s`.
 */
export function formatMakespan(ms: number): string {
  const truncated = ms >= 3_600_000
    ? Math.floor(ms / 60_000) * 60_000
    : ms >= 60_000
    ? Math.floor(ms / 1_000) * 1_000
    : Math.floor(ms);
  return formatDuration(truncated);
}

/** The rows of `hq job summary`, in the spec's order (§7.2). */
export const SUMMARY_STATES = ["running", "waiting", "finished", "failed", "aborted", "canceled"];

const BAR_WIDTH = 40;

/** `[####....]`: `#` segments for canceled, failed, finished, running, aborted (§7.7). */
export function progressBar(counts: TaskCounts, total: number): string {
  let remaining = BAR_WIDTH;
  let bar = "";
  for (const state of ["canceled", "failed", "finished", "running", "aborted"] as const) {
    if (total === 0) break;
    const width = Math.min(remaining, Math.ceil((counts[state] / total) * BAR_WIDTH));
    bar += "#".repeat(width);
    remaining -= width;
  }
  return `[${bar}${".".repeat(remaining)}]`;
}

/** `RUNNING (n)` … lines of the `State` cell of `job info`, in the spec's order. */
export function countLines(counts: TaskCounts): string[] {
  const order = ["running", "failed", "finished", "canceled", "waiting", "aborted"] as const;
  return order.filter((state) => counts[state] > 0).map((state) =>
    `${state.toUpperCase()} (${counts[state]})`
  );
}

/**
 * The `Resources` cell of `job info`/`task info` (jobs spec §7.3): `<name>: <request>` per
 * resource sorted by name, then `[weight: <w>]` when the weight is not 1.
 */
export function resourcesText(template: TaskTemplate): string {
  if (template.nodes > 0) return `nodes: ${template.nodes}`;
  const variants = requestVariants(template);
  const text = (variant: RequestVariant) => {
    const lines = [...variant.resources]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((entry) => `${entry.name}: ${formatRequest(entry)}`);
    if (variant.weight !== 1) lines.push(`[weight: ${variant.weight}]`);
    return lines.join("\n");
  };
  if (variants.length === 1) return text(variants[0]);
  // Numbered from 0, as HQ_RESOURCE_VARIANT and `task explain` number them.
  return variants.map((variant, k) => `# Variant ${k}\n${text(variant)}`).join("\n\n");
}

/** The task description object of §9.2. */
export function taskDescriptionJson(template: TaskTemplate): unknown {
  return {
    crash_limit: template.crashLimit,
    pin_mode: template.pin === "omp" ? "openmp" : template.pin,
    priority: template.priority,
    program: {
      args: template.args,
      cwd: template.cwd,
      env: template.env,
      ...markStreamed({ stderr: template.stderr, stdout: template.stdout }, template, "<pipe>"),
    },
    resources: requestVariants(template).map((variant) => ({
      min_time: jsonSeconds(variant.timeRequestMs),
      n_nodes: template.nodes,
      resources: variant.resources.map((entry) => ({
        request: requestJson(entry),
        resource: entry.name,
      })),
      weight: Math.round(variant.weight * 10_000),
    })),
    task_dir: template.taskDir,
    time_limit: jsonSeconds(template.timeLimitMs),
  };
}

/** The template a task of the job ran with (its submit). */
export function templateOf(job: JobDetailView, taskId: number): TaskTemplate | null {
  return job.submits.find((submit) => new IdRanges(submit.ids).has(taskId))?.template ?? null;
}

/** The ids a task waits for (job files, the API; resources spec §10), or none. */
export function dependenciesOf(job: JobDetailView, taskId: number): number[] {
  for (const submit of job.submits) {
    if (!submit.deps) continue;
    const index = new IdRanges(submit.ids).indexOf(taskId);
    if (index >= 0) return submit.deps[index] ?? [];
  }
  return [];
}

/**
 * The paths with streamed channels (spec §10.1) shown as `marker`: `<Stream>` in cli tables,
 * `<pipe>` in JSON.
 */
export function markStreamed<P extends { stdout: string | null; stderr: string | null }>(
  paths: P,
  template: TaskTemplate,
  marker: string,
): P {
  const stream = template.stream;
  if (!stream) return paths;
  return {
    ...paths,
    stdout: stream.stdout ? marker : paths.stdout,
    stderr: stream.stderr ? marker : paths.stderr,
  };
}

/** Whether a task shows its resolved paths (§9.3: started, and not aborted). */
export function showsPaths(task: TaskView): boolean {
  return task.startedMs !== null && task.state !== "waiting" && task.state !== "aborted";
}

/** The task object of §9.3. */
export function taskJson(job: JobDetailView, task: TaskView): unknown {
  const out: Record<string, unknown> = { id: task.id, state: task.state };
  const template = templateOf(job, task.id);
  if (template && showsPaths(task)) {
    Object.assign(
      out,
      markStreamed(
        resolveForTask(template, {
          jobId: job.id,
          taskId: task.id,
          instanceId: task.instanceId,
          submitDir: template.submitDir,
          serverUid: "",
        }),
        template,
        "<pipe>",
      ),
    );
  }
  // §9.3: canceled and aborted tasks carry no start time or worker, even if they had started.
  const hasRun = task.state === "running" || task.state === "finished" || task.state === "failed";
  if (task.startedMs !== null && hasRun) {
    out.started_at = formatJsonTimestamp(task.startedMs);
    if (task.nodeIds) out.workers = task.nodeIds;
    else out.worker = task.workerId;
  }
  if (task.finishedMs !== null && hasRun) out.finished_at = formatJsonTimestamp(task.finishedMs);
  if (task.error !== null) out.error = task.error;
  return out;
}

/** The job info object of §9.1. */
export function jobInfoJson(job: Omit<JobSummaryView, "state">): unknown {
  return {
    cancel_reason: job.cancelReason,
    id: job.id,
    is_open: job.isOpen,
    name: job.name,
    task_count: job.taskCount,
    task_stats: { ...job.counts },
  };
}
