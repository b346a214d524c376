// `--coupling` of resources spec §2.4: `RES1[G1]:RES2[G2]` or `RES1[G1]:RES2[G2]=W`, comma
// separated, resolved against the worker's name-sorted resource list.

import { HqError } from "../errors.ts";
import {
  type CouplingWeight,
  type ResourceDescriptorItem,
  resourceItemGroupCount,
} from "./resource_descriptor.ts";

/** A `--coupling` value is invalid; `note` is the spec's error text. */
export class CouplingError extends HqError {
  constructor(readonly input: string, readonly note: string) {
    super(`Invalid coupling "${input}": ${note}`);
  }
}

/** Weight of an item given without `=W`. */
export const DEFAULT_COUPLING_WEIGHT = 256;

const MAX_GROUP_INDEX = 0xff;
const MAX_WEIGHT = 0xffff;
const DECIMAL = /^[0-9]+$/;

/**
 * Parses `--coupling` text against `resources`, which must already be sorted by name: the
 * indices in the result refer to it. Each weight is normalised so that
 * `(resource1_idx, group1_idx) < (resource2_idx, group2_idx)` and the list is sorted.
 */
export function parseCoupling(
  text: string,
  resources: readonly ResourceDescriptorItem[],
): CouplingWeight[] {
  const weights: CouplingWeight[] = [];
  const seen = new Set<string>();
  for (const part of text.split(",")) {
    const fail = (note: string): never => {
      throw new CouplingError(part.trim(), note);
    };
    const weight = parseItem(part, resources, fail);
    const key =
      `${weight.resource1_idx}/${weight.group1_idx}/${weight.resource2_idx}/${weight.group2_idx}`;
    if (seen.has(key)) fail("Repeated coupling definition");
    seen.add(key);
    weights.push(weight);
  }
  return weights.sort((a, b) =>
    a.resource1_idx - b.resource1_idx || a.group1_idx - b.group1_idx ||
    a.resource2_idx - b.resource2_idx || a.group2_idx - b.group2_idx
  );
}

interface GroupRef {
  resourceIdx: number;
  groupIdx: number;
}

function parseItem(
  text: string,
  resources: readonly ResourceDescriptorItem[],
  fail: (note: string) => never,
): CouplingWeight {
  const equals = text.indexOf("=");
  const pair = equals < 0 ? text : text.slice(0, equals);
  let weight = DEFAULT_COUPLING_WEIGHT;
  if (equals >= 0) {
    const weightText = text.slice(equals + 1).trim();
    weight = parseBounded(weightText, MAX_WEIGHT) ?? fail(`Invalid weight: ${weightText}`);
  }
  const colon = pair.indexOf(":");
  if (colon < 0) fail("Missing ':'");
  let first = parseGroupRef(pair.slice(0, colon), resources, fail);
  let second = parseGroupRef(pair.slice(colon + 1), resources, fail);
  if (first.resourceIdx === second.resourceIdx && first.groupIdx === second.groupIdx) {
    fail(
      `Group ${first.groupIdx} of resource '${
        resources[first.resourceIdx].name
      }' cannot be coupled with itself`,
    );
  }
  if (
    second.resourceIdx < first.resourceIdx ||
    (second.resourceIdx === first.resourceIdx && second.groupIdx < first.groupIdx)
  ) {
    [first, second] = [second, first];
  }
  return {
    resource1_idx: first.resourceIdx,
    group1_idx: first.groupIdx,
    resource2_idx: second.resourceIdx,
    group2_idx: second.groupIdx,
    weight,
  };
}

function parseGroupRef(
  text: string,
  resources: readonly ResourceDescriptorItem[],
  fail: (note: string) => never,
): GroupRef {
  const open = text.indexOf("[");
  if (open < 0) fail("Missing '['");
  const rest = text.slice(open + 1).trimEnd();
  if (!rest.endsWith("]")) fail("Missing ']'");
  const name = text.slice(0, open).trim();
  const groupText = rest.slice(0, -1).trim();
  const resourceIdx = resources.findIndex((item) => item.name === name);
  if (resourceIdx < 0) fail(`Resource not found: ${name}`);
  const groupIdx = parseBounded(groupText, MAX_GROUP_INDEX) ??
    fail(`Invalid group index: ${groupText}`);
  const groupCount = resourceItemGroupCount(resources[resourceIdx]);
  if (groupCount < 2) fail(`Resource '${name}' has only a single group`);
  if (groupIdx >= groupCount) fail(`Invalid group id ${groupIdx} for resource '${name}'`);
  return { resourceIdx, groupIdx };
}

function parseBounded(text: string, max: number): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}
