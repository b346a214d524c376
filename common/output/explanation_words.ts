/** How `hq task explain` reads in cli and JSON output (resources spec §7, jobs spec §8.3). */
import { formatMakespan } from "./job_words.ts";
import { IdRanges } from "../id_ranges.ts";
import { formatAmount } from "../resources/amount.ts";
import {
  enabledVariantCount,
  type ExplanationItem,
  type TaskExplanation,
  type WorkerExplanation,
} from "../task_explanation.ts";
import type { Cell } from "./table.ts";

/** The task an explanation is about. */
export interface ExplainedTaskId {
  jobId: number;
  taskId: number;
}

export const EXPLANATION_HEADER = [
  "Worker Id",
  "Runnable",
  "Variant",
  "Type",
  "Provides",
  "Request",
];

/** The two lines above the table. */
export function explanationLines(task: ExplainedTaskId, explanation: TaskExplanation): string[] {
  const name = `${task.jobId}@${task.taskId}`;
  const { nTaskDeps, nWaitingDeps } = explanation;
  let readiness: string;
  if (nTaskDeps === 0) {
    readiness = `Task ${name} is ready to run because it has no dependencies.`;
  } else if (nWaitingDeps === nTaskDeps) {
    // (quirk) HyperQueue compares the unfinished count: this line is printed when no dependency
    // has finished, and the one below says "0/N" when all have (resources spec §7).
    readiness =
      `Task ${name} is ready to run because its all ${nTaskDeps} dependencies are finished.`;
  } else {
    readiness =
      `Task ${name} is not ready to run, because ${nWaitingDeps}/${nTaskDeps} dependencies are not finished.`;
  }
  const runnable = explanation.workers
    .filter((worker) => enabledVariantCount(worker) > 0)
    .map((worker) => worker.workerId);
  const where = runnable.length === 0
    ? "There is no worker where the task can run."
    : `The task can run on ${runnable.length} worker${runnable.length === 1 ? "" : "s"}: ${
      workerIdsText(runnable)
    }`;
  return [readiness, where];
}

/** Table rows: one per (worker, variant), the variant's items stacked inside the cells. */
export function explanationRows(explanation: TaskExplanation): Cell[][] {
  const rows: Cell[][] = [];
  for (const worker of explanation.workers) {
    worker.variants.forEach((items, variant) => {
      const texts = items.map(itemTexts);
      rows.push([
        variant === 0 ? String(worker.workerId) : "",
        variant === 0 ? runnableCell(worker) : "",
        String(variant),
        texts.map(([type]) => type).join("\n"),
        texts.map(([, provides]) => provides).join("\n"),
        texts.map(([, , request]) => request).join("\n"),
      ]);
    });
  }
  return rows;
}

/** `--output-mode json`: `{"task_id": {…}, "explanation": {…}}`, HyperQueue's shape. */
export function explanationJson(task: ExplainedTaskId, explanation: TaskExplanation): unknown {
  return {
    task_id: { job_id: task.jobId, job_task_id: task.taskId },
    explanation: {
      n_task_deps: explanation.nTaskDeps,
      n_waiting_deps: explanation.nWaitingDeps,
      workers: explanation.workers.map((worker) => ({
        worker_id: worker.workerId,
        variants: worker.variants.map((items) => items.map(itemJson)),
      })),
    },
  };
}

/**
 * `1-3,5`: plain runs, never `formatIdList`'s stepped form, which would turn workers 1, 3 and 5
 * into `1-5:2`.
 */
function workerIdsText(ids: number[]): string {
  return IdRanges.fromSortedIds(ids).ranges
    .map(([start, end]) => (start === end ? `${start}` : `${start}-${end}`))
    .join(",");
}

function runnableCell(worker: WorkerExplanation): Cell {
  const enabled = enabledVariantCount(worker);
  const total = worker.variants.length;
  if (enabled === 0) return { text: "No", color: "red" };
  return { text: total === 1 ? "Yes" : `Yes (${enabled}/${total})`, color: "green" };
}

/** Type, Provides and Request of one item. */
function itemTexts(item: ExplanationItem): [string, string, string] {
  switch (item.type) {
    case "resources":
      return [item.resource, formatAmount(item.workerAmount), formatAmount(item.requestAmount)];
    case "time":
      return [
        "time",
        item.remainingTimeMs === null ? "unknown" : formatMakespan(item.remainingTimeMs),
        formatMakespan(item.minTimeMs),
      ];
    case "worker-group":
      return ["nodes", `group size ${item.groupSize}`, String(item.nNodes)];
  }
}

function itemJson(item: ExplanationItem): unknown {
  switch (item.type) {
    case "resources":
      return {
        Resources: {
          resource: item.resource,
          request_amount: item.requestAmount,
          worker_amount: item.workerAmount,
        },
      };
    case "time":
      return {
        Time: {
          min_time: durationJson(item.minTimeMs),
          remaining_time: item.remainingTimeMs === null ? null : durationJson(item.remainingTimeMs),
        },
      };
    case "worker-group":
      return { WorkerGroup: { n_nodes: item.nNodes, group_size: item.groupSize } };
  }
}

/** Rust's `Duration` as serde writes it: whole seconds and the nanoseconds left over. */
function durationJson(ms: number): { secs: number; nanos: number } {
  const totalNs = BigInt(Math.floor(ms)) * 1_000_000n +
    BigInt(Math.round((ms - Math.floor(ms)) * 1e6));
  return { secs: Number(totalNs / 1_000_000_000n), nanos: Number(totalNs % 1_000_000_000n) };
}
