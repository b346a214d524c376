import assert from "node:assert/strict";
import {
  assembleResourceDescriptor,
  chooseCpuSource,
  ResourceOptionsError,
} from "./assemble_resource_descriptor.ts";
import { CouplingError } from "./parse_coupling.ts";
import { parseCpuDefinition, parseResourceDefinition } from "./parse_resource_definition.ts";
import { InvalidResourceDescriptorError } from "./resource_descriptor.ts";

Deno.test("chooseCpuSource prefers --cpus, then a cpus resource, then detection", () => {
  assert.equal(
    chooseCpuSource({ cpusOption: true, cpusResource: false, detectCpus: true }),
    "option",
  );
  assert.equal(
    chooseCpuSource({ cpusOption: false, cpusResource: true, detectCpus: true }),
    "resource",
  );
  assert.equal(
    chooseCpuSource({ cpusOption: false, cpusResource: false, detectCpus: true }),
    "detect",
  );
});

Deno.test("chooseCpuSource rejects --cpus with --resource cpus=…", () => {
  assert.throws(
    () => chooseCpuSource({ cpusOption: true, cpusResource: true, detectCpus: true }),
    new ResourceOptionsError("Parameters --cpus and --resource cpus=... cannot be combined"),
  );
});

Deno.test("chooseCpuSource requires --cpus when CPU detection is off", () => {
  assert.throws(
    () => chooseCpuSource({ cpusOption: false, cpusResource: false, detectCpus: false }),
    new ResourceOptionsError(
      "You have to specify --cpus explicitly when opting out of CPU automatic detection",
    ),
  );
});

Deno.test("assembleResourceDescriptor sorts explicit, cpus and detected items by name", () => {
  const descriptor = assembleResourceDescriptor({
    resources: [parseResourceDefinition("mem=sum(100)"), parseResourceDefinition("fpga=[a,b]")],
    cpus: parseCpuDefinition("4"),
    detected: [
      { name: "gpus/nvidia", kind: "list", values: ["0"] },
      { name: "mem", kind: "sum", size: 320_000_000 },
    ],
  });
  assert.deepEqual(descriptor, {
    resources: [
      { name: "cpus", kind: "range", start: 0, end: 3 },
      { name: "fpga", kind: "list", values: ["a", "b"] },
      { name: "gpus/nvidia", kind: "list", values: ["0"] },
      { name: "mem", kind: "sum", size: 1_000_000 },
    ],
    coupling: { weights: [] },
  });
});

Deno.test("assembleResourceDescriptor resolves the coupling against the sorted list", () => {
  const descriptor = assembleResourceDescriptor({
    resources: [parseResourceDefinition("gpus=[[0],[1]]")],
    cpus: parseCpuDefinition("2x2"),
    coupling: "gpus[1]:cpus[1]",
  });
  assert.deepEqual(descriptor.coupling.weights, [
    { resource1_idx: 0, group1_idx: 1, resource2_idx: 1, group2_idx: 1, weight: 256 },
  ]);
});

Deno.test("assembleResourceDescriptor validates after sorting", () => {
  assert.throws(
    () =>
      assembleResourceDescriptor({
        resources: [parseResourceDefinition("x=[0]"), parseResourceDefinition("x=sum(1)")],
        cpus: parseCpuDefinition("1"),
      }),
    new InvalidResourceDescriptorError("Resource x defined twice"),
  );
  assert.throws(
    () => assembleResourceDescriptor({ resources: [parseResourceDefinition("gpus=[0]")] }),
    new InvalidResourceDescriptorError("Resource 'cpus' is missing"),
  );
  assert.throws(
    () =>
      assembleResourceDescriptor({
        resources: [parseResourceDefinition("cpus=sum(4)")],
      }),
    /Resource kind `sum` cannot be used with CPUs/,
  );
  assert.throws(
    () =>
      assembleResourceDescriptor({
        resources: [parseResourceDefinition("x=[[a],[a]]")],
        cpus: parseCpuDefinition("1"),
      }),
    /^InvalidResourceDescriptorError: Invalid resource definition for x: .*Non unique indices$/,
  );
});

Deno.test("assembleResourceDescriptor reports coupling errors", () => {
  assert.throws(
    () =>
      assembleResourceDescriptor({
        resources: [],
        cpus: parseCpuDefinition("4"),
        coupling: "cpus[0]:cpus[1]",
      }),
    (error: unknown) =>
      error instanceof CouplingError && error.note === "Resource 'cpus' has only a single group",
  );
});
