import assert from "node:assert/strict";
import {
  assembleResourceDescriptor,
  describeResources,
  type ResourceDescriptorItem,
  resourceItemSize,
  sortResourceItems,
} from "../common/resources/mod.ts";
import {
  type DetectableResource,
  type DetectOptions,
  detectResources,
  HardwareDetectionError,
  parseKernelList,
  pruneHyperThreading,
} from "./hw_detect.ts";
import { type MachineShape, writeMadeUpMachine } from "./_made_up_machine.ts";

/** A made-up machine in a new temp dir; returns the dir. */
function madeUpMachine(shape: MachineShape): string {
  const root = Deno.makeTempDirSync({ prefix: "hq-hwdetect-" });
  writeMadeUpMachine(root, shape);
  return root;
}

function detect(
  root: string,
  options: Partial<DetectOptions> & { only?: DetectableResource[] } = {},
) {
  return detectResources({
    root,
    env: {},
    detect: new Set(options.only ?? ["cpus", "gpus/nvidia", "gpus/amd", "mem"]),
    noHyperThreading: false,
    ...options,
  });
}

function detectCpus(shape: MachineShape, noHyperThreading = false): ResourceDescriptorItem {
  const root = madeUpMachine(shape);
  try {
    const { resources } = detect(root, { only: ["cpus"], noHyperThreading });
    assert.equal(resources.length, 1);
    return resources[0];
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

function ids(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

function groupShape(item: ResourceDescriptorItem): number[] {
  assert.equal(item.kind, "groups");
  return item.kind === "groups" ? item.groups.map((group) => group.length) : [];
}

// --- CPUs ---

Deno.test("detectResources groups 2 sockets of 12 hyper-threaded cores as 2x24", () => {
  const cpus = detectCpus({ sockets: 2, coresPerSocket: 12, threadsPerCore: 2 });
  assert.deepEqual(groupShape(cpus), [24, 24]);
  assert.deepEqual(cpus, {
    name: "cpus",
    kind: "groups",
    groups: [[...ids(0, 11), ...ids(24, 35)], [...ids(12, 23), ...ids(36, 47)]],
  });
});

Deno.test("detectResources keeps one thread per core without hyper-threading: 2x12", () => {
  const cpus = detectCpus({ sockets: 2, coresPerSocket: 12, threadsPerCore: 2 }, true);
  assert.deepEqual(cpus, { name: "cpus", kind: "groups", groups: [ids(0, 11), ids(12, 23)] });
});

Deno.test("detectResources splits a socket with 4 NUMA nodes into 4 groups", () => {
  const cpus = detectCpus({ sockets: 1, coresPerSocket: 16, nodesPerSocket: 4 });
  assert.deepEqual(cpus, {
    name: "cpus",
    kind: "groups",
    groups: [ids(0, 3), ids(4, 7), ids(8, 11), ids(12, 15)],
  });
});

Deno.test("detectResources keeps sockets apart when one NUMA node spans them", () => {
  const cpus = detectCpus({ sockets: 2, coresPerSocket: 4, singleNode: true });
  assert.deepEqual(cpus, { name: "cpus", kind: "groups", groups: [ids(0, 3), ids(4, 7)] });
});

Deno.test("detectResources gives one socket with one node as a flat list", () => {
  const cpus = detectCpus({ sockets: 1, coresPerSocket: 8, threadsPerCore: 2 });
  assert.deepEqual(cpus, { name: "cpus", kind: "list", values: ids(0, 15) });
});

Deno.test("detectResources uses only CPUs of a cpuset limited to 0-3", () => {
  const root = madeUpMachine({ sockets: 2, coresPerSocket: 8, allowed: "0-3" });
  try {
    const { resources, notes } = detect(root, { only: ["cpus"] });
    assert.deepEqual(resources, [{ name: "cpus", kind: "list", values: ids(0, 3) }]);
    assert.ok(notes.some((note) => note.includes("affinity") && note.includes("4,5")), notes[0]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources keeps groups of a cpuset that spans sockets", () => {
  const cpus = detectCpus({ sockets: 2, coresPerSocket: 8, allowed: "6-9, 15\n" });
  assert.deepEqual(cpus, { name: "cpus", kind: "groups", groups: [["6", "7"], ["8", "9", "15"]] });
});

Deno.test("detectResources falls back to the CPU count without sysfs", () => {
  const root = Deno.makeTempDirSync({ prefix: "hq-hwdetect-" });
  try {
    const { resources, notes } = detect(root, { only: ["cpus"], fallbackCpuCount: 6 });
    assert.deepEqual(resources, [{ name: "cpus", kind: "range", start: 0, end: 5 }]);
    assert.equal(notes.length, 1);
    assert.throws(
      () => detect(root, { only: ["cpus"], fallbackCpuCount: 0 }),
      HardwareDetectionError,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources matches the CPUs this process may use on the real machine", () => {
  const { resources } = detectResources({
    env: {},
    detect: new Set(["cpus"]),
    noHyperThreading: false,
  });
  assert.equal(resources.length, 1);
  const count = resourceItemSize(resources[0]);
  let affinity: number | undefined;
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const line = status.split("\n").find((line) => line.startsWith("Cpus_allowed_list:"));
    affinity = parseKernelList(line?.slice("Cpus_allowed_list:".length))?.length;
  } catch {
    // Not Linux: only the runtime's count can be compared.
  }
  assert.ok(
    count === navigator.hardwareConcurrency || count === affinity,
    `${count} CPUs detected, hardwareConcurrency ${navigator.hardwareConcurrency}, affinity ${affinity}`,
  );
});

// --- hyper-threading pruning of explicit CPUs ---

Deno.test("pruneHyperThreading drops the second threads of explicit CPUs", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 4, threadsPerCore: 2 });
  try {
    const { cpus, warnings } = pruneHyperThreading(
      { name: "cpus", kind: "groups", groups: [["0", "4"], ["5", "6"], ["2", "3"]] },
      { root },
    );
    assert.deepEqual(cpus, { name: "cpus", kind: "groups", groups: [["0"], ["2", "3"]] });
    assert.deepEqual(warnings, []);
    const range = pruneHyperThreading({ name: "cpus", kind: "range", start: 2, end: 5 }, { root });
    assert.deepEqual(range.cpus, { name: "cpus", kind: "list", values: ["2", "3"] });
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("pruneHyperThreading keeps CPUs it cannot look up and warns", () => {
  const root = Deno.makeTempDirSync({ prefix: "hq-hwdetect-" });
  try {
    const item: ResourceDescriptorItem = { name: "cpus", kind: "range", start: 0, end: 3 };
    const { cpus, warnings } = pruneHyperThreading(item, { root });
    assert.deepEqual(cpus, item);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /0,1,2,3/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

// --- GPUs ---

Deno.test("detectResources takes GPUs from CUDA_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2, nvidiaGpus: 4 });
  try {
    const { resources, warnings } = detect(root, {
      only: ["gpus/nvidia", "gpus/amd"],
      env: { CUDA_VISIBLE_DEVICES: "2,3", ROCR_VISIBLE_DEVICES: "GPU-a1b2, GPU-c3d4" },
    });
    assert.deepEqual(resources, [
      { name: "gpus/nvidia", kind: "list", values: ["2", "3"] },
      { name: "gpus/amd", kind: "list", values: ["GPU-a1b2", "GPU-c3d4"] },
    ]);
    assert.deepEqual(warnings, []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources ignores a GPU variable with duplicates, with a warning", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2 });
  try {
    const { resources, warnings } = detect(root, {
      only: ["gpus/nvidia", "gpus/amd"],
      env: { CUDA_VISIBLE_DEVICES: "0,1,0", ROCR_VISIBLE_DEVICES: "1" },
    });
    assert.deepEqual(resources, [{ name: "gpus/amd", kind: "list", values: ["1"] }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /CUDA_VISIBLE_DEVICES="0,1,0"/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources counts /proc/driver/nvidia/gpus when no variable names a GPU", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2, nvidiaGpus: 3 });
  try {
    const options = { only: ["gpus/nvidia", "gpus/amd"] as DetectableResource[] };
    assert.deepEqual(detect(root, { ...options, env: { CUDA_VISIBLE_DEVICES: "" } }).resources, [
      { name: "gpus/nvidia", kind: "range", start: 0, end: 2 },
    ]);
    // A GPU named by ROCR_VISIBLE_DEVICES disables the NVIDIA fallback.
    assert.deepEqual(detect(root, { ...options, env: { ROCR_VISIBLE_DEVICES: "0" } }).resources, [
      { name: "gpus/amd", kind: "list", values: ["0"] },
    ]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources skips names the user gave and components not enabled", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2, nvidiaGpus: 3 });
  try {
    const env = { ROCR_VISIBLE_DEVICES: "0" };
    assert.deepEqual(
      detect(root, { env, given: new Set(["gpus/amd", "mem"]) }).resources.map((i) => i.name),
      ["cpus"],
    );
    assert.deepEqual(detect(root, { only: ["mem"], env }).resources.map((i) => i.name), ["mem"]);
    assert.deepEqual(detect(root, { only: [] }).resources, []);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

// --- memory ---

Deno.test("detectResources reads MemTotal as MiB keeping 4 decimals", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2, memTotalKb: 24_683_656 });
  try {
    // 24683656 kB / 1024 = 24105.133 MiB, truncated to 4 decimals.
    assert.deepEqual(detect(root, { only: ["mem"] }).resources, [
      { name: "mem", kind: "sum", size: 241_051_328 },
    ]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources prefers SLURM_MEM_PER_NODE for memory", () => {
  const root = madeUpMachine({ sockets: 1, coresPerSocket: 2 });
  try {
    assert.deepEqual(
      detect(root, { only: ["mem"], env: { SLURM_MEM_PER_NODE: "4000" } }).resources,
      [{ name: "mem", kind: "sum", size: 40_000_000 }],
    );
    const bad = detect(root, { only: ["mem"], env: { SLURM_MEM_PER_NODE: "4G" } });
    assert.deepEqual(bad.resources, [{ name: "mem", kind: "sum", size: 320_000_000 }]);
    assert.match(bad.warnings[0], /SLURM_MEM_PER_NODE="4G"/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("detectResources leaves memory out when /proc/meminfo is missing", () => {
  const root = Deno.makeTempDirSync({ prefix: "hq-hwdetect-" });
  try {
    const { resources, notes } = detect(root, { only: ["mem"] });
    assert.deepEqual(resources, []);
    assert.equal(notes.length, 1);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

// --- everything together ---

Deno.test("detected resources come in detection order and render as hwdetect output", () => {
  const root = madeUpMachine({ sockets: 2, coresPerSocket: 4, memTotalKb: 32_768_000 });
  try {
    const { resources, warnings } = detect(root, { env: { CUDA_VISIBLE_DEVICES: "0,1" } });
    assert.deepEqual(warnings, []);
    assert.deepEqual(resources.map((item) => item.name), ["cpus", "gpus/nvidia", "mem"]);
    assert.equal(
      describeResources({ resources, coupling: { weights: [] } }),
      `Summary:
cpus: 2x4
gpus/nvidia: 2
mem: 31.25 GiB

Full Description:
cpus: [[0,1,2,3],[4,5,6,7]]
gpus/nvidia: [0,1]
mem: sum(32000)`,
    );
    const descriptor = assembleResourceDescriptor({
      resources: [],
      cpus: resources[0],
      detected: resources.slice(1),
    });
    assert.deepEqual(descriptor.resources, sortResourceItems(resources));
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

// --- kernel list syntax ---

Deno.test("parseKernelList reads ranges and single ids, tolerating spaces and newlines", () => {
  assert.deepEqual(parseKernelList("0-3,8, 10-11\n"), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseKernelList("5\n"), [5]);
  assert.deepEqual(parseKernelList("3,1,1-2"), [1, 2, 3]);
  assert.deepEqual(parseKernelList("\n"), []);
});

Deno.test("parseKernelList rejects malformed lists", () => {
  for (const text of [undefined, "a", "1-", "3-1", "1,,2", "-1"]) {
    assert.equal(parseKernelList(text), undefined, String(text));
  }
});
