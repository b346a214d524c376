/**
 * Keeps a worker's resident memory flat as tasks pass through it (issue 18, item 4). Each task
 * allocates a few KB of short-lived objects (messages, paths, environments, promises); under that
 * rate V8 grows its young generation and lets the old one's committed pages climb to several
 * times the live data before a full collection, and keeps the pages afterwards: a worker went
 * 56 → 103 MB over 10,000 `/bin/true` tasks and 122 MB over 20,000 with 8 MB of live heap, which
 * counts against the memory limit of the batch job the worker runs in. A full collection every
 * `TASKS_PER_COLLECTION` ended tasks (a few ms on a worker's small heap) keeps it at ~72 MB.
 */
import { fullCollection } from "../common/full_collection.ts";

export const TASKS_PER_COLLECTION = 1000;

let ended = 0;

/** Counts an ended task instance; every `TASKS_PER_COLLECTION`th collects. */
export function noteTaskEnded(): void {
  if (++ended % TASKS_PER_COLLECTION === 0) void fullCollection();
}
