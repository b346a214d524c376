// Hardware detection for `hq worker start` and `hq worker hwdetect` (server-worker spec §4.2).
// Everything is read below `root`, so tests can describe made-up machines in temp directories.
//
// CPUs are grouped by socket, and a socket is split further per NUMA node when several nodes lie
// in it. HyperQueue groups per NUMA node only; both agree on the usual one-node-per-socket
// machine, but per-node grouping alone would merge two sockets that BIOS "NUMA off" reports as one
// node, and compact placement would then spread a task over both sockets.

import { HqError } from "../common/errors.ts";
import {
  AMOUNT_FRACTIONS,
  CPU_RESOURCE_NAME,
  itemFromGroups,
  MEM_RESOURCE_NAME,
  type ResourceDescriptorItem,
} from "../common/resources/mod.ts";

export type DetectableResource = "cpus" | "mem" | "gpus/nvidia" | "gpus/amd";

/** What `--detect-resources all` enables, in detection order. */
export const DETECTABLE_RESOURCES: readonly DetectableResource[] = [
  "cpus",
  "gpus/nvidia",
  "gpus/amd",
  "mem",
];

/** Neither sysfs nor the runtime could say how many CPUs there are. */
export class HardwareDetectionError extends HqError {}

/**
 * Hidden testing knob (ours): read `sys/…` and `proc/…` under this directory instead of `/`, so
 * end-to-end tests can run `hq worker hwdetect` and `hq worker start` on made-up machines.
 */
export const SYSFS_ROOT_VARIABLE = "HQ_HWDETECT_ROOT";

export interface DetectOptions {
  /** Directory that `sys/…` and `proc/…` are read under. @default {"/"} */
  root?: string;
  /** Environment (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`, `SLURM_MEM_PER_NODE`). */
  env: Record<string, string | undefined>;
  /** Components to detect. */
  detect: ReadonlySet<DetectableResource>;
  /** Keep only the first hardware thread of each core. */
  noHyperThreading: boolean;
  /** Names the user gave explicitly; they are not detected. @default {none} */
  given?: ReadonlySet<string>;
  /** CPU count to fall back on when sysfs cannot be read. @default {navigator.hardwareConcurrency} */
  fallbackCpuCount?: number;
}

export interface DetectedResources {
  /** In detection order: `cpus`, `gpus/nvidia`, `gpus/amd`, `mem` (not sorted by name). */
  resources: ResourceDescriptorItem[];
  /** Problems the user should see (logged at WARN). */
  warnings: string[];
  /** Fallbacks taken and CPUs left out (logged at DEBUG). */
  notes: string[];
}

const GPU_VARIABLES: readonly [DetectableResource, string][] = [
  ["gpus/nvidia", "CUDA_VISIBLE_DEVICES"],
  ["gpus/amd", "ROCR_VISIBLE_DEVICES"],
];

/** Detects the enabled components of this machine (or of the machine under `options.root`). */
export function detectResources(options: DetectOptions): DetectedResources {
  const fs = new RootedFs(options.root ?? "/");
  const given = options.given ?? new Set<string>();
  const wanted = (name: DetectableResource) => options.detect.has(name) && !given.has(name);
  const result: DetectedResources = { resources: [], warnings: [], notes: [] };

  if (wanted("cpus")) {
    let cpus = detectCpus(fs, options.fallbackCpuCount, result.notes);
    if (options.noHyperThreading) {
      const pruned = pruneHyperThreading(cpus, { root: options.root });
      cpus = pruned.cpus;
      result.warnings.push(...pruned.warnings);
    }
    result.resources.push(cpus);
  }

  const gpusFromEnv: ResourceDescriptorItem[] = [];
  for (const [name, variable] of GPU_VARIABLES) {
    if (!options.detect.has(name)) continue;
    const labels = gpuLabels(variable, options.env[variable], result.warnings);
    if (labels !== undefined) gpusFromEnv.push({ name, kind: "list", values: labels });
  }
  // The fallback only applies when no variable named any GPU, even one the user overrode.
  if (gpusFromEnv.length === 0 && wanted("gpus/nvidia")) {
    const count = fs.countEntries("proc/driver/nvidia/gpus");
    if (count > 0) {
      result.resources.push({ name: "gpus/nvidia", kind: "range", start: 0, end: count - 1 });
    }
  }
  result.resources.push(...gpusFromEnv.filter((item) => !given.has(item.name)));

  if (wanted("mem")) {
    const mem = detectMemory(fs, options.env, result);
    if (mem !== undefined) result.resources.push(mem);
  }
  return result;
}

