/**
 * How allocation queues and allocations read in tables and JSON (journal-alloc spec §2.12), and
 * the lines that say why a queue submits nothing. Pure: the formatters print what these return.
 */
import type {
  AllocationStatus,
  AllocationView,
  ManagerName,
  QueueStallReason,
  QueueView,
} from "../autoalloc.ts";
import { formatDuration } from "../duration.ts";
import { formatResourcesLine } from "../resources/describe_resources.ts";
import { formatJsonTimestamp, formatLocalDateTime } from "../timestamp.ts";
import type { Color } from "./colors.ts";
import { jsonSeconds } from "./json.ts";
import { type Cell, renderHorizontalTable } from "./table.ts";

export const ALLOC_LIST_HEADER = [
  "ID",
  "State",
  "Backlog size",
  "Max workers per alloc",
  "Max worker count",
  "Timelimit",
  "Manager",
  "Worker resources",
  "Name",
  "Args",
];

export const ALLOC_INFO_HEADER = [
  "ID",
  "State",
  "Working directory",
  "Worker count",
  "Queue time",
  "Start time",
  "Finish time",
];

const MANAGER_WORDS: Record<ManagerName, { cli: string; json: string }> = {
  pbs: { cli: "PBS", json: "PBS" },
  slurm: { cli: "SLURM", json: "Slurm" },
};

const STATUS_COLORS: Record<AllocationStatus, Color> = {
  queued: "yellow",
  running: "cyan",
  finished: "green",
  failed: "red",
};

/** `hq alloc list` in cli mode: queues sorted by id. */
export function allocListTable(queues: QueueView[], options: { colors: boolean }): string {
  const rows: Cell[][] = sortQueues(queues).map((queue) => {
    const params = queue.params;
    return [
      String(queue.id),
      queue.state === "active"
        ? { text: "ACTIVE", color: "green" }
        : { text: "PAUSED", color: "yellow" },
      String(params.backlog),
      String(params.maxWorkersPerAlloc),
      String(params.maxWorkerCount ?? 0),
      formatDuration(params.timeLimitMs),
      MANAGER_WORDS[params.manager].cli,
      queue.knownWorkerResources === null
        ? "<unknown>"
        : formatResourcesLine(queue.knownWorkerResources),
      params.name ?? "",
      params.additionalArgs.join(","),
    ];
  });
  return renderHorizontalTable(ALLOC_LIST_HEADER, rows, {
    colors: options.colors,
    rightAligned: [0],
  });
}

/** `hq alloc list` in JSON mode. */
export function allocListJson(queues: QueueView[]): unknown {
  return sortQueues(queues).map((queue) => {
    const params = queue.params;
    return {
      id: queue.id,
      name: params.name,
      state: queue.state === "active" ? "Active" : "Paused",
      manager: MANAGER_WORDS[params.manager].json,
      additional_args: params.additionalArgs,
      backlog: params.backlog,
      max_workers_per_alloc: params.maxWorkersPerAlloc,
      timelimit: jsonSeconds(params.timeLimitMs),
      max_worker_count: params.maxWorkerCount,
      worker_args: params.workerArgs,
      known_worker_resources: queue.knownWorkerResources,
    };
  });
}

/** `hq alloc info` in cli mode; `allocations` as `selectAllocations` returns them. */
export function allocInfoTable(
  allocations: AllocationView[],
  options: { colors: boolean },
): string {
  const rows: Cell[][] = allocations.map((allocation) => [
    allocation.id,
    { text: allocation.status.toUpperCase(), color: STATUS_COLORS[allocation.status] },
    allocation.workdir,
    String(allocation.targetWorkerCount),
    formatLocalDateTime(allocation.queuedMs),
    allocation.startedMs === null ? "" : formatLocalDateTime(allocation.startedMs),
    allocation.endedMs === null ? "" : formatLocalDateTime(allocation.endedMs),
  ]);
  return renderHorizontalTable(ALLOC_INFO_HEADER, rows, { colors: options.colors });
}

/** `hq alloc info` in JSON mode. */
export function allocInfoJson(allocations: AllocationView[]): unknown {
  return allocations.map((allocation) => {
    // Quirk (spec §2.12): an allocation ended by a poll or by status errors shows no times.
    const timed = !allocation.unexpected;
    return {
      id: allocation.id,
      target_worker_count: allocation.targetWorkerCount,
      queued_at: formatJsonTimestamp(allocation.queuedMs),
      started_at: timed && allocation.startedMs !== null
        ? formatJsonTimestamp(allocation.startedMs)
        : null,
      ended_at: timed && allocation.endedMs !== null
        ? formatJsonTimestamp(allocation.endedMs)
        : null,
      status: allocation.status,
      workdir: allocation.workdir,
    };
  });
}

/**
 * The allocations `hq alloc info --filter` shows, sorted by id as strings. Quirk (spec §2.12):
 * `finished` and `failed` match only allocations ended by their workers, and `failed` only
 * those whose workers all crashed.
 */
export function selectAllocations(
  allocations: AllocationView[],
  filter: AllocationStatus | undefined,
): AllocationView[] {
  const selected = allocations.filter((allocation) => {
    switch (filter) {
      case undefined:
        return true;
      case "queued":
      case "running":
        return allocation.status === filter;
      case "finished":
        return !allocation.unexpected &&
          (allocation.status === "finished" || allocation.status === "failed");
      case "failed":
        return !allocation.unexpected && allocation.status === "failed";
    }
  });
  return selected.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One log line of the stall report, with the level it deserves. */
export interface StallLine {
  level: "info" | "warn";
  text: string;
}

const WORRYING: ReadonlySet<QueueStallReason["kind"]> = new Set([
  "auto-paused",
  "no-fitting-tasks",
  "rate-limited",
  "submission-failed",
]);

/**
 * Why the queue submits nothing, for stderr after `hq alloc info` (beyond HyperQueue): the
 * reason, then the last submission error and its script, then when the next attempt may be.
 */
export function stallLines(stall: QueueStallReason): StallLine[] {
  const level = WORRYING.has(stall.kind) ? "warn" : "info";
  const lines: StallLine[] = [{ level, text: `Not submitting: ${stall.message}` }];
  if (stall.lastError) {
    lines.push({ level, text: `Last submission error: ${stall.lastError.message}` });
    if (stall.lastError.scriptPath !== null) {
      lines.push({ level, text: `Submitted script: ${stall.lastError.scriptPath}` });
    }
  }
  if (stall.untilMs !== undefined && stall.untilMs !== null) {
    lines.push({
      level,
      text: `Next submission possible at ${formatLocalDateTime(stall.untilMs)}`,
    });
  }
  return lines;
}

function sortQueues(queues: QueueView[]): QueueView[] {
  return [...queues].sort((a, b) => a.id - b.id);
}
