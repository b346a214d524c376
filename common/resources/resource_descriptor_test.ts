import assert from "node:assert/strict";
import {
  InvalidResourceDescriptorError,
  itemFromGrid,
  itemFromGroups,
  type ResourceDescriptor,
  type ResourceDescriptorItem,
  resourceItemGroupCount,
  resourceItemSize,
  sortResourceItems,
  validateResourceDescriptor,
} from "./resource_descriptor.ts";

const CPUS: ResourceDescriptorItem = { name: "cpus", kind: "range", start: 0, end: 3 };

function descriptor(...resources: ResourceDescriptorItem[]): ResourceDescriptor {
  return { resources, coupling: { weights: [] } };
}

function assertInvalid(value: ResourceDescriptor, message: string | RegExp) {
  assert.throws(() => validateResourceDescriptor(value), (error: unknown) => {
    assert.ok(error instanceof InvalidResourceDescriptorError);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("itemFromGroups collapses a single group to a list", () => {
  assert.deepEqual(itemFromGroups("x", [["a", "b"]]), {
    name: "x",
    kind: "list",
    values: ["a", "b"],
  });
  assert.deepEqual(itemFromGroups("x", [["a"], ["b"]]), {
    name: "x",
    kind: "groups",
    groups: [["a"], ["b"]],
  });
});

Deno.test("itemFromGrid numbers N groups of M labels from 0", () => {
  assert.deepEqual(itemFromGrid("cpus", { groupCount: 2, groupSize: 4 }), {
    name: "cpus",
    kind: "groups",
    groups: [["0", "1", "2", "3"], ["4", "5", "6", "7"]],
  });
});

Deno.test("itemFromGrid makes 1xM a range", () => {
  assert.deepEqual(itemFromGrid("cpus", { groupCount: 1, groupSize: 8 }), {
    name: "cpus",
    kind: "range",
    start: 0,
    end: 7,
  });
});

Deno.test("resourceItemSize counts labels or returns the sum size", () => {
  assert.equal(resourceItemSize({ name: "x", kind: "list", values: ["a", "b"] }), 2);
  assert.equal(resourceItemSize({ name: "x", kind: "groups", groups: [["a"], ["b", "c"]] }), 3);
  assert.equal(resourceItemSize({ name: "x", kind: "range", start: 3, end: 3 }), 1);
  assert.equal(resourceItemSize({ name: "x", kind: "sum", size: 5_000 }), 5_000);
});

Deno.test("resourceItemGroupCount counts flat pools as one group", () => {
  assert.equal(resourceItemGroupCount({ name: "x", kind: "groups", groups: [["a"], ["b"]] }), 2);
  assert.equal(resourceItemGroupCount(CPUS), 1);
  assert.equal(resourceItemGroupCount({ name: "mem", kind: "sum", size: 1 }), 1);
});

Deno.test("sortResourceItems orders by name in byte order and keeps the input", () => {
  const items: ResourceDescriptorItem[] = [
    { name: "mem", kind: "sum", size: 1 },
    { name: "gpus/nvidia", kind: "list", values: ["0"] },
    { name: "Zeta", kind: "list", values: ["0"] },
    CPUS,
    { name: "gpus/amd", kind: "list", values: ["0"] },
    { name: "gpus", kind: "list", values: ["0"] },
  ];
  const sorted = sortResourceItems(items);
  assert.deepEqual(sorted.map((item) => item.name), [
    "Zeta",
    "cpus",
    "gpus",
    "gpus/amd",
    "gpus/nvidia",
    "mem",
  ]);
  assert.equal(items[0].name, "mem");
});

Deno.test("validateResourceDescriptor accepts a worker with cpus", () => {
  validateResourceDescriptor(descriptor(CPUS, { name: "mem", kind: "sum", size: 10_000 }));
});

Deno.test("validateResourceDescriptor rejects a name defined twice", () => {
  assertInvalid(
    descriptor(CPUS, { name: "gpus", kind: "list", values: ["0"] }, {
      name: "gpus",
      kind: "range",
      start: 0,
      end: 1,
    }),
    "Resource gpus defined twice",
  );
});

Deno.test("validateResourceDescriptor rejects an empty pool", () => {
  assertInvalid(descriptor(CPUS, { name: "mem", kind: "sum", size: 0 }), "Resource mem is empty");
  assertInvalid(descriptor({ name: "cpus", kind: "list", values: [] }), "Resource cpus is empty");
});

Deno.test("validateResourceDescriptor requires cpus", () => {
  assertInvalid(
    descriptor({ name: "gpus", kind: "list", values: ["0"] }),
    "Resource 'cpus' is missing",
  );
});

Deno.test("validateResourceDescriptor rejects cpus as a sum", () => {
  assertInvalid(
    descriptor({ name: "cpus", kind: "sum", size: 40_000 }),
    "Resource kind `sum` cannot be used with CPUs. CPUs must have identity",
  );
});

Deno.test("validateResourceDescriptor rejects a label repeated across groups", () => {
  assertInvalid(
    descriptor(CPUS, { name: "x", kind: "groups", groups: [["a", "b"], ["b", "c"]] }),
    /^Invalid resource definition for x: .*Non unique indices$/,
  );
});

Deno.test("validateResourceDescriptor rejects a label repeated in a list", () => {
  assertInvalid(
    descriptor(CPUS, { name: "x", kind: "list", values: ["a", "a"] }),
    /^Invalid resource definition for x: .*Non unique indices$/,
  );
});

Deno.test("validateResourceDescriptor checks an item's labels before its name is repeated", () => {
  assertInvalid(
    descriptor(CPUS, { name: "cpus", kind: "groups", groups: [["0"], ["0"]] }),
    /^Invalid resource definition for cpus: /,
  );
});
