import assert from "node:assert/strict";
import { isResourceName, resourceNameLengthAt } from "./resource_name.ts";

Deno.test("isResourceName accepts a letter then letters, digits or slashes", () => {
  for (const name of ["cpus", "mem", "gpus/nvidia", "gpus/amd", "fpga1", "GPUS", "a//"]) {
    assert.ok(isResourceName(name), name);
  }
});

Deno.test("isResourceName rejects other first chars and other chars", () => {
  for (const name of ["", "1x", "/a", "a_b", "a-b", "a b", "é"]) {
    assert.ok(!isResourceName(name), name);
  }
});

Deno.test("resourceNameLengthAt stops at the first invalid char", () => {
  assert.equal(resourceNameLengthAt("a_b=[0]", 0), 1);
  assert.equal(resourceNameLengthAt("gpus/nvidia=[0]", 0), 11);
  assert.equal(resourceNameLengthAt("  cpus", 2), 4);
  assert.equal(resourceNameLengthAt("1x=[0]", 0), 0);
  assert.equal(resourceNameLengthAt("=[0]", 0), 0);
});
