// The resources a worker offers (resources spec §1–§2.3). Plain data: descriptors travel in
// msgpack messages and print unchanged as the JSON of server-worker spec §4.6.

import { HqError } from "../errors.ts";

/** One resource pool of a worker. Labels are strings (`"0"` and `"00"` differ). */
export type ResourceDescriptorItem =
  | { name: string; kind: "list"; values: string[] }
  | { name: string; kind: "groups"; groups: string[][] }
  | { name: string; kind: "range"; start: number; end: number }
  /** `size` is in 1/10000 units. */
  | { name: string; kind: "sum"; size: number };

/** Affinity between two groups; indices refer to the name-sorted resource list. */
export interface CouplingWeight {
  resource1_idx: number;
  group1_idx: number;
  resource2_idx: number;
  group2_idx: number;
  weight: number;
}

export interface ResourceDescriptor {
  /** Sorted by name (byte order). */
  resources: ResourceDescriptorItem[];
  coupling: { weights: CouplingWeight[] };
}

/** The name every worker must offer, and the default request of a task. */
export const CPU_RESOURCE_NAME = "cpus";
export const MEM_RESOURCE_NAME = "mem";

/** A descriptor breaks a rule of resources spec §2.3. */
export class InvalidResourceDescriptorError extends HqError {}

/** A grouped pool; a single group collapses to a flat list (resources spec §1.2). */
export function itemFromGroups(name: string, groups: string[][]): ResourceDescriptorItem {
  return groups.length === 1
    ? { name, kind: "list", values: groups[0] }
    : { name, kind: "groups", groups };
}

export interface GridShape {
  groupCount: number;
  groupSize: number;
}

/** `NxM`: N groups of M consecutive labels from 0; `1xM` is `range(0-(M-1))`. */
export function itemFromGrid(name: string, shape: GridShape): ResourceDescriptorItem {
  const { groupCount, groupSize } = shape;
  if (groupCount === 1) return { name, kind: "range", start: 0, end: groupSize - 1 };
  const groups = Array.from(
    { length: groupCount },
    (_, group) => Array.from({ length: groupSize }, (_, i) => String(group * groupSize + i)),
  );
  return itemFromGroups(name, groups);
}

/** Number of labels of an indexed pool, or the size (1/10000 units) of a sum pool. */
export function resourceItemSize(item: ResourceDescriptorItem): number {
  switch (item.kind) {
    case "list":
      return item.values.length;
    case "groups":
      return item.groups.reduce((total, group) => total + group.length, 0);
    case "range":
      return Math.max(0, item.end - item.start + 1);
    case "sum":
      return item.size;
  }
}

/** Groups a coupling may refer to: flat pools and sums count as one group. */
export function resourceItemGroupCount(item: ResourceDescriptorItem): number {
  return item.kind === "groups" ? item.groups.length : 1;
}

/** A name-sorted copy (byte order, stable), the order every descriptor keeps its items in. */
export function sortResourceItems(
  items: readonly ResourceDescriptorItem[],
): ResourceDescriptorItem[] {
  return [...items].sort((a, b) => compareNames(a.name, b.name));
}

function compareNames(a: string, b: string): number {
  // Names are ASCII (spec §1.1), where UTF-16 order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Checks the rules of resources spec §2.3 in HyperQueue's order: per item its labels, `cpus` not
 * being a sum, a repeated name, emptiness; then the presence of `cpus`.
 */
export function validateResourceDescriptor(descriptor: ResourceDescriptor): void {
  const { resources } = descriptor;
  const seen = new Set<string>();
  for (const item of resources) {
    checkLabels(item);
    if (item.name === CPU_RESOURCE_NAME && item.kind === "sum") {
      throw new InvalidResourceDescriptorError(
        "Resource kind `sum` cannot be used with CPUs. CPUs must have identity",
      );
    }
    if (seen.has(item.name)) {
      throw new InvalidResourceDescriptorError(`Resource ${item.name} defined twice`);
    }
    seen.add(item.name);
    if (resourceItemSize(item) === 0) {
      throw new InvalidResourceDescriptorError(`Resource ${item.name} is empty`);
    }
  }
  if (!seen.has(CPU_RESOURCE_NAME)) {
    throw new InvalidResourceDescriptorError("Resource 'cpus' is missing");
  }
}

function checkLabels(item: ResourceDescriptorItem): void {
  const invalid = (detail: string) =>
    new InvalidResourceDescriptorError(
      `Invalid resource definition for ${item.name}: ${detail}`,
    );
  switch (item.kind) {
    case "list": {
      const repeated = firstRepeated(item.values);
      if (repeated !== undefined) {
        throw invalid(`label "${repeated}" is listed twice: Non unique indices`);
      }
      return;
    }
    case "groups": {
      const empty = item.groups.findIndex((group) => group.length === 0);
      if (empty >= 0) throw invalid(`group ${empty} is empty`);
      const repeated = firstRepeated(item.groups.flat());
      if (repeated !== undefined) {
        throw invalid(`label "${repeated}" is in more than one group: Non unique indices`);
      }
      return;
    }
    case "range":
      if (!isU32(item.start) || !isU32(item.end)) {
        throw invalid(`range bounds must be 4-byte unsigned integers`);
      }
      return;
    case "sum":
      if (!Number.isSafeInteger(item.size) || item.size < 0) {
        throw invalid(`size must be a non-negative integer of 1/10000 units`);
      }
      return;
  }
}

function firstRepeated(labels: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const label of labels) {
    if (seen.has(label)) return label;
    seen.add(label);
  }
  return undefined;
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/** Every label of an indexed resource item, in descriptor order (none for `sum`). */
export function resourceLabels(item: ResourceDescriptorItem): string[] {
  switch (item.kind) {
    case "list":
      return [...item.values];
    case "groups":
      return item.groups.flat();
    case "range": {
      const labels: string[] = [];
      for (let label = item.start; label <= item.end; label++) labels.push(String(label));
      return labels;
    }
    case "sum":
      return [];
  }
}

/** The worker's CPU labels. */
export function cpuLabels(descriptor: ResourceDescriptor): string[] {
  const item = descriptor.resources.find((resource) => resource.name === CPU_RESOURCE_NAME);
  return item ? resourceLabels(item) : [];
}

/** Numeric labels in numeric order, others after them in text order (`HQ_CPUS=0,1,5`). */
export function compareLabels(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (Number.isInteger(x) && Number.isInteger(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}
