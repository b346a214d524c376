import assert from "node:assert/strict";
import { parseAmount } from "../common/resources/amount.ts";
import { parseCoupling } from "../common/resources/parse_coupling.ts";
import {
  itemFromGrid,
  type ResourceDescriptorItem,
  sortResourceItems,
} from "../common/resources/resource_descriptor.ts";
import type { RequestPolicy, ResourceRequestEntry } from "../common/resources/resource_request.ts";
import { allocationEnv, type ResourceAllocation, ResourceAllocator } from "./resource_allocator.ts";
import { seededRandom } from "../common/seeded_random.ts";

function allocator(...items: ResourceDescriptorItem[]): ResourceAllocator {
  return new ResourceAllocator({ resources: sortResourceItems(items), coupling: { weights: [] } });
}

/** An allocator whose descriptor has `--coupling <coupling>`. */
function coupled(coupling: string, ...items: ResourceDescriptorItem[]): ResourceAllocator {
  const resources = sortResourceItems(items);
  return new ResourceAllocator({
    resources,
    coupling: { weights: parseCoupling(coupling, resources) },
  });
}

function range(name: string, start: number, end: number): ResourceDescriptorItem {
  return { name, kind: "range", start, end };
}

/** `sum(X)` with X in whole units. */
function sum(name: string, size: string): ResourceDescriptorItem {
  return { name, kind: "sum", size: parseAmount(size) };
}

/** `entry("cpus", "2 compact")`, `entry("gpus", "0.5")`, `entry("mem", "all")`. */
function entry(name: string, text: string): ResourceRequestEntry {
  if (text === "all") return { name, amount: 0, policy: "all" };
  const [amount, policy = "compact"] = text.split(" ");
  return { name, amount: parseAmount(amount), policy: policy as RequestPolicy };
}

function take(
  allocator: ResourceAllocator,
  ...request: ResourceRequestEntry[]
): ResourceAllocation {
  const allocation = allocator.tryAllocate(request);
  assert.ok(allocation !== null, `expected ${JSON.stringify(request)} to fit`);
  return allocation;
}

/** Labels of the only entry of a one-entry request. */
function labels(allocator: ResourceAllocator, name: string, text: string): string[] {
  return take(allocator, entry(name, text)).entries[0].labels;
}

function fits(allocator: ResourceAllocator, ...request: ResourceRequestEntry[]): boolean {
  const allocation = allocator.tryAllocate(request);
  if (allocation !== null) allocator.release(allocation);
  return allocation !== null;
}

/** Labels taken per group of a grid pool with `groupSize` labels per group. */
function perGroup(taken: string[], groupCount: number, groupSize: number): number[] {
  const counts = Array<number>(groupCount).fill(0);
  for (const label of taken) counts[Math.floor(Number(label) / groupSize)]++;
  return counts;
}

function grid(groupCount: number, groupSize: number): ResourceAllocator {
  return allocator(itemFromGrid("cpus", { groupCount, groupSize }));
}

// --- flat indexed pools (§4.2) ---

Deno.test("flat pool: allocation pops from the end of the descriptor-order stack", () => {
  const a = allocator(range("cpus", 0, 3));
  assert.deepEqual(labels(a, "cpus", "2"), ["3", "2"]);
  assert.deepEqual(labels(a, "cpus", "2"), ["1", "0"]);
  assert.equal(a.tryAllocate([entry("cpus", "1")]), null);
});

