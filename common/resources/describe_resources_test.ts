import assert from "node:assert/strict";
import {
  describeResource,
  describeResources,
  formatResourcesLine,
  formatResourcesLines,
  summarizeResource,
} from "./describe_resources.ts";
import type { ResourceDescriptor, ResourceDescriptorItem } from "./resource_descriptor.ts";

function mib(value: number): ResourceDescriptorItem {
  return { name: "mem", kind: "sum", size: Math.round(value * 10_000) };
}

function descriptor(...resources: ResourceDescriptorItem[]): ResourceDescriptor {
  return { resources, coupling: { weights: [] } };
}

const GRID_2X4: ResourceDescriptorItem = {
  name: "cpus",
  kind: "groups",
  groups: [["0", "1", "2", "3"], ["4", "5", "6", "7"]],
};

Deno.test("summarizeResource counts the labels of lists and ranges", () => {
  assert.equal(summarizeResource({ name: "gpus/nvidia", kind: "list", values: ["0", "1"] }), "2");
  assert.equal(summarizeResource({ name: "cpus", kind: "range", start: 0, end: 7 }), "8");
  assert.equal(summarizeResource({ name: "cpus", kind: "range", start: 4, end: 4 }), "1");
});

Deno.test("summarizeResource shows groups as count x size", () => {
  assert.equal(summarizeResource(GRID_2X4), "2x4");
});

Deno.test("summarizeResource lists several group sizes ordered by size", () => {
  const groups = [
    ["a", "b", "c", "d", "e", "f"],
    ...Array.from({ length: 5 }, (_, i) => [
      `${i}a`,
      `${i}b`,
    ]),
  ];
  assert.equal(summarizeResource({ name: "x", kind: "groups", groups }), "5x2 1x6");
  assert.equal(
    summarizeResource({ name: "x", kind: "groups", groups: [["a", "b", "c"], ["d"], ["e", "f"]] }),
    "1x1 1x2 1x3",
  );
});

Deno.test("summarizeResource shows a sum as its amount", () => {
  assert.equal(summarizeResource({ name: "fpga", kind: "sum", size: 40_000 }), "4");
  assert.equal(summarizeResource({ name: "x", kind: "sum", size: 5_000 }), "0.5");
  assert.equal(summarizeResource({ name: "MEM", kind: "sum", size: 10_000 }), "1");
});

Deno.test("summarizeResource shows mem below 512 MiB in MiB", () => {
  assert.equal(summarizeResource(mib(256)), "256.00 MiB");
  assert.equal(summarizeResource(mib(0.5)), "0.50 MiB");
  assert.equal(summarizeResource(mib(511.9)), "511.90 MiB");
  assert.equal(summarizeResource(mib(100.125)), "100.12 MiB");
});

Deno.test("summarizeResource shows mem from 512 MiB in GiB", () => {
  assert.equal(summarizeResource(mib(512)), "0.50 GiB");
  assert.equal(summarizeResource(mib(32000)), "31.25 GiB");
  assert.equal(summarizeResource(mib(1024)), "1.00 GiB");
  assert.equal(summarizeResource(mib(257_413)), "251.38 GiB");
  assert.equal(summarizeResource(mib(15_892)), "15.52 GiB");
});

Deno.test("summarizeResource rounds exact ties of mem to even", () => {
  assert.equal(summarizeResource(mib(640)), "0.62 GiB"); // 0.625
  assert.equal(summarizeResource(mib(1664)), "1.62 GiB"); // 1.625
  assert.equal(summarizeResource(mib(1152)), "1.12 GiB"); // 1.125
  assert.equal(summarizeResource(mib(1408)), "1.38 GiB"); // 1.375
  assert.equal(summarizeResource(mib(640.0001)), "0.63 GiB");
});

Deno.test("summarizeResource marks coupled resources", () => {
  assert.equal(summarizeResource(GRID_2X4, true), "2x4 [coupled]");
});

Deno.test("describeResource prints lists and groups in brackets", () => {
  assert.equal(describeResource({ name: "x", kind: "list", values: ["a", "b"] }), "[a,b]");
  assert.equal(
    describeResource({ name: "x", kind: "groups", groups: [["a", "b"], ["c"]] }),
    "[[a,b],[c]]",
  );
});

Deno.test("describeResource prints a range, or its one label", () => {
  assert.equal(describeResource({ name: "x", kind: "range", start: 0, end: 7 }), "range(0-7)");
  assert.equal(describeResource({ name: "x", kind: "range", start: 3, end: 3 }), "[3]");
});

Deno.test("describeResource prints a sum with trimmed decimals", () => {
  assert.equal(describeResource(mib(32000)), "sum(32000)");
  assert.equal(describeResource({ name: "x", kind: "sum", size: 12_345 }), "sum(1.2345)");
  assert.equal(describeResource({ name: "x", kind: "sum", size: 5_000 }), "sum(0.5)");
});

Deno.test("formatResourcesLine joins name and summary with '; '", () => {
  const worker = descriptor({
    name: "cpus",
    kind: "groups",
    groups: Array.from(
      { length: 2 },
      (_, g) => Array.from({ length: 16 }, (_, i) => `${g * 16 + i}`),
    ),
  }, mib(257_413));
  assert.equal(formatResourcesLine(worker), "cpus 2x16; mem 251.38 GiB");
  assert.equal(
    formatResourcesLine(descriptor(
      { name: "cpus", kind: "range", start: 0, end: 7 },
      { name: "gpus/nvidia", kind: "list", values: ["0"] },
      mib(15_892),
    )),
    "cpus 8; gpus/nvidia 1; mem 15.52 GiB",
  );
});

Deno.test("formatResourcesLines puts one 'name: summary' per line", () => {
  const worker = descriptor({
    name: "cpus",
    kind: "groups",
    groups: [["0"], ["1"]],
  }, mib(257_413));
  assert.equal(formatResourcesLines(worker), "cpus: 2x1\nmem: 251.38 GiB");
});

Deno.test("summaries mark both resources of a coupling", () => {
  const worker: ResourceDescriptor = {
    resources: [GRID_2X4, { name: "gpus", kind: "groups", groups: [["0"], ["1"]] }, mib(1024)],
    coupling: {
      weights: [{ resource1_idx: 0, group1_idx: 0, resource2_idx: 1, group2_idx: 0, weight: 256 }],
    },
  };
  assert.equal(formatResourcesLine(worker), "cpus 2x4 [coupled]; gpus 2x1 [coupled]; mem 1.00 GiB");
  assert.equal(
    describeResources(worker),
    [
      "Summary:",
      "cpus: 2x4 [coupled]",
      "gpus: 2x1 [coupled]",
      "mem: 1.00 GiB",
      "",
      "Full Description:",
      "cpus: [[0,1,2,3],[4,5,6,7]]",
      "gpus: [[0],[1]]",
      "mem: sum(1024)",
    ].join("\n"),
  );
});

Deno.test("describeResources renders the hwdetect example of the spec", () => {
  const detected = descriptor(
    GRID_2X4,
    { name: "gpus/nvidia", kind: "list", values: ["0", "1"] },
    mib(32000),
  );
  assert.equal(
    describeResources(detected),
    `Summary:
cpus: 2x4
gpus/nvidia: 2
mem: 31.25 GiB

Full Description:
cpus: [[0,1,2,3],[4,5,6,7]]
gpus/nvidia: [0,1]
mem: sum(32000)`,
  );
});