/** Options of {@link pruneHyperThreading}. */
export interface PruneOptions {
  /** Directory that `sys/…` is read under. @default {"/"} */
  root?: string;
}

/**
 * `--no-hyper-threading`: keeps a CPU only when it is the smallest id of its
 * `topology/thread_siblings_list`. CPUs whose siblings cannot be read (or whose label is not a
 * number) are kept, with a warning. Emptied groups disappear; one group left becomes a list.
 */
export function pruneHyperThreading(
  cpus: ResourceDescriptorItem,
  options: PruneOptions = {},
): { cpus: ResourceDescriptorItem; warnings: string[] } {
  if (cpus.kind === "sum") return { cpus, warnings: [] };
  const fs = new RootedFs(options.root ?? "/");
  const groups = cpus.kind === "list"
    ? [cpus.values]
    : cpus.kind === "groups"
    ? cpus.groups
    : [Array.from({ length: cpus.end - cpus.start + 1 }, (_, i) => String(cpus.start + i))];
  const unknown: string[] = [];
  let pruned = false;
  const kept = groups.map((group) =>
    group.filter((label) => {
      const siblings = /^[0-9]+$/.test(label)
        ? parseKernelList(
          fs.read(`sys/devices/system/cpu/cpu${label}/topology/thread_siblings_list`),
        )
        : undefined;
      if (siblings === undefined || siblings.length === 0) {
        unknown.push(label);
        return true;
      }
      const keep = Math.min(...siblings) === Number(label);
      pruned ||= !keep;
      return keep;
    })
  ).filter((group) => group.length > 0);
  const warnings = unknown.length === 0 ? [] : [
    `Cannot read the hyper-threading siblings of CPUs ${unknown.join(",")}; keeping them`,
  ];
  if (!pruned) return { cpus, warnings };
  return {
    cpus: kept.length === 0
      ? { name: cpus.name, kind: "list", values: [] }
      : itemFromGroups(cpus.name, kept),
    warnings,
  };
}

const MAX_CPU_ID = 1 << 20;

/**
 * Parses the kernel's list syntax (`0-3,8, 10-11\n`) into ascending unique ids; `""` is `[]`.
 * Returns `undefined` for `undefined` or malformed text.
 */