Deno.test("flat pool: release pushes back in reverse, restoring the stack", () => {
  const a = allocator(range("cpus", 0, 3));
  const first = take(a, entry("cpus", "2"));
  assert.deepEqual(first.entries[0].labels, ["3", "2"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["1"]);
  a.release(first);
  // Stack is now [0, 2, 3]: 3 on top again, then 2.
  assert.deepEqual(labels(a, "cpus", "1"), ["3"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["2"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["0"]);
});

Deno.test("flat pool: a single released label goes on top of the stack", () => {
  const a = allocator(range("cpus", 0, 3));
  const three = take(a, entry("cpus", "1"));
  assert.deepEqual(labels(a, "cpus", "1"), ["2"]);
  a.release(three);
  assert.deepEqual(labels(a, "cpus", "2"), ["3", "1"]);
});

Deno.test("flat list pool keeps the given label order; policies do not matter", () => {
  const a = allocator({ name: "gpus", kind: "list", values: ["b", "a", "c"] }, range("cpus", 0, 0));
  assert.deepEqual(labels(a, "gpus", "1 scatter"), ["c"]);
  assert.deepEqual(labels(a, "gpus", "1 tight!"), ["a"]);
  assert.deepEqual(labels(a, "gpus", "1 compact!"), ["b"]);
});

// --- grouped pools (§3.3, §4.3) ---

Deno.test("grouped 3x4: 6 compact is [3,3], 6 tight is [4,2], 6 scatter is [2,2,2]", () => {
  const compact = labels(grid(3, 4), "cpus", "6 compact");
  assert.deepEqual(perGroup(compact, 3, 4), [3, 3, 0]);
  assert.deepEqual(compact, ["1", "2", "3", "5", "6", "7"]);

  const tight = labels(grid(3, 4), "cpus", "6 tight");
  assert.deepEqual(perGroup(tight, 3, 4), [4, 2, 0]);
  assert.deepEqual(tight, ["0", "1", "2", "3", "6", "7"]);

  const scatter = labels(grid(3, 4), "cpus", "6 scatter");
  assert.deepEqual(perGroup(scatter, 3, 4), [2, 2, 2]);
  assert.deepEqual(scatter, ["2", "3", "6", "7", "10", "11"]);
});

Deno.test("grouped: scatter walks from group 0 and skips exhausted groups", () => {
  const a = grid(3, 4);
  assert.deepEqual(perGroup(labels(a, "cpus", "3 tight"), 3, 4), [3, 0, 0]);
  // Group 0 has one label left: passes give 0,1,2 then 1,2 then 1,2 ...
  assert.deepEqual(perGroup(labels(a, "cpus", "7 scatter"), 3, 4), [1, 3, 3]);
});

Deno.test("grouped: compact prefers the group with the fewest free labels (best fit)", () => {
  const a = grid(3, 4);
  assert.deepEqual(labels(a, "cpus", "1"), ["3"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["2"]);
  // Free [2,4,4]: 3 does not fit group 0, so group 1.
  assert.deepEqual(perGroup(labels(a, "cpus", "3"), 3, 4), [0, 3, 0]);
  // Free [2,1,4]: 2 fits group 0 best.
  assert.deepEqual(perGroup(labels(a, "cpus", "2"), 3, 4), [2, 0, 0]);
  // Free [0,1,4]: 1 fits group 1 best.
  assert.deepEqual(perGroup(labels(a, "cpus", "1"), 3, 4), [0, 1, 0]);
});

Deno.test("grouped: tight takes the largest group whole, the rest from the smallest that fits", () => {
  const a = grid(3, 4);
  labels(a, "cpus", "1");
  // Free [3,4,4]: best-fit pair is groups 0 and 1; group 1 whole, remainder 2 from group 0.
  const tight = take(a, entry("cpus", "6 tight"));
  assert.deepEqual(perGroup(tight.entries[0].labels, 3, 4), [2, 4, 0]);
  a.release(tight);
  assert.deepEqual(perGroup(labels(a, "cpus", "6 compact"), 3, 4), [3, 3, 0]);
});

Deno.test("grouped: compact uses as few groups as the current state allows", () => {
  const a = grid(3, 4);
  take(a, entry("cpus", "3 scatter"));
  // Free [3,3,3]: 4 needs two groups now, 7 three.
  assert.deepEqual(perGroup(labels(a, "cpus", "4 compact"), 3, 4), [2, 2, 0]);
  assert.equal(a.tryAllocate([entry("cpus", "6 compact")]), null);
  assert.deepEqual(perGroup(labels(a, "cpus", "5 compact"), 3, 4), [1, 1, 3]);
});

Deno.test("grouped: 4 compact! waits while fragmented, runs in one group after release", () => {
  const a = grid(3, 4);
  assert.deepEqual(perGroup(labels(a, "cpus", "4 compact!"), 3, 4), [4, 0, 0]);

  const b = grid(3, 4);
  const fragments = take(b, entry("cpus", "3 scatter"));
  assert.equal(b.tryAllocate([entry("cpus", "4 compact!")]), null);
  assert.equal(b.tryAllocate([entry("cpus", "4 tight!")]), null);
  assert.ok(fits(b, entry("cpus", "4 compact")));
  assert.ok(fits(b, entry("cpus", "4 tight")));
  b.release(fragments);
  assert.deepEqual(perGroup(labels(b, "cpus", "4 compact!"), 3, 4), [4, 0, 0]);
});

Deno.test("grouped: 8 compact! always uses exactly two groups", () => {
  const a = grid(3, 4);
  assert.deepEqual(perGroup(labels(a, "cpus", "8 compact!"), 3, 4), [4, 4, 0]);

  const b = grid(3, 4);
  labels(b, "cpus", "1");
  // Free [3,4,4]: groups 1 and 2 still give two groups.
  assert.deepEqual(perGroup(labels(b, "cpus", "8 compact!"), 3, 4), [0, 4, 4]);

  const c = grid(3, 4);
  const fragments = take(c, entry("cpus", "2 scatter"));
  // Free [3,3,4]: 8 needs three groups now.
  assert.equal(c.tryAllocate([entry("cpus", "8 compact!")]), null);
  assert.equal(c.tryAllocate([entry("cpus", "8 tight!")]), null);
  const spread = take(c, entry("cpus", "8 compact"));
  assert.deepEqual(perGroup(spread.entries[0].labels, 3, 4), [3, 3, 2]);
  c.release(spread);
  assert.equal(c.tryAllocate([entry("cpus", "8 compact!")]), null);
  c.release(fragments);
  assert.deepEqual(perGroup(labels(c, "cpus", "8 compact!"), 3, 4), [4, 4, 0]);
});

Deno.test("grouped: forced policies succeed again once fragments are released", () => {
  const a = grid(2, 4);
  const fragments = take(a, entry("cpus", "2 scatter"));
  assert.equal(a.tryAllocate([entry("cpus", "4 tight!")]), null);
  a.release(fragments);
  assert.deepEqual(labels(a, "cpus", "4 tight!"), ["0", "1", "2", "3"]);
});

// --- fractional amounts (§3.5) ---

Deno.test("fractional: two 0.5 share one label, a third opens a fresh one", () => {
  const a = allocator(range("cpus", 0, 0), range("gpus", 0, 1));
  const first = take(a, entry("gpus", "0.5"));
  assert.deepEqual(first.entries[0], { name: "gpus", labels: ["1"], amount: 5000 });
  assert.deepEqual(labels(a, "gpus", "0.5"), ["1"]);
  assert.deepEqual(labels(a, "gpus", "0.5"), ["0"]);
  // Label 1 is used up by the two halves; label 0 has half left.
  assert.equal(a.tryAllocate([entry("gpus", "1")]), null);
  assert.equal(a.tryAllocate([entry("gpus", "0.6")]), null);
  a.release(first);
  assert.deepEqual(labels(a, "gpus", "0.5"), ["0"]);
  assert.deepEqual(labels(a, "gpus", "0.5"), ["1"]);
});

Deno.test("fractional: two labels each 0.75 used cannot serve 0.5", () => {
  const a = allocator(range("cpus", 0, 0), range("gpus", 0, 1));
  assert.deepEqual(labels(a, "gpus", "0.75"), ["1"]);
  assert.deepEqual(labels(a, "gpus", "0.75"), ["0"]);
  assert.equal(a.tryAllocate([entry("gpus", "0.5")]), null);
  assert.deepEqual(labels(a, "gpus", "0.25"), ["0"]);
});

Deno.test("fractional: best fit is the partial label with the smallest share that still fits", () => {
  const a = allocator(range("cpus", 0, 2));
  assert.deepEqual(labels(a, "cpus", "0.5"), ["2"]);
  // 0.75 does not fit label 2 (0.5 left): fresh label 1, 0.25 left.
  assert.deepEqual(labels(a, "cpus", "0.75"), ["1"]);
  assert.deepEqual(labels(a, "cpus", "0.25"), ["1"]);
  assert.deepEqual(labels(a, "cpus", "0.25"), ["2"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["0"]);
});

Deno.test("fractional: 2.5 is two whole labels plus half of one more, listed last", () => {
  const a = allocator(range("cpus", 0, 3));
  const big = take(a, entry("cpus", "2.5"));
  assert.deepEqual(big.entries[0], { name: "cpus", labels: ["3", "2", "1"], amount: 25_000 });
  assert.deepEqual(labels(a, "cpus", "0.5"), ["1"]);
  assert.deepEqual(labels(a, "cpus", "1"), ["0"]);
  a.release(big);
  assert.deepEqual(labels(a, "cpus", "2"), ["3", "2"]);

  const b = allocator(range("cpus", 0, 3));
  assert.deepEqual(labels(b, "cpus", "0.5"), ["3"]);
  // The existing half-used label serves the fraction, after the whole labels.
  assert.deepEqual(labels(b, "cpus", "2.5"), ["2", "1", "3"]);
  assert.deepEqual(labels(b, "cpus", "1"), ["0"]);
});

Deno.test("fractional: a label used by fractions returns to the stack when fully free", () => {
  const a = allocator(range("cpus", 0, 3));
  const x = take(a, entry("cpus", "0.5"));
  const y = take(a, entry("cpus", "0.5"));
  assert.deepEqual(labels(a, "cpus", "2"), ["2", "1"]);
  a.release(x);
  assert.equal(a.tryAllocate([entry("cpus", "2")]), null);
  a.release(y);
  assert.deepEqual(labels(a, "cpus", "2"), ["3", "0"]);
});

Deno.test("fractional on grouped pools: one group, the fraction last, shares in the same group", () => {
  const a = grid(3, 4);
  assert.deepEqual(labels(a, "cpus", "1.5"), ["3", "2"]);
  // Label 2 has half left: 0.5 goes there; 1.5 then fits the rest of group 0.
  assert.deepEqual(labels(a, "cpus", "0.5"), ["2"]);
  assert.deepEqual(labels(a, "cpus", "1.5 compact!"), ["1", "0"]);
  // Two groups either way; the half-used label 0 is preferred over a fresh one.
  assert.deepEqual(labels(a, "cpus", "4.5 compact!"), ["4", "5", "6", "7", "0"]);
  assert.deepEqual(labels(a, "cpus", "3.5 compact!"), ["9", "10", "11", "8"]);
});

Deno.test("fractional on grouped pools: a half-used label does not make up for missing labels", () => {
  const a = grid(2, 4);
  labels(a, "cpus", "0.5");
  labels(a, "cpus", "3 tight");
  // Group 0: label 3 half used, nothing else; group 1: 4 free. 5.5 needs 5 whole labels + 0.5.
  assert.equal(a.tryAllocate([entry("cpus", "5.5")]), null);
  assert.deepEqual(labels(a, "cpus", "4.5"), ["4", "5", "6", "7", "3"]);
});

Deno.test("fractional on grouped pools: forced policies count the extra label", () => {
  const a = grid(2, 4);
  assert.deepEqual(labels(a, "cpus", "0.5"), ["3"]);
  // 3 whole from group 0 and the half-used label 3: still one group.
  assert.deepEqual(labels(a, "cpus", "3.5 compact!"), ["0", "1", "2", "3"]);

  const b = grid(2, 4);
  const fragments = take(b, entry("cpus", "2 scatter"));
  // 3.5 needs four labels: one group on an empty worker, two now.
  assert.equal(b.tryAllocate([entry("cpus", "3.5 compact!")]), null);
  assert.equal(b.tryAllocate([entry("cpus", "3.5 tight!")]), null);
  assert.deepEqual(perGroup(labels(b, "cpus", "3.5 tight"), 2, 4), [3, 1]);
  b.release(fragments);
  assert.ok(fits(b, entry("cpus", "0.5 compact!")));
});

// --- sum pools (§4.4) ---

Deno.test("sum pool: amounts are subtracted exactly, no labels", () => {
  const a = allocator(range("cpus", 0, 7), sum("mem", "10000"));
  const first = take(a, entry("mem", "4000"));
  assert.deepEqual(first.entries[0], { name: "mem", labels: [], amount: parseAmount("4000") });
  take(a, entry("mem", "4000"));
  assert.equal(a.tryAllocate([entry("mem", "4000")]), null);
  assert.ok(fits(a, entry("mem", "2000")));
  a.release(first);
  assert.ok(fits(a, entry("mem", "4000")));
  assert.ok(fits(a, entry("mem", "6000")));
});

Deno.test("sum pool: fractional amounts", () => {
  const a = allocator(range("cpus", 0, 0), sum("fpga", "1"));
  take(a, entry("fpga", "0.3"));
  take(a, entry("fpga", "0.7"));
  assert.equal(a.tryAllocate([entry("fpga", "0.0001")]), null);
});

// --- all (§3.4) ---

Deno.test("all on an indexed pool takes every label only when all are free", () => {
  const a = allocator(range("cpus", 0, 3));
  const all = take(a, entry("cpus", "all"));
  assert.deepEqual(all.entries[0], { name: "cpus", labels: ["3", "2", "1", "0"], amount: 40_000 });
  assert.equal(a.tryAllocate([entry("cpus", "all")]), null);
  assert.equal(a.tryAllocate([entry("cpus", "0.1")]), null);
  a.release(all);
  const half = take(a, entry("cpus", "0.5"));
  assert.equal(a.tryAllocate([entry("cpus", "all")]), null);
  a.release(half);
  assert.deepEqual(labels(a, "cpus", "all"), ["3", "2", "1", "0"]);
});

Deno.test("all on a grouped pool lists every label by group", () => {
  const a = grid(2, 2);
  assert.deepEqual(labels(a, "cpus", "all"), ["0", "1", "2", "3"]);
});

Deno.test("all on a sum pool takes the whole size only when nothing is used", () => {
  const a = allocator(range("cpus", 0, 0), sum("mem", "100"));
  const all = take(a, entry("mem", "all"));
  assert.deepEqual(all.entries[0], { name: "mem", labels: [], amount: parseAmount("100") });
  assert.equal(a.tryAllocate([entry("mem", "1")]), null);
  a.release(all);
  const small = take(a, entry("mem", "1"));
  assert.equal(a.tryAllocate([entry("mem", "all")]), null);
  a.release(small);
  assert.ok(fits(a, entry("mem", "all")));
});

// --- multi-entry requests ---

Deno.test("multi-entry: all entries or none, the state untouched on failure", () => {
  const a = allocator(range("cpus", 0, 3), range("gpus", 0, 1), sum("mem", "100"));
  assert.equal(
    a.tryAllocate([entry("cpus", "2"), entry("mem", "50"), entry("gpus", "3")]),
    null,
  );
  assert.equal(a.tryAllocate([entry("cpus", "2"), entry("nothing", "1")]), null);
  // Nothing was taken: the stack order is intact and mem is whole.
  assert.ok(fits(a, entry("mem", "all")));
  const both = take(a, entry("cpus", "2"), entry("gpus", "0.5"), entry("mem", "50"));
  assert.deepEqual(both.entries, [
    { name: "cpus", labels: ["3", "2"], amount: 20_000 },
    { name: "gpus", labels: ["1"], amount: 5000 },
    { name: "mem", labels: [], amount: parseAmount("50") },
  ]);
  a.release(both);
  assert.deepEqual(labels(a, "cpus", "1"), ["3"]);
});

Deno.test("multi-entry: a failing grouped entry leaves the grouped pool as it was", () => {
  const a = allocator(itemFromGrid("cpus", { groupCount: 2, groupSize: 4 }), range("gpus", 0, 0));
  labels(a, "cpus", "1");
  assert.equal(a.tryAllocate([entry("cpus", "3 tight"), entry("gpus", "2")]), null);
  assert.deepEqual(labels(a, "cpus", "3"), ["0", "1", "2"]);
});

// --- capability (§4.1) ---

Deno.test("isCapable: every pool exists and is large enough; all needs one unit", () => {
  const a = allocator(range("cpus", 0, 3), sum("mem", "0.5"), sum("disk", "1"));
  assert.ok(a.isCapable([entry("cpus", "4")]));
  assert.ok(a.isCapable([entry("cpus", "all"), entry("mem", "0.5")]));
  assert.ok(!a.isCapable([entry("cpus", "4.0001")]));
  assert.ok(!a.isCapable([entry("cpus", "1"), entry("gpus", "1")]));
  assert.ok(!a.isCapable([entry("mem", "all")]));
  assert.ok(a.isCapable([entry("disk", "all")]));
  assert.ok(a.isCapable([]));
  // Capability ignores the current load.
  take(a, entry("cpus", "all"));
  assert.ok(a.isCapable([entry("cpus", "4")]));
});

// --- environment (§6) ---

Deno.test("allocationEnv: cpus, gpus/nvidia and mem", () => {
  const a = allocator(range("cpus", 0, 3), range("gpus/nvidia", 0, 1), sum("mem", "1000"));
  const request = [entry("cpus", "2"), entry("gpus/nvidia", "1 scatter"), entry("mem", "100")];
  const allocation = take(a, ...request);
  assert.deepEqual(allocationEnv(request, allocation, {}), {
    HQ_RESOURCE_REQUEST_cpus: "2 compact",
    HQ_RESOURCE_VALUES_cpus: "3,2",
    HQ_CPUS: "3,2",
    OMP_NUM_THREADS: "2",
    HQ_RESOURCE_REQUEST_gpus_nvidia: "1 scatter",
    HQ_RESOURCE_VALUES_gpus_nvidia: "1",
    CUDA_VISIBLE_DEVICES: "1",
    CUDA_DEVICE_ORDER: "PCI_BUS_ID",
    HQ_RESOURCE_REQUEST_mem: "100 compact",
  });
});

Deno.test("allocationEnv: user OMP_NUM_THREADS, fractional cpus, all, gpus/amd", () => {
  const a = allocator(range("cpus", 0, 3), range("gpus/amd", 0, 1), sum("mem", "1000"));
  const whole = [entry("cpus", "1 tight!")];
  assert.deepEqual(allocationEnv(whole, take(a, ...whole), { OMP_NUM_THREADS: "7" }), {
    HQ_RESOURCE_REQUEST_cpus: "1 tight!",
    HQ_RESOURCE_VALUES_cpus: "3",
    HQ_CPUS: "3",
  });
  const fractional = [entry("cpus", "1.25 scatter"), entry("gpus/amd", "all")];
  assert.deepEqual(allocationEnv(fractional, take(a, ...fractional), {}), {
    HQ_RESOURCE_REQUEST_cpus: "1.25 scatter",
    HQ_RESOURCE_VALUES_cpus: "2,1",
    HQ_CPUS: "2,1",
    HQ_RESOURCE_REQUEST_gpus_amd: "all",
    HQ_RESOURCE_VALUES_gpus_amd: "1,0",
    ROCR_VISIBLE_DEVICES: "1,0",
  });
  const noCpus = [entry("mem", "0.5")];
  assert.deepEqual(allocationEnv(noCpus, take(a, ...noCpus), {}), {
    HQ_RESOURCE_REQUEST_mem: "0.5 compact",
  });
});

// --- coupling (§2.4, §4.3 step 2d and 4) ---

const CPUS_2X2: ResourceDescriptorItem = {
  name: "cpus",
  kind: "groups",
  groups: [["0", "1"], ["2", "3"]],
};
const GPUS_2: ResourceDescriptorItem = { name: "gpus", kind: "groups", groups: [["g0"], ["g1"]] };
const CPU_GPU_COUPLING = "cpus[0]:gpus[0],cpus[1]:gpus[1]";

/** Makes exactly the labels `used` of the idle pool `name` busy (whole labels). */
function occupy(a: ResourceAllocator, name: string, used: string[]): void {
  for (const label of labels(a, name, "all")) {
    if (!used.includes(label)) free(a, name, [label]);
  }
}

/** Releases whole labels of `name` taken by `occupy`. */
function free(a: ResourceAllocator, name: string, released: string[]): void {
  for (const label of released) a.release({ entries: [{ name, labels: [label], amount: 10_000 }] });
}

/** Labels per entry of a request. */
function takeLabels(a: ResourceAllocator, ...request: ResourceRequestEntry[]): string[][] {
  return take(a, ...request).entries.map((allocated) => allocated.labels);
}

Deno.test("coupling: the cpus of one group and the gpu coupled to it, in either request order", () => {
  const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
  assert.deepEqual(takeLabels(a, entry("cpus", "2"), entry("gpus", "1")), [["0", "1"], ["g0"]]);
  assert.deepEqual(takeLabels(a, entry("gpus", "1"), entry("cpus", "2")), [["g1"], ["2", "3"]]);
});

Deno.test("coupling: group 0's cpus partly taken, the task lands on group 1 with g1", () => {
  for (const order of ["cpus first", "gpus first"]) {
    const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
    occupy(a, "cpus", ["1"]);
    const request = [entry("cpus", "2"), entry("gpus", "1")];
    if (order === "gpus first") request.reverse();
    const got = take(a, ...request).entries.map(({ name, labels }) => [name, labels]);
    assert.deepEqual(Object.fromEntries(got), { cpus: ["2", "3"], gpus: ["g1"] }, order);
  }
  // Without coupling the GPU is the best-fit one, g0.
  const plain = allocator(CPUS_2X2, GPUS_2);
  occupy(plain, "cpus", ["1"]);
  assert.deepEqual(takeLabels(plain, entry("cpus", "2"), entry("gpus", "1")), [["2", "3"], ["g0"]]);
});

Deno.test("coupling: g0 taken, the cpus follow g1 although both cpus groups are free", () => {
  const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
  occupy(a, "gpus", ["g0"]);
  assert.deepEqual(takeLabels(a, entry("cpus", "2"), entry("gpus", "1")), [["2", "3"], ["g1"]]);
  const plain = allocator(CPUS_2X2, GPUS_2);
  occupy(plain, "gpus", ["g0"]);
  assert.deepEqual(takeLabels(plain, entry("cpus", "2"), entry("gpus", "1")), [["0", "1"], ["g1"]]);
});

Deno.test("coupling: the group count comes first, coupling never adds a group", () => {
  const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
  occupy(a, "cpus", ["1"]);
  occupy(a, "gpus", ["g1"]);
  // cpus 0 + 2 with g0 would score 256 but use two cpus groups: one group (2,3) and g0 wins.
  assert.deepEqual(takeLabels(a, entry("cpus", "2"), entry("gpus", "1")), [["2", "3"], ["g0"]]);
});

Deno.test("coupling: the larger weight wins; weights only join compact/tight entries", () => {
  const a = coupled("cpus[0]:gpus[1]=10,cpus[1]:gpus[1]=20", CPUS_2X2, GPUS_2);
  assert.deepEqual(takeLabels(a, entry("cpus", "1"), entry("gpus", "1")), [["3"], ["g1"]]);
  // A scatter gpu entry is served on its own: the cpus are plain best fit (group 0).
  const b = coupled("cpus[0]:gpus[1]=10,cpus[1]:gpus[1]=20", CPUS_2X2, GPUS_2);
  assert.deepEqual(takeLabels(b, entry("cpus", "1"), entry("gpus", "1 scatter")), [["1"], ["g0"]]);
  // A resource asked twice is served entry by entry, as without coupling.
  const c = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
  assert.deepEqual(
    takeLabels(c, entry("cpus", "1"), entry("cpus", "1"), entry("gpus", "1")),
    [["1"], ["0"], ["g0"]],
  );
});

Deno.test("coupling: compact! waits while only an uncoupled combination is free", () => {
  for (const released of [["cpus", "1"], ["gpus", "g1"]]) {
    const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
    occupy(a, "cpus", ["1"]);
    occupy(a, "gpus", ["g1"]);
    // Free: cpus group 1 and g0, one group each but not coupled (score 0 < 256 on a free worker).
    for (
      const policies of [["compact!", "compact!"], ["tight!", "tight!"], ["compact!", "compact"]]
    ) {
      const request = [entry("cpus", `2 ${policies[0]}`), entry("gpus", `1 ${policies[1]}`)];
      assert.equal(a.tryAllocate(request), null, policies.join(" "));
    }
    assert.ok(fits(a, entry("cpus", "2 compact"), entry("gpus", "1 compact")));
    assert.ok(fits(a, entry("cpus", "2 compact!")));
    free(a, released[0], [released[1]]);
    const got = takeLabels(a, entry("cpus", "2 compact!"), entry("gpus", "1 compact!"));
    assert.deepEqual(got, released[0] === "cpus" ? [["0", "1"], ["g0"]] : [["2", "3"], ["g1"]]);
  }
});

Deno.test("coupling inside one resource: 4 compact on 4x2 takes the coupled pair, not best fit", () => {
  assert.deepEqual(labels(grid(4, 2), "cpus", "4"), ["0", "1", "2", "3"]);
  const cpus = itemFromGrid("cpus", { groupCount: 4, groupSize: 2 });
  assert.deepEqual(labels(coupled("cpus[1]:cpus[2]", cpus), "cpus", "4"), ["2", "3", "4", "5"]);
  assert.deepEqual(labels(coupled("cpus[0]:cpus[1]", cpus), "cpus", "4"), ["0", "1", "2", "3"]);
  // Group 0 partly used: no coupled pair is free, best fit decides (groups 1 and 2).
  const a = coupled("cpus[0]:cpus[1]", cpus);
  occupy(a, "cpus", ["1"]);
  assert.deepEqual(labels(a, "cpus", "4"), ["2", "3", "4", "5"]);
  // One label needs one group: nothing to couple.
  assert.deepEqual(labels(coupled("cpus[2]:cpus[3]", cpus), "cpus", "1"), ["1"]);
});

Deno.test("coupling inside one resource: coupling before best fit, best fit among equal scores", () => {
  const cpus = itemFromGrid("cpus", { groupCount: 4, groupSize: 2 });
  // Free [2,2,1,2]: best fit alone takes groups 0 and 2 (group 2 fits best).
  const plain = allocator(cpus);
  occupy(plain, "cpus", ["5"]);
  assert.deepEqual(labels(plain, "cpus", "3"), ["0", "1", "4"]);
  const a = coupled("cpus[0]:cpus[1]", cpus);
  occupy(a, "cpus", ["5"]);
  assert.deepEqual(labels(a, "cpus", "3"), ["0", "1", "3"]);
  // Both pairs coupled (spec example): equal scores, best fit picks (2,3).
  const b = coupled("cpus[0]:cpus[1],cpus[2]:cpus[3]", cpus);
  occupy(b, "cpus", ["5"]);
  assert.deepEqual(labels(b, "cpus", "3"), ["4", "6", "7"]);
  // A larger weight beats the better fit.
  const c = coupled("cpus[0]:cpus[1]=300,cpus[2]:cpus[3]", cpus);
  occupy(c, "cpus", ["5"]);
  assert.deepEqual(labels(c, "cpus", "3"), ["0", "1", "3"]);
});

Deno.test("coupling inside one resource: 4 compact! waits for a free coupled pair", () => {
  const cpus = itemFromGrid("cpus", { groupCount: 4, groupSize: 2 });
  const a = coupled("cpus[0]:cpus[1],cpus[2]:cpus[3]", cpus);
  occupy(a, "cpus", ["1", "5"]);
  // Free [1,2,1,2]: only groups 1 and 3 hold 4 in two groups, and they are not coupled.
  assert.equal(a.tryAllocate([entry("cpus", "4 compact!")]), null);
  assert.equal(a.tryAllocate([entry("cpus", "4 tight!")]), null);
  assert.ok(fits(a, entry("cpus", "2 compact!")));
  const spread = take(a, entry("cpus", "4 compact"));
  assert.deepEqual(spread.entries[0].labels, ["2", "3", "6", "7"]);
  a.release(spread);
  free(a, "cpus", ["5"]);
  assert.deepEqual(labels(a, "cpus", "4 compact!"), ["4", "5", "6", "7"]);
});

Deno.test("coupling: fractional amounts take part (partially used labels count as in §3.5)", () => {
  const a = coupled(CPU_GPU_COUPLING, CPUS_2X2, GPUS_2);
  assert.deepEqual(takeLabels(a, entry("cpus", "0.5"), entry("gpus", "0.5")), [["1"], ["g0"]]);
  // The half-used cpu 1 and g0 are still the coupled pair.
  assert.deepEqual(takeLabels(a, entry("cpus", "1.5"), entry("gpus", "0.5")), [["0", "1"], ["g0"]]);
  // g0 is used up: the next pair is group 1 with g1.
  assert.deepEqual(takeLabels(a, entry("cpus", "0.5"), entry("gpus", "0.5")), [["3"], ["g1"]]);
});

Deno.test("coupling on many groups: the search is cut but allocation still works", () => {
  const singles = (name: string, count: number): ResourceDescriptorItem => ({
    name,
    kind: "groups",
    groups: Array.from({ length: count }, (_, g) => [String(g)]),
  });
  const diagonal = (count: number) =>
    Array.from({ length: count }, (_, g) => `cpus[${g}]:gpus[${g}]`).join(",");
  // 12 groups, 6 each: 924 sets per resource, 924² combinations: greedy in name order (cpus
  // first, best fit), then the gpus coupled to them.
  const a = coupled(diagonal(12), singles("cpus", 12), singles("gpus", 12));
  const six = ["0", "1", "2", "3", "4", "5"];
  assert.deepEqual(takeLabels(a, entry("cpus", "6 compact!"), entry("gpus", "6 compact!")), [
    six,
    six,
  ]);
  // 16 groups, 8 cpus: C(16, 8) sets is too many, the cpus get their uncoupled best-fit set.
  const b = coupled("cpus[15]:gpus[1]", singles("cpus", 16), singles("gpus", 2));
  const got = takeLabels(b, entry("cpus", "8 compact!"), entry("gpus", "1 compact!"));
  assert.deepEqual(got, [["0", "1", "2", "3", "4", "5", "6", "7"], ["0"]]);
});

// --- invariants under random load ---

Deno.test("random load: no label is over-used and releasing everything frees the worker", () => {
  const next = seededRandom(12345);
  const random = (n: number) => Math.floor(next() * n);
  const policies: RequestPolicy[] = ["compact", "compact!", "tight", "tight!", "scatter"];
  const amounts = ["0.25", "0.5", "0.75", "1", "1.5", "2", "3", "4.5", "7"];
  const items: ResourceDescriptorItem[] = [
    itemFromGrid("cpus", { groupCount: 3, groupSize: 4 }),
    range("gpus", 0, 3),
    sum("mem", "10"),
  ];
  const a = allocator(...items);
  // Gets only the requests that fit `a`: a failed request must leave no trace in `a`.
  const twin = allocator(...items);
  const live: Array<[ResourceAllocation, ResourceAllocation]> = [];
  let successes = 0;
  const used = new Map<string, number>();
  const account = (allocation: ResourceAllocation, sign: number) => {
    for (const { name, labels, amount } of allocation.entries) {
      if (labels.length === 0) {
        used.set(name, (used.get(name) ?? 0) + sign * amount);
        continue;
      }
      const share = amount % 10_000;
      labels.forEach((label, i) => {
        const key = `${name}:${label}`;
        const part = share > 0 && i === labels.length - 1 ? share : 10_000;
        const total = (used.get(key) ?? 0) + sign * part;
        assert.ok(total >= 0 && total <= 10_000, `${key} used ${total}`);
        used.set(key, total);
      });
    }
  };
  for (let step = 0; step < 5000; step++) {
    if (live.length > 0 && random(3) === 0) {
      const [[allocation, twinAllocation]] = live.splice(random(live.length), 1);
      account(allocation, -1);
      a.release(allocation);
      twin.release(twinAllocation);
      continue;
    }
    const request: ResourceRequestEntry[] = [];
    for (const name of ["cpus", "gpus", "mem"]) {
      if (name !== "cpus" && random(2) === 0) continue;
      const text = random(20) === 0
        ? "all"
        : `${amounts[random(amounts.length)]} ${policies[random(policies.length)]}`;
      request.push(entry(name, text));
    }
    const allocation = a.tryAllocate(request);
    if (allocation === null) continue;
    allocation.entries.forEach((allocated, i) => {
      assert.equal(allocated.name, request[i].name);
      if (request[i].policy !== "all") assert.equal(allocated.amount, request[i].amount);
    });
    account(allocation, 1);
    assert.ok((used.get("mem") ?? 0) <= parseAmount("10"));
    const twinAllocation = twin.tryAllocate(request);
    assert.deepEqual(twinAllocation, allocation);
    live.push([allocation, twinAllocation!]);
    successes++;
  }
  assert.ok(successes > 1000, `only ${successes} allocations`);
  for (const [allocation] of live) a.release(allocation);
  assert.ok(fits(a, entry("cpus", "all"), entry("gpus", "all"), entry("mem", "all")));
});

Deno.test("random load with coupling: zero weights change nothing, weights keep the invariants", () => {
  const next = seededRandom(777);
  const random = (n: number) => Math.floor(next() * n);
  const policies: RequestPolicy[] = ["compact", "compact!", "tight", "tight!", "scatter"];
  const amounts = ["0.25", "0.5", "0.75", "1", "1.5", "2", "3", "4.5", "7"];
  const items: ResourceDescriptorItem[] = [
    itemFromGrid("cpus", { groupCount: 3, groupSize: 4 }),
    itemFromGrid("gpus", { groupCount: 3, groupSize: 2 }),
    sum("mem", "10"),
  ];
  const plain = allocator(...items);
  const zero = coupled("cpus[0]:gpus[1]=0,cpus[1]:cpus[2]=0,gpus[0]:gpus[2]=0", ...items);
  const weightsText = "cpus[0]:gpus[0],cpus[1]:gpus[1]=100,cpus[0]:cpus[2]=7,gpus[1]:gpus[2]";
  const weighted = coupled(weightsText, ...items);
  const twin = coupled(weightsText, ...items);
  const livePlain: ResourceAllocation[] = [];
  const liveWeighted: ResourceAllocation[] = [];
  const used = new Map<string, number>();
  const account = (allocation: ResourceAllocation, sign: number) => {
    for (const { name, labels, amount } of allocation.entries) {
      const share = amount % 10_000;
      labels.forEach((label, i) => {
        const key = `${name}:${label}`;
        const part = share > 0 && i === labels.length - 1 ? share : 10_000;
        const total = (used.get(key) ?? 0) + sign * part;
        assert.ok(total >= 0 && total <= 10_000, `${key} used ${total}`);
        used.set(key, total);
      });
    }
  };
  let coupledSuccesses = 0;
  for (let step = 0; step < 5000; step++) {
    if (random(3) === 0) {
      if (livePlain.length > 0) {
        const [allocation] = livePlain.splice(random(livePlain.length), 1);
        plain.release(allocation);
        zero.release(allocation);
      }
      if (liveWeighted.length > 0) {
        const [allocation] = liveWeighted.splice(random(liveWeighted.length), 1);
        account(allocation, -1);
        weighted.release(allocation);
        twin.release(allocation);
      }
      continue;
    }
    const request: ResourceRequestEntry[] = [];
    for (const name of ["cpus", "gpus", "mem"]) {
      if (name !== "cpus" && random(4) === 0) continue;
      const text = random(25) === 0
        ? "all"
        : `${amounts[random(amounts.length)]} ${policies[random(policies.length)]}`;
      request.push(entry(name, text));
    }
    const expected = plain.tryAllocate(request);
    assert.deepEqual(zero.tryAllocate(request), expected, JSON.stringify(request));
    if (expected !== null) livePlain.push(expected);

    const allocation = weighted.tryAllocate(request);
    assert.deepEqual(twin.tryAllocate(request), allocation);
    if (allocation === null) continue;
    allocation.entries.forEach((allocated, i) => {
      assert.equal(allocated.name, request[i].name);
      if (request[i].policy !== "all") assert.equal(allocated.amount, request[i].amount);
    });
    account(allocation, 1);
    liveWeighted.push(allocation);
    coupledSuccesses++;
  }
  assert.ok(coupledSuccesses > 1000, `only ${coupledSuccesses} allocations`);
  for (const allocation of liveWeighted) weighted.release(allocation);
  for (const allocation of livePlain) zero.release(allocation);
  for (const a of [weighted, zero]) {
    assert.ok(fits(a, entry("cpus", "all"), entry("gpus", "all"), entry("mem", "all")));
  }
});
