import assert from "node:assert/strict";
import { JsonFloat, jsonSeconds, toSortedJson } from "./json.ts";

Deno.test("toSortedJson sorts keys at every level with a 2-space indent", () => {
  const value = {
    worker_port: 43109,
    client_host: "login1",
    nested: { b: [{ z: 1, a: 2 }], a: true },
  };
  assert.equal(
    toSortedJson(value),
    `{
  "client_host": "login1",
  "nested": {
    "a": true,
    "b": [
      {
        "a": 2,
        "z": 1
      }
    ]
  },
  "worker_port": 43109
}`,
  );
});

Deno.test("toSortedJson sorts keys by code unit like a byte-wise sort", () => {
  assert.equal(
    toSortedJson({ b: 1, B: 2, _x: 3, a1: 4, a: 5 }),
    `{
  "B": 2,
  "_x": 3,
  "a": 5,
  "a1": 4,
  "b": 1
}`,
  );
});

Deno.test("toSortedJson prints an empty object and an empty array compactly", () => {
  assert.equal(toSortedJson({}), "{}");
  assert.equal(toSortedJson([]), "[]");
  assert.equal(toSortedJson({ list: [], map: {} }), `{\n  "list": [],\n  "map": {}\n}`);
});

Deno.test("toSortedJson drops undefined fields but keeps null ones", () => {
  assert.equal(
    toSortedJson({ gone: undefined, kept: null, also: 1 }),
    `{\n  "also": 1,\n  "kept": null\n}`,
  );
  assert.equal(toSortedJson({ gone: undefined }), "{}");
});

Deno.test("toSortedJson prints undefined and non-finite numbers as null", () => {
  assert.equal(toSortedJson([undefined, NaN, Infinity]), "[\n  null,\n  null,\n  null\n]");
  assert.equal(toSortedJson(undefined), "null");
});

Deno.test("toSortedJson prints JsonFloat with a fractional part", () => {
  assert.equal(toSortedJson(new JsonFloat(8)), "8.0");
  assert.equal(toSortedJson(new JsonFloat(0)), "0.0");
  assert.equal(toSortedJson(new JsonFloat(0.5)), "0.5");
  assert.equal(toSortedJson(new JsonFloat(300)), "300.0");
  assert.equal(toSortedJson(new JsonFloat(1.25)), "1.25");
  assert.equal(toSortedJson(new JsonFloat(NaN)), "null");
});

Deno.test("toSortedJson prints plain integers without a fractional part", () => {
  assert.equal(
    toSortedJson({ port: 8, pid: 81234, ratio: 0.5 }),
    `{
  "pid": 81234,
  "port": 8,
  "ratio": 0.5
}`,
  );
});

Deno.test("jsonSeconds turns milliseconds into float seconds and keeps null", () => {
  assert.equal(toSortedJson({ heartbeat: jsonSeconds(8_000) }), `{\n  "heartbeat": 8.0\n}`);
  assert.equal(toSortedJson(jsonSeconds(500)), "0.5");
  assert.equal(jsonSeconds(null), null);
  assert.equal(jsonSeconds(undefined), null);
});

Deno.test("toSortedJson escapes strings and keys", () => {
  const text = toSortedJson({ 'we"ird\nkey': 'quote " backslash \\ tab \t newline \n ctl \x01' });
  assert.equal(
    text,
    `{\n  "we\\"ird\\nkey": "quote \\" backslash \\\\ tab \\t newline \\n ctl \\u0001"\n}`,
  );
  assert.deepEqual(JSON.parse(text), {
    'we"ird\nkey': 'quote " backslash \\ tab \t newline \n ctl \x01',
  });
});

Deno.test("toSortedJson output parses back to the same value", () => {
  const value = {
    version: "v0.26.2",
    workers: [{ id: 1, ended: null, tags: ["a", "b"] }, { id: 2, ended: { at: "x" }, tags: [] }],
    unicode: "žluťoučký kůň 🐎",
    flags: [true, false],
  };
  assert.deepEqual(JSON.parse(toSortedJson(value)), value);
});
