/**
 * A set of task ids kept as inclusive `[start, end, step]` ranges, so a 1,000,000-task array costs
 * a few numbers, not a million. Indexes run over the ranges in order (0 … count-1).
 */

export type IdRange = [start: number, end: number, step: number];

export class IdRanges {
  /** Number of ids before each range (prefix sums), for index ↔ id lookups. */
  readonly #offsets: number[];
  readonly count: number;

  constructor(readonly ranges: readonly IdRange[]) {
    this.#offsets = [];
    let total = 0;
    for (const [start, end, step] of ranges) {
      this.#offsets.push(total);
      total += Math.floor((end - start) / step) + 1;
    }
    this.count = total;
  }

  /** The ids `first, first+1, …, first+count-1`. */
  static sequence(first: number, count: number): IdRanges {
    return new IdRanges(count > 0 ? [[first, first + count - 1, 1]] : []);
  }

  /** Consecutive runs of ascending, distinct `ids` as unit-step ranges. */
  static fromSortedIds(ids: readonly number[]): IdRanges {
    const ranges: IdRange[] = [];
    for (const id of ids) {
      const last = ranges[ranges.length - 1];
      if (last && id === last[1] + 1) last[1] = id;
      else ranges.push([id, id, 1]);
    }
    return new IdRanges(ranges);
  }

  /** The id at `index` (0-based). */
  idAt(index: number): number {
    let low = 0;
    let high = this.ranges.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.#offsets[middle] <= index) low = middle;
      else high = middle - 1;
    }
    const [start, , step] = this.ranges[low];
    return start + (index - this.#offsets[low]) * step;
  }

  /** The index of `id`, or -1 if it is not in the set. */
  indexOf(id: number): number {
    for (let r = 0; r < this.ranges.length; r++) {
      const [start, end, step] = this.ranges[r];
      if (id >= start && id <= end && (id - start) % step === 0) {
        return this.#offsets[r] + (id - start) / step;
      }
    }
    return -1;
  }

  has(id: number): boolean {
    return this.indexOf(id) >= 0;
  }

  /** The largest id, or -1 when empty. */
  max(): number {
    let max = -1;
    for (const [start, end, step] of this.ranges) {
      max = Math.max(max, start + Math.floor((end - start) / step) * step);
    }
    return max;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (const [start, end, step] of this.ranges) {
      for (let id = start; id <= end; id += step) yield id;
    }
  }
}

/**
 * Compact text of a sorted id list: `0-3,7,9-12`; a single stepped range prints as `0-10:2`
 * (spec §7.3 `Tasks` row, §7.9 `task-ids`).
 */
export function formatIdList(ids: readonly number[]): string {
  if (ids.length === 0) return "";
  if (ids.length > 2) {
    const step = ids[1] - ids[0];
    if (step > 1 && ids.every((id, i) => i === 0 || id - ids[i - 1] === step)) {
      return `${ids[0]}-${ids[ids.length - 1]}:${step}`;
    }
  }
  const parts: string[] = [];
  let start = ids[0];
  let previous = ids[0];
  for (let i = 1; i <= ids.length; i++) {
    const id = ids[i];
    if (i < ids.length && id === previous + 1) {
      previous = id;
      continue;
    }
    parts.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = previous = id;
  }
  return parts.join(",");
}