export function parseKernelList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const ids = new Set<number>();
  for (const part of trimmed.split(",")) {
    const match = /^\s*([0-9]+)(?:-([0-9]+))?\s*$/.exec(part);
    if (match === null) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    // A corrupt list must not make us enumerate billions of ids.
    if (last < first || last >= MAX_CPU_ID) return undefined;
    for (let id = first; id <= last; id++) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

function detectCpus(
  fs: RootedFs,
  fallbackCount: number | undefined,
  notes: string[],
): ResourceDescriptorItem {
  const online = parseKernelList(fs.read("sys/devices/system/cpu/online"));
  if (online === undefined || online.length === 0) {
    notes.push("Cannot read online CPUs from sysfs; falling back to the number of CPUs");
    return fallbackCpus(fallbackCount);
  }
  const allowed = allowedCpus(fs);
  const usable = allowed === undefined ? online : online.filter((id) => allowed.has(id));
  if (usable.length < online.length) {
    const left = online.filter((id) => !usable.includes(id));
    notes.push(`CPUs outside of the affinity mask are not used: ${left.join(",")}`);
  }
  if (usable.length === 0) {
    notes.push("No online CPU is in the affinity mask; falling back to the number of CPUs");
    return fallbackCpus(fallbackCount);
  }
  const nodeOfCpu = numaNodeOfCpu(fs);
  const cpusBySocket = new Map<number, number[]>();
  for (const id of usable) {
    const socket = parseSocket(
      fs.read(`sys/devices/system/cpu/cpu${id}/topology/physical_package_id`),
    );
    cpusBySocket.set(socket, [...(cpusBySocket.get(socket) ?? []), id]);
  }
  const groups: number[][] = [];
  for (const socket of [...cpusBySocket.keys()].sort((a, b) => a - b)) {
    const cpusByNode = new Map<number, number[]>();
    for (const id of cpusBySocket.get(socket)!) {
      const node = nodeOfCpu.get(id) ?? UNKNOWN;
      cpusByNode.set(node, [...(cpusByNode.get(node) ?? []), id]);
    }
    for (const node of [...cpusByNode.keys()].sort((a, b) => a - b)) {
      groups.push(cpusByNode.get(node)!);
    }
  }
  return itemFromGroups(CPU_RESOURCE_NAME, groups.map((group) => group.map(String)));
}

// Sorts after every real socket or node id.
const UNKNOWN = Number.MAX_SAFE_INTEGER;

function parseSocket(text: string | undefined): number {
  // Some architectures report -1 for an unknown package; it groups like any other id.
  const match = /^\s*(-?[0-9]+)\s*$/.exec(text ?? "");
  return match === null ? UNKNOWN : Number(match[1]);
}

/** CPUs of `Cpus_allowed_list` in `proc/self/status` (taskset, cgroup cpusets); none = all. */
function allowedCpus(fs: RootedFs): Set<number> | undefined {
  const status = fs.read("proc/self/status");
  const line = status?.split("\n").find((line) => line.startsWith("Cpus_allowed_list:"));
  if (line === undefined) return undefined;
  const ids = parseKernelList(line.slice("Cpus_allowed_list:".length));
  return ids === undefined ? undefined : new Set(ids);
}

function numaNodeOfCpu(fs: RootedFs): Map<number, number> {
  const nodeOfCpu = new Map<number, number>();
  for (const entry of fs.list("sys/devices/system/node")) {
    const match = /^node([0-9]+)$/.exec(entry);
    if (match === null) continue;
    const cpus = parseKernelList(fs.read(`sys/devices/system/node/${entry}/cpulist`)) ?? [];
    for (const id of cpus) nodeOfCpu.set(id, Number(match[1]));
  }
  return nodeOfCpu;
}

function fallbackCpus(count = navigator.hardwareConcurrency): ResourceDescriptorItem {
  if (!(count >= 1)) throw new HardwareDetectionError("Cpu detection failed");
  return { name: CPU_RESOURCE_NAME, kind: "range", start: 0, end: count - 1 };
}

function gpuLabels(
  variable: string,
  value: string | undefined,
  warnings: string[],
): string[] | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const labels = value.split(",").map((label) => label.trim());
  if (labels.includes("")) {
    warnings.push(`Ignoring ${variable}="${value}": it contains an empty item`);
    return undefined;
  }
  if (new Set(labels).size !== labels.length) {
    warnings.push(`Ignoring ${variable}="${value}": it contains duplicate devices`);
    return undefined;
  }
  return labels;
}

/** `mem` in MiB: `SLURM_MEM_PER_NODE` when set, else `MemTotal` of `proc/meminfo`. */
function detectMemory(
  fs: RootedFs,
  env: Record<string, string | undefined>,
  result: DetectedResources,
): ResourceDescriptorItem | undefined {
  const slurm = env.SLURM_MEM_PER_NODE?.trim();
  if (slurm !== undefined && slurm !== "") {
    if (
      /^[0-9]+$/.test(slurm) && Number(slurm) > 0 &&
      Number.isSafeInteger(Number(slurm) * AMOUNT_FRACTIONS)
    ) {
      return { name: MEM_RESOURCE_NAME, kind: "sum", size: Number(slurm) * AMOUNT_FRACTIONS };
    }
    result.warnings.push(
      `Ignoring SLURM_MEM_PER_NODE="${slurm}": expected a positive integer of MiB`,
    );
  }
  const meminfo = fs.read("proc/meminfo");
  const match = meminfo === undefined ? null : /^MemTotal:\s*([0-9]+)\s*kB\s*$/m.exec(meminfo);
  if (match === null || Number(match[1]) === 0) {
    result.notes.push("Cannot read MemTotal from /proc/meminfo; memory is not detected");
    return undefined;
  }
  // kB → MiB with 4 decimals, truncated; exact because kB·10000 stays far below 2^53.
  const size = Math.floor((Number(match[1]) * AMOUNT_FRACTIONS) / 1024);
  return { name: MEM_RESOURCE_NAME, kind: "sum", size };
}

/** Read-only access below a root directory; unreadable paths read as absent. */
class RootedFs {
  constructor(private readonly root: string) {}

  private path(relative: string): string {
    return `${this.root.replace(/\/+$/, "")}/${relative}`;
  }

  read(relative: string): string | undefined {
    try {
      return Deno.readTextFileSync(this.path(relative));
    } catch {
      return undefined;
    }
  }

  list(relative: string): string[] {
    try {
      return [...Deno.readDirSync(this.path(relative))].map((entry) => entry.name);
    } catch {
      return [];
    }
  }

  countEntries(relative: string): number {
    return this.list(relative).length;
  }
}
