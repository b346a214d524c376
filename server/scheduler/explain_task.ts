/**
 * `hq task explain` (resources spec §7, §4.1): checks each variant of a task's request against
 * the static capabilities of each connected worker: its resource totals, its remaining time and
 * the size of its group. Current load is deliberately not considered.
 */
import type { WorkerConfiguration } from "../../common/protocol.ts";
import { AMOUNT_FRACTIONS } from "../../common/resources/amount.ts";
import {
  type ResourceDescriptorItem,
  resourceItemSize,
} from "../../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import type {
  ExplanationItem,
  TaskExplanation,
  WorkerExplanation,
} from "../../common/task_explanation.ts";

/** One alternative request of a task (resources spec §3.6). */
export interface ExplainedVariant {
  resources: readonly ResourceRequestEntry[];
  timeRequestMs: number;
  /** Whole workers per task; 0 for a single-node variant. */
  nNodes: number;
}

/** What explain needs of a worker (`WorkerRecord` of the core fits). */
export interface ExplainedWorker {
  id: number;
  configuration: Pick<WorkerConfiguration, "resources" | "group">;
  /** When the worker's time limit ends it, or null. */
  endMs: number | null;
}

export interface ExplainInput {
  /** The task's variants; a task has at least one. */
  variants: readonly ExplainedVariant[];
  /** The connected workers. */
  workers: readonly ExplainedWorker[];
  nowMs: number;
  /** @default {0} */
  nTaskDeps?: number;
  /** Dependencies not finished yet. @default {0} */
  nWaitingDeps?: number;
}

export function explainTask(input: ExplainInput): TaskExplanation {
  const workers = [...input.workers].sort((a, b) => a.id - b.id);
  const groupSizes = new Map<string, number>();
  for (const worker of workers) {
    const group = worker.configuration.group;
    groupSizes.set(group, (groupSizes.get(group) ?? 0) + 1);
  }
  return {
    nTaskDeps: input.nTaskDeps ?? 0,
    nWaitingDeps: input.nWaitingDeps ?? 0,
    workers: workers.map((worker): WorkerExplanation => ({
      workerId: worker.id,
      variants: input.variants.map((variant) =>
        explainVariant(variant, {
          worker,
          groupSize: groupSizes.get(worker.configuration.group)!,
          nowMs: input.nowMs,
        })
      ),
    })),
  };
}

function explainVariant(
  variant: ExplainedVariant,
  context: { worker: ExplainedWorker; groupSize: number; nowMs: number },
): ExplanationItem[] {
  const { worker, groupSize, nowMs } = context;
  const items: ExplanationItem[] = [];
  if (variant.timeRequestMs > 0) {
    items.push({
      type: "time",
      minTimeMs: variant.timeRequestMs,
      remainingTimeMs: worker.endMs === null ? null : Math.max(0, worker.endMs - nowMs),
    });
  }
  // A multi-node task takes whole workers: its per-resource entries do not matter (§5.5).
  if (variant.nNodes > 0) {
    items.push({ type: "worker-group", nNodes: variant.nNodes, groupSize });
    return items;
  }
  const descriptor = worker.configuration.resources.resources;
  for (const entry of variant.resources) {
    items.push({
      type: "resources",
      resource: entry.name,
      // Capability counts `all` as its smallest possible amount, one unit (§4.1).
      requestAmount: entry.policy === "all" ? AMOUNT_FRACTIONS : entry.amount,
      workerAmount: totalAmount(descriptor, entry.name),
    });
  }
  return items;
}

/** The worker's total of a resource in 1/10000 units (an indexed label counts as one unit). */
function totalAmount(items: readonly ResourceDescriptorItem[], name: string): number {
  const item = items.find((candidate) => candidate.name === name);
  if (item === undefined) return 0;
  const size = resourceItemSize(item);
  return item.kind === "sum" ? size : size * AMOUNT_FRACTIONS;
}
