/**
 * Id selectors of spec §4.8 (`3`, `1-3`, `2-10:2`, `1,3,5-8`, `all`, `last`), parsed on the
 * client and resolved on the server against the ids it knows.
 */
import type { IdSelector } from "./protocol.ts";

/** Parses a selector; throws an `Error` with the detail (the CLI turns it into a usage error). */
export function parseIdSelector(text: string): IdSelector {
  const trimmed = text.trim();
  if (trimmed === "all") return { type: "all" };
  if (trimmed === "last") return { type: "last" };
  const ranges: Array<[number, number, number]> = [];
  for (const item of trimmed.split(",")) ranges.push(parseRange(item.trim()));
  if (rangesOverlap(ranges)) throw new Error("Ranges overlap");
  return { type: "ids", ranges };
}

/** Ranges that interleave with more than this many others at once are refused as overlapping. */
const MAX_INTERLEAVED = 1_000;

/**
 * Whether some id is in two of the inclusive `[start, end, step]` ranges. Ranges may interleave
 * (`0-10:2,1-9:2`) as long as no id is in two of them; more than `MAX_INTERLEAVED` ranges open at
 * once count as overlapping (so a hostile list costs no quadratic time).
 */
export function rangesOverlap(ranges: ReadonlyArray<readonly [number, number, number]>): boolean {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  let open: Array<readonly [number, number, number]> = [];
  for (const range of sorted) {
    open = open.filter((earlier) => earlier[1] >= range[0]);
    if (open.length >= MAX_INTERLEAVED) return true;
    if (open.some((earlier) => rangesShareAnId(earlier, range))) return true;
    open.push(range);
  }
  return false;
}

/**
 * Whether two stepped ranges have an id in common. Their common ids repeat with the period
 * lcm(steps), so looking at the sparser range's first `denser step` ids in the shared interval
 * is enough.
 */
function rangesShareAnId(
  a: readonly [number, number, number],
  b: readonly [number, number, number],
): boolean {
  const low = Math.max(a[0], b[0]);
  const high = Math.min(a[1], b[1]);
  if (low > high) return false;
  const [sparse, dense] = a[2] >= b[2] ? [a, b] : [b, a];
  let id = low + ((sparse[0] - low) % sparse[2] + sparse[2]) % sparse[2];
  for (let n = 0; n < dense[2] && id <= high; n++, id += sparse[2]) {
    if ((id - dense[0]) % dense[2] === 0) return true;
  }
  return false;
}

/** A plain id (no ranges), e.g. for `hq worker address`. */
export function parseId(text: string): number {
  return parseNumber(text.trim());
}

function parseRange(item: string): [number, number, number] {
  const match = /^([0-9_]+)(?:-([0-9_]+)(?::([0-9_]+))?)?$/.exec(item);
  if (!match) throw new Error(`Invalid id or range "${item}"`);
  const start = parseNumber(match[1]);
  if (match[2] === undefined) return [start, start, 1];
  const end = parseNumber(match[2]);
  if (end < start) throw new Error(`Range end ${end} is smaller than its start ${start}`);
  if (match[3] === undefined) return [start, end, 1];
  const step = parseNumber(match[3]);
  if (step === 0 || step > end - start) {
    throw new Error(`Invalid step ${step} in range "${item}": it must be in 1..=${end - start}`);
  }
  return [start, end, step];
}

function parseNumber(text: string): number {
  if (!/^[0-9]+(_[0-9]+)*$/.test(text)) throw new Error(`Invalid number "${text}"`);
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(value) || value > 0xffff_ffff) {
    throw new Error(`Number "${text}" is too large`);
  }
  return value;
}

/** Ids a selector's explicit ranges may expand to in total; beyond, only known ids are listed. */
const MAX_EXPANDED_IDS = 100_000;

/**
 * The ids a selector names, given the ids that exist (ascending). `all` and `last` resolve
 * against `knownIds`; explicit ids are returned in selector order whether known or not, except
 * that once the ranges hold more than `MAX_EXPANDED_IDS` ids in total, the rest only yield the
 * known ids inside them (a selector of 20,000 huge ranges must not become 2·10⁹ numbers).
 */
export function selectIds(selector: IdSelector, knownIds: readonly number[]): number[] {
  if (selector.type === "all") return [...knownIds];
  if (selector.type === "last") return knownIds.length > 0 ? [knownIds[knownIds.length - 1]] : [];
  const out: number[] = [];
  let budget = MAX_EXPANDED_IDS;
  for (const [start, end, rawStep] of selector.ranges) {
    // A step below 1 would never advance; the server refuses it, this guards other callers.
    const step = Math.max(1, rawStep);
    const count = end < start ? 0 : Math.floor((end - start) / step) + 1;
    if (count <= budget) {
      budget -= count;
      for (let id = start; id <= end; id += step) out.push(id);
      continue;
    }
    for (let i = lowerBound(knownIds, start); i < knownIds.length; i++) {
      const id = knownIds[i];
      if (id > end) break;
      if ((id - start) % step === 0) out.push(id);
    }
  }
  return out;
}

/** The index of the first of the ascending `ids` that is `>= value`. */
function lowerBound(ids: readonly number[], value: number): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ids[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
