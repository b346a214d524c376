import assert from "node:assert/strict";
import { parseId, parseIdSelector, selectIds } from "./id_selector.ts";

Deno.test("parseIdSelector reads ids, ranges, steps, lists, all and last", () => {
  assert.deepEqual(parseIdSelector("3"), { type: "ids", ranges: [[3, 3, 1]] });
  assert.deepEqual(parseIdSelector("1-3"), { type: "ids", ranges: [[1, 3, 1]] });
  assert.deepEqual(parseIdSelector("2-10:2"), { type: "ids", ranges: [[2, 10, 2]] });
  assert.deepEqual(parseIdSelector("1, 3,5-8"), {
    type: "ids",
    ranges: [[1, 1, 1], [3, 3, 1], [5, 8, 1]],
  });
  assert.deepEqual(parseIdSelector("1_000"), { type: "ids", ranges: [[1000, 1000, 1]] });
  assert.deepEqual(parseIdSelector("all"), { type: "all" });
  assert.deepEqual(parseIdSelector("last"), { type: "last" });
});

Deno.test("parseIdSelector rejects overlapping ranges, bad steps and garbage", () => {
  assert.throws(() => parseIdSelector("1-5,3"), /Ranges overlap/);
  assert.throws(() => parseIdSelector("1-5,5-7"), /Ranges overlap/);
  assert.throws(() => parseIdSelector("0-10:2,4-12:4"), /Ranges overlap/);
  assert.throws(() => parseIdSelector("1-9:2,0-10:2,7"), /Ranges overlap/);
  assert.throws(() => parseIdSelector("2-10:0"), /Invalid step/);
  assert.throws(() => parseIdSelector("2-10:9"), /Invalid step/);
  assert.throws(() => parseIdSelector("5-2"), /smaller than its start/);
  assert.throws(() => parseIdSelector("x"), /Invalid id or range/);
  assert.throws(() => parseIdSelector("-1"), /Invalid id or range/);
  assert.throws(() => parseIdSelector(""), /Invalid id or range/);
});

Deno.test("parseIdSelector accepts interleaved ranges that share no id", () => {
  assert.deepEqual(parseIdSelector("0-10:2,1-9:2"), {
    type: "ids",
    ranges: [[0, 10, 2], [1, 9, 2]],
  });
  assert.equal(parseIdSelector("0-4000000000:2,1-3999999999:2").type, "ids");
  assert.equal(parseIdSelector("0-30:6,3-33:10").type, "ids");
});

Deno.test("parseId accepts a plain id only", () => {
  assert.equal(parseId("7"), 7);
  assert.throws(() => parseId("1-2"));
});

Deno.test("selectIds resolves all and last against known ids and expands ranges", () => {
  const known = [1, 2, 5];
  assert.deepEqual(selectIds({ type: "all" }, known), [1, 2, 5]);
  assert.deepEqual(selectIds({ type: "last" }, known), [5]);
  assert.deepEqual(selectIds({ type: "last" }, []), []);
  assert.deepEqual(selectIds({ type: "ids", ranges: [[2, 8, 3]] }, known), [2, 5, 8]);
  assert.deepEqual(selectIds({ type: "ids", ranges: [[1, 4_000_000_000, 1]] }, known), known);
});

Deno.test("selectIds expands at most 100,000 ids and lists only known ids past that", () => {
  const ranges: Array<[number, number, number]> = [];
  for (let i = 0; i < 20_000; i++) ranges.push([i * 200_000, i * 200_000 + 99_999, 1]);
  const ids = selectIds({ type: "ids", ranges }, [5, 200_001, 3_999_800_000]);
  assert.equal(ids.length, 100_000 + 2);
  assert.deepEqual(ids.slice(-2), [200_001, 3_999_800_000]);
  assert.deepEqual(selectIds({ type: "ids", ranges: [[1, 5, 0]] }, [1, 2]), [1, 2, 3, 4, 5]);
});
