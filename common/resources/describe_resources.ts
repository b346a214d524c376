// Text renderings of a worker's resources (server-worker spec §4.2–§4.5): short summaries for
// `worker list`/`worker info`, and the `hq worker hwdetect` report with full descriptions.

import { AMOUNT_FRACTIONS, formatAmount } from "./amount.ts";
import {
  MEM_RESOURCE_NAME,
  type ResourceDescriptor,
  type ResourceDescriptorItem,
} from "./resource_descriptor.ts";

const MIB_UNITS = BigInt(AMOUNT_FRACTIONS);
const GIB_THRESHOLD_MIB = 512n;

/**
 * Short form of one pool: label count (`8`), group shapes (`2x16`, `5x2 1x6`), an amount (`0.5`),
 * or for `mem` a size (`31.25 GiB`); `coupled` appends ` [coupled]`.
 */
export function summarizeResource(item: ResourceDescriptorItem, coupled = false): string {
  const summary = summaryOf(item);
  return coupled ? `${summary} [coupled]` : summary;
}

function summaryOf(item: ResourceDescriptorItem): string {
  switch (item.kind) {
    case "list":
      return String(item.values.length);
    case "range":
      return String(item.end - item.start + 1);
    case "groups":
      return groupShapes(item.groups);
    case "sum":
      return item.name === MEM_RESOURCE_NAME ? formatMebibytes(item.size) : formatAmount(item.size);
  }
}

function groupShapes(groups: readonly string[][]): string {
  const countBySize = new Map<number, number>();
  for (const group of groups) {
    countBySize.set(group.length, (countBySize.get(group.length) ?? 0) + 1);
  }
  return [...countBySize]
    .sort(([sizeA], [sizeB]) => sizeA - sizeB)
    .map(([size, count]) => `${count}x${size}`)
    .join(" ");
}

/** `units` of 1/10000 MiB as `<x.xx> MiB` below 512 MiB, else `<x.xx> GiB`. */
function formatMebibytes(units: number): string {
  const value = BigInt(units);
  return value < GIB_THRESHOLD_MIB * MIB_UNITS
    ? `${hundredths(value, MIB_UNITS)} MiB`
    : `${hundredths(value, MIB_UNITS * 1024n)} GiB`;
}

/**
 * `numerator / denominator` with two decimals, rounding exact ties to even like Rust's `{:.2}`
 * that HyperQueue prints with (`640 MiB` → `0.62 GiB`, where `toFixed` would say `0.63`).
 */
function hundredths(numerator: bigint, denominator: bigint): string {
  const scaled = numerator * 100n;
  let quotient = scaled / denominator;
  const twiceRemainder = (scaled % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n)) {
    quotient++;
  }
  const whole = quotient / 100n;
  const fraction = String(quotient % 100n).padStart(2, "0");
  return `${whole}.${fraction}`;
}

/** Full form of one pool: `[a,b]`, `[[a,b],[c]]`, `range(s-e)` (`[s]` when s = e), `sum(0.5)`. */
export function describeResource(item: ResourceDescriptorItem): string {
  switch (item.kind) {
    case "list":
      return `[${item.values.join(",")}]`;
    case "groups":
      return `[${item.groups.map((group) => `[${group.join(",")}]`).join(",")}]`;
    case "range":
      return item.start === item.end ? `[${item.start}]` : `range(${item.start}-${item.end})`;
    case "sum":
      return `sum(${formatAmount(item.size)})`;
  }
}

/** Summaries of every pool, in descriptor order, as `[name, summary]`. */
export function summarizeResources(descriptor: ResourceDescriptor): [string, string][] {
  const coupled = new Set<number>();
  for (const weight of descriptor.coupling.weights) {
    coupled.add(weight.resource1_idx);
    coupled.add(weight.resource2_idx);
  }
  return descriptor.resources.map((
    item,
    index,
  ) => [item.name, summarizeResource(item, coupled.has(index))]);
}

/** The `worker list` cell: `cpus 2x16; mem 251.38 GiB`. */
export function formatResourcesLine(descriptor: ResourceDescriptor): string {
  return summarizeResources(descriptor).map(([name, summary]) => `${name} ${summary}`).join("; ");
}

/** The `worker info` cell, one pool per line: `cpus: 2x16\nmem: 251.38 GiB`. */
export function formatResourcesLines(descriptor: ResourceDescriptor): string {
  return summarizeResources(descriptor).map(([name, summary]) => `${name}: ${summary}`).join("\n");
}

/**
 * The cli output of `hq worker hwdetect` (without a final newline): `Summary:` with one line per
 * pool, a blank line, then `Full Description:` with one line per pool.
 */
export function describeResources(descriptor: ResourceDescriptor): string {
  const summary = summarizeResources(descriptor).map(([name, text]) => `${name}: ${text}`);
  const full = descriptor.resources.map((item) => `${item.name}: ${describeResource(item)}`);
  return ["Summary:", ...summary, "", "Full Description:", ...full].join("\n");
}
