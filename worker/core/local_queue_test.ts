import assert from "node:assert/strict";
import {
  type ResourceDescriptorItem,
  sortResourceItems,
} from "../../common/resources/resource_descriptor.ts";
import type { ResourceRequestEntry } from "../../common/resources/resource_request.ts";
import { ResourceAllocator } from "../resource_allocator.ts";
import { LocalQueue, type QueueDecision } from "./local_queue.ts";

const UNIT = 10_000;

function range(name: string, start: number, end: number): ResourceDescriptorItem {
  return { name, kind: "range", start, end };
}

/** A queue over a real allocator (synchronous, no process) with these resources. */
function queueOn(...items: ResourceDescriptorItem[]) {
  const allocator = new ResourceAllocator({
    resources: sortResourceItems(items),
    coupling: { weights: [] },
  });
  return { allocator, queue: new LocalQueue<string>(allocator) };
}

function need(name: string, amount: number): ResourceRequestEntry {
  return { name, amount: amount * UNIT, policy: "compact" };
}

/** What the decisions say, as `start:<name>` and `back:<name>`. */
function names(decisions: QueueDecision<string>[]): string[] {
  return decisions.map((decision) =>
    `${decision.type === "start" ? "start" : "back"}:${decision.item}`
  );
}

Deno.test("LocalQueue starts the higher priority first, then in arrival order", () => {
  const { queue } = queueOn(range("cpus", 0, 1));
  const one = [need("cpus", 1)];
  queue.add({ item: "a", request: one, priority: 0, timeRequestMs: 0 });
  queue.add({ item: "b", request: one, priority: 0, timeRequestMs: 0 });
  queue.add({ item: "c", request: one, priority: 5, timeRequestMs: 0 });
  assert.deepEqual(names(queue.startable(null)), ["start:c", "start:a"]);
  assert.equal(queue.size, 1);
});

Deno.test("LocalQueue backfills: a lower priority starts in what a blocked request cannot use", () => {
  // --cpus 4 --resource "foo=[1,2]": a foo=2 task runs, a second waits, a 1-CPU task of lower
  // priority starts (resources spec §5.2, backfill).
  const { queue } = queueOn(range("cpus", 0, 3), range("foo", 1, 2));
  const foo2 = [need("cpus", 1), need("foo", 2)];
  queue.add({ item: "first", request: foo2, priority: 0, timeRequestMs: 0 });
  queue.add({ item: "second", request: foo2, priority: 0, timeRequestMs: 0 });
  queue.add({ item: "low", request: [need("cpus", 1)], priority: -1, timeRequestMs: 0 });
  assert.deepEqual(names(queue.startable(null)), ["start:first", "start:low"]);
  assert.equal(queue.size, 1);
});

Deno.test("LocalQueue keeps strict priority: a lower priority does not take what a blocked one needs", () => {
  const { allocator, queue } = queueOn(range("cpus", 0, 3));
  const held = allocator.tryAllocate([need("cpus", 2)])!;
  queue.add({ item: "big", request: [need("cpus", 3)], priority: 1, timeRequestMs: 0 });
  queue.add({ item: "small", request: [need("cpus", 1)], priority: 0, timeRequestMs: 0 });
  assert.deepEqual(names(queue.startable(null)), []);
  allocator.release(held);
  assert.deepEqual(names(queue.startable(null)), ["start:big", "start:small"]);
});

Deno.test("LocalQueue lets an equal priority pass a blocked request", () => {
  const { allocator, queue } = queueOn(range("cpus", 0, 3));
  allocator.tryAllocate([need("cpus", 2)]);
  queue.add({ item: "big", request: [need("cpus", 3)], priority: 0, timeRequestMs: 0 });
  queue.add({ item: "small", request: [need("cpus", 1)], priority: 0, timeRequestMs: 0 });
  assert.deepEqual(names(queue.startable(null)), ["start:small"]);
});

Deno.test("LocalQueue hands back a task whose time request exceeds the worker's remaining time", () => {
  const { queue } = queueOn(range("cpus", 0, 0));
  const one = [need("cpus", 1)];
  queue.add({ item: "late", request: one, priority: 0, timeRequestMs: 18_500 });
  queue.add({ item: "short", request: one, priority: 0, timeRequestMs: 1_000 });
  queue.add({ item: "queued", request: one, priority: 0, timeRequestMs: 0 });
  assert.deepEqual(names(queue.startable(10_000)), ["back:late", "start:short"]);
  assert.equal(queue.size, 1);
  // Without a time limit nothing goes back.
  queue.add({ item: "long", request: one, priority: 0, timeRequestMs: 3_600_000 });
  assert.deepEqual(names(queue.startable(null)), []);
  assert.equal(queue.size, 2);
});

Deno.test("LocalQueue lets a pass reuse what a decision freed at once (zero worker)", () => {
  const { allocator, queue } = queueOn(range("cpus", 0, 0));
  for (const item of ["a", "b", "c"]) {
    queue.add({ item, request: [need("cpus", 1)], priority: 0, timeRequestMs: 0 });
  }
  const started: string[] = [];
  queue.next(null, (decision) => {
    if (decision.type !== "start") return;
    started.push(decision.item);
    allocator.release(decision.allocation);
  });
  assert.deepEqual(started, ["a", "b", "c"]);
  assert.equal(queue.size, 0);
});

Deno.test("LocalQueue.remove takes out the wanted tasks in queue order", () => {
  const { queue } = queueOn(range("cpus", 0, 0));
  for (const item of ["a", "b", "c"]) {
    queue.add({ item, request: [need("cpus", 2)], priority: 0, timeRequestMs: 0 });
  }
  assert.deepEqual(queue.remove((task) => task.item !== "b").map((task) => task.item), ["a", "c"]);
  assert.deepEqual(queue.clear().map((task) => task.item), ["b"]);
});
