/**
 * Why a task can or cannot run on each connected worker (`hq task explain`, resources spec §7):
 * the server computes it, the client renders it. Plain data, so it travels in msgpack messages.
 */

/** One check of one variant of a task's request against one worker. */
export type ExplanationItem =
  /** A single-node request entry; amounts in 1/10000 units (`all` asks for its minimum, 1). */
  | { type: "resources"; resource: string; requestAmount: number; workerAmount: number }
  /** The variant's time request against the worker's remaining time (null: no time limit). */
  | { type: "time"; minTimeMs: number; remainingTimeMs: number | null }
  /** A multi-node variant's node count against the size of the worker's group. */
  | { type: "worker-group"; nNodes: number; groupSize: number };

export interface WorkerExplanation {
  workerId: number;
  /** Per variant of the task's request (in variant order), the items checked. */
  variants: ExplanationItem[][];
}

export interface TaskExplanation {
  nTaskDeps: number;
  /** Dependencies not finished yet. */
  nWaitingDeps: number;
  /** Every connected worker, by ascending id. */
  workers: WorkerExplanation[];
}

/** Whether this item alone keeps the variant off the worker. */
export function isBlocking(item: ExplanationItem): boolean {
  switch (item.type) {
    case "resources":
      return item.requestAmount > item.workerAmount;
    case "time":
      return item.remainingTimeMs !== null && item.remainingTimeMs < item.minTimeMs;
    case "worker-group":
      return item.nNodes > item.groupSize;
  }
}

/** Variants of the worker where no item blocks (explain ignores current load). */
export function enabledVariantCount(worker: WorkerExplanation): number {
  return worker.variants.filter((items) => !items.some(isBlocking)).length;
}
