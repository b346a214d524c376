import assert from "node:assert/strict";
import { CouplingError, parseCoupling } from "./parse_coupling.ts";
import type { ResourceDescriptorItem } from "./resource_descriptor.ts";

// Sorted by name, as parseCoupling requires.
const RESOURCES: ResourceDescriptorItem[] = [
  { name: "cpus", kind: "groups", groups: [["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"]] },
  { name: "fpga", kind: "list", values: ["a", "b"] },
  { name: "gpus", kind: "groups", groups: [["0"], ["1"]] },
  { name: "mem", kind: "sum", size: 10_000 },
];

function assertCouplingError(text: string, note: string) {
  assert.throws(() => parseCoupling(text, RESOURCES), (error: unknown) => {
    assert.ok(error instanceof CouplingError, `expected CouplingError for "${text}"`);
    assert.equal(error.note, note);
    assert.ok(error.message.endsWith(`: ${note}`), error.message);
    return true;
  });
}

Deno.test("parseCoupling couples groups of two resources with the default weight 256", () => {
  assert.deepEqual(parseCoupling("cpus[1]:gpus[0]", RESOURCES), [
    { resource1_idx: 0, group1_idx: 1, resource2_idx: 2, group2_idx: 0, weight: 256 },
  ]);
});

Deno.test("parseCoupling reads an explicit weight", () => {
  assert.deepEqual(parseCoupling("cpus[0]:gpus[1]=1000", RESOURCES), [
    { resource1_idx: 0, group1_idx: 0, resource2_idx: 2, group2_idx: 1, weight: 1000 },
  ]);
  assert.equal(parseCoupling("cpus[0]:gpus[1]=0", RESOURCES)[0].weight, 0);
  assert.equal(parseCoupling("cpus[0]:gpus[1]=65535", RESOURCES)[0].weight, 65535);
});

Deno.test("parseCoupling puts the lower resource index first", () => {
  assert.deepEqual(parseCoupling("gpus[1]:cpus[3]", RESOURCES), [
    { resource1_idx: 0, group1_idx: 3, resource2_idx: 2, group2_idx: 1, weight: 256 },
  ]);
});

Deno.test("parseCoupling couples groups inside one resource, lower group first", () => {
  assert.deepEqual(parseCoupling("cpus[0]:cpus[1],cpus[3]:cpus[2]", RESOURCES), [
    { resource1_idx: 0, group1_idx: 0, resource2_idx: 0, group2_idx: 1, weight: 256 },
    { resource1_idx: 0, group1_idx: 2, resource2_idx: 0, group2_idx: 3, weight: 256 },
  ]);
});

Deno.test("parseCoupling sorts the weights", () => {
  const weights = parseCoupling("gpus[1]:cpus[1],cpus[0]:gpus[1],cpus[0]:gpus[0]", RESOURCES);
  assert.deepEqual(
    weights.map((w) => [w.resource1_idx, w.group1_idx, w.resource2_idx, w.group2_idx]),
    [[0, 0, 2, 0], [0, 0, 2, 1], [0, 1, 2, 1]],
  );
});

Deno.test("parseCoupling tolerates whitespace around items and parts", () => {
  assert.deepEqual(parseCoupling(" cpus [ 0 ] : gpus[1] = 5 , cpus[1]:gpus[0] ", RESOURCES), [
    { resource1_idx: 0, group1_idx: 0, resource2_idx: 2, group2_idx: 1, weight: 5 },
    { resource1_idx: 0, group1_idx: 1, resource2_idx: 2, group2_idx: 0, weight: 256 },
  ]);
});

Deno.test("parseCoupling reports every error of spec §2.4", () => {
  assertCouplingError("cpus0]:gpus[0]", "Missing '['");
  assertCouplingError("cpus[0:gpus[0]", "Missing ']'");
  assertCouplingError("cpus[0]:gpus[0", "Missing ']'");
  assertCouplingError("cpus[0]gpus[0]", "Missing ':'");
  assertCouplingError("", "Missing ':'");
  assertCouplingError("foo[0]:gpus[0]", "Resource not found: foo");
  assertCouplingError("cpus[x]:gpus[0]", "Invalid group index: x");
  assertCouplingError("cpus[256]:gpus[0]", "Invalid group index: 256");
  assertCouplingError("cpus[-1]:gpus[0]", "Invalid group index: -1");
  assertCouplingError("cpus[0]:gpus[0]=x", "Invalid weight: x");
  assertCouplingError("cpus[0]:gpus[0]=65536", "Invalid weight: 65536");
  assertCouplingError("cpus[0]:gpus[0]=", "Invalid weight: ");
  assertCouplingError("cpus[0]:gpus[0],gpus[0]:cpus[0]=7", "Repeated coupling definition");
  assertCouplingError("cpus[0]:fpga[0]", "Resource 'fpga' has only a single group");
  assertCouplingError("mem[0]:cpus[0]", "Resource 'mem' has only a single group");
  assertCouplingError("cpus[4]:gpus[0]", "Invalid group id 4 for resource 'cpus'");
  assertCouplingError("cpus[0]:gpus[2]", "Invalid group id 2 for resource 'gpus'");
});

Deno.test("parseCoupling rejects coupling a group with itself", () => {
  assertCouplingError(
    "cpus[1]:cpus[1]",
    "Group 1 of resource 'cpus' cannot be coupled with itself",
  );
});

Deno.test("parseCoupling names the failing item in the message", () => {
  assert.throws(
    () => parseCoupling("cpus[0]:gpus[0], cpus[9]:gpus[0]", RESOURCES),
    { message: `Invalid coupling "cpus[9]:gpus[0]": Invalid group id 9 for resource 'cpus'` },
  );
});
