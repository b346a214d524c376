import assert from "node:assert/strict";
import {
  parseCpuDefinition,
  parseResourceDefinition,
  ResourceDefinitionError,
} from "./parse_resource_definition.ts";
import { InvalidResourceDescriptorError } from "./resource_descriptor.ts";

function assertDefinitionError(
  parse: (text: string) => unknown,
  text: string,
  expected: { message?: string; note?: string | RegExp; offset?: number },
) {
  assert.throws(() => parse(text), (error: unknown) => {
    assert.ok(error instanceof ResourceDefinitionError, `expected a definition error: ${error}`);
    assert.equal(error.input, text);
    assert.ok(!error.message.includes("\n"), "the message is one line");
    if (expected.message !== undefined) assert.equal(error.message, expected.message);
    if (typeof expected.note === "string") assert.equal(error.note, expected.note);
    if (expected.note instanceof RegExp) assert.match(error.note, expected.note);
    if (expected.offset !== undefined) assert.equal(error.offset, expected.offset);
    return true;
  });
}

function assertResourceError(text: string, note: string | RegExp, offset?: number) {
  assertDefinitionError(parseResourceDefinition, text, { note, offset });
}

// --- --resource: kinds ---

Deno.test("parseResourceDefinition reads a list of labels in the given order", () => {
  assert.deepEqual(parseResourceDefinition("gpus=[1,0]"), {
    name: "gpus",
    kind: "list",
    values: ["1", "0"],
  });
});

Deno.test("parseResourceDefinition keeps labels as strings, so 0 and 00 differ", () => {
  assert.deepEqual(parseResourceDefinition("x=[0,00]"), {
    name: "x",
    kind: "list",
    values: ["0", "00"],
  });
});

Deno.test("parseResourceDefinition reads bare and quoted labels", () => {
  assert.deepEqual(parseResourceDefinition('fpga=[a, "b c"]'), {
    name: "fpga",
    kind: "list",
    values: ["a", "b c"],
  });
  assert.deepEqual(parseResourceDefinition('x=[a.b:c(d)=e, "[x],y"]'), {
    name: "x",
    kind: "list",
    values: ["a.b:c(d)=e", "[x],y"],
  });
});

Deno.test("parseResourceDefinition reads groups", () => {
  assert.deepEqual(parseResourceDefinition("cpus=[[0,1],[2,3]]"), {
    name: "cpus",
    kind: "groups",
    groups: [["0", "1"], ["2", "3"]],
  });
});

Deno.test("parseResourceDefinition collapses a single group to a list", () => {
  assert.deepEqual(parseResourceDefinition("x=[[a,b]]"), {
    name: "x",
    kind: "list",
    values: ["a", "b"],
  });
});

Deno.test("parseResourceDefinition reads an inclusive range", () => {
  assert.deepEqual(parseResourceDefinition("gpus=range(1-3)"), {
    name: "gpus",
    kind: "range",
    start: 1,
    end: 3,
  });
  assert.deepEqual(parseResourceDefinition("gpus=range(2-2)"), {
    name: "gpus",
    kind: "range",
    start: 2,
    end: 2,
  });
});

Deno.test("parseResourceDefinition reads NxM as N groups of M consecutive labels", () => {
  assert.deepEqual(parseResourceDefinition("cpus=2x4"), {
    name: "cpus",
    kind: "groups",
    groups: [["0", "1", "2", "3"], ["4", "5", "6", "7"]],
  });
});

Deno.test("parseResourceDefinition reads 1xM as a range", () => {
  assert.deepEqual(parseResourceDefinition("cpus=1x4"), {
    name: "cpus",
    kind: "range",
    start: 0,
    end: 3,
  });
});

Deno.test("parseResourceDefinition reads sums in 1/10000 units", () => {
  assert.deepEqual(parseResourceDefinition("mem=sum(4096)"), {
    name: "mem",
    kind: "sum",
    size: 40_960_000,
  });
  assert.deepEqual(parseResourceDefinition("x=sum(0.5)"), { name: "x", kind: "sum", size: 5_000 });
  assert.deepEqual(parseResourceDefinition("x=sum(1_000)"), {
    name: "x",
    kind: "sum",
    size: 10_000_000,
  });
});

Deno.test("parseResourceDefinition accepts _ in range bounds and grid sizes", () => {
  assert.deepEqual(parseResourceDefinition("x=range(1_0-2_0)"), {
    name: "x",
    kind: "range",
    start: 10,
    end: 20,
  });
  assert.deepEqual(parseResourceDefinition("x=1x1_0"), {
    name: "x",
    kind: "range",
    start: 0,
    end: 9,
  });
});

Deno.test("parseResourceDefinition allows whitespace around =, brackets, commas and in calls", () => {
  assert.deepEqual(parseResourceDefinition("  gpus =  [ 0 ,1 ]  "), {
    name: "gpus",
    kind: "list",
    values: ["0", "1"],
  });
  assert.deepEqual(parseResourceDefinition("x = [ [ a , b ] , [ c ] ]"), {
    name: "x",
    kind: "groups",
    groups: [["a", "b"], ["c"]],
  });
  assert.deepEqual(parseResourceDefinition("x=range( 1 - 3 )"), {
    name: "x",
    kind: "range",
    start: 1,
    end: 3,
  });
  assert.deepEqual(parseResourceDefinition("x=sum( 2.5 )"), {
    name: "x",
    kind: "sum",
    size: 25_000,
  });
});

Deno.test("parseResourceDefinition accepts names with digits and slashes", () => {
  assert.equal(parseResourceDefinition("gpus/nvidia=[0]").name, "gpus/nvidia");
  assert.equal(parseResourceDefinition("fpga1=[0]").name, "fpga1");
  assert.equal(parseResourceDefinition("GPUS=[0]").name, "GPUS");
});

Deno.test("parseResourceDefinition leaves labels repeated across groups to validation", () => {
  assert.deepEqual(parseResourceDefinition("x=[[a],[a]]"), {
    name: "x",
    kind: "groups",
    groups: [["a"], ["a"]],
  });
});

// --- --resource: the notes of spec §2.1 ---

Deno.test("parseResourceDefinition reports an empty list", () => {
  assertDefinitionError(parseResourceDefinition, "x=[]", {
    message: 'Invalid resource definition "x=[]": List has to contain at least a single element',
    offset: 2,
  });
});

Deno.test("parseResourceDefinition reports repeated list items", () => {
  assertResourceError("x=[a,a]", "List items have to be unique", 2);
  assertResourceError('x=[a,"a"]', "List items have to be unique");
});

Deno.test("parseResourceDefinition reports an empty group", () => {
  assertResourceError("x=[[a],[]]", "Each group has to contain at least a single element", 7);
  assertResourceError("x=[[]]", "Each group has to contain at least a single element");
});

Deno.test("parseResourceDefinition reports repeated items within a group", () => {
  assertResourceError("x=[[a,a],[b]]", "Group items have to be unique", 3);
});

Deno.test("parseResourceDefinition reports a range that ends before it starts", () => {
  assertResourceError("x=range(5-2)", "Start must be greater or equal to end", 2);
});

Deno.test("parseResourceDefinition reports a sum with more than 4 decimals", () => {
  assertResourceError("x=sum(0.12345)", "Resource precision exceeded", 6);
});

Deno.test("parseResourceDefinition reports integers beyond u32", () => {
  assertResourceError("x=99999999999", "Cannot parse as 4-byte unsigned integer", 2);
  assertResourceError("x=range(0-4294967296)", "Cannot parse as 4-byte unsigned integer", 10);
  assertResourceError("x=sum(4294967296)", "Cannot parse as 4-byte unsigned integer");
  assertResourceError("x=2x99999999999", "Cannot parse as 4-byte unsigned integer", 4);
});

Deno.test("parseResourceDefinition requires a name starting with a letter", () => {
  assertResourceError(
    "1x=[0]",
    /^Unexpected character '1' at column 1, expected a resource name$/,
    0,
  );
  assertResourceError("=[0]", /^Unexpected character '=' at column 1/, 0);
  assertResourceError("", /^Unexpected end of input, expected a resource name$/, 0);
});

Deno.test("parseResourceDefinition stops the name at the first invalid char", () => {
  assertDefinitionError(parseResourceDefinition, "a_b=[0]", {
    message:
      `Invalid resource definition "a_b=[0]": Unexpected character '_' at column 2, expected '='`,
    offset: 1,
  });
});

Deno.test("parseResourceDefinition rejects a plain number", () => {
  assertResourceError("gpus=4", /^Unexpected end of input, expected 'x'$/, 6);
});

Deno.test("parseResourceDefinition rejects empty and zero grids", () => {
  assertResourceError("x=0x4", "Group count and group size must be positive", 2);
  assertResourceError("x=4x0", "Group count and group size must be positive", 2);
});

Deno.test("parseResourceDefinition refuses to generate more than 2^20 labels", () => {
  assertResourceError("x=1024x1025", /^At most 1048576 labels/);
  assert.equal(parseResourceDefinition("x=1x4000000000").kind, "range");
});

Deno.test("parseResourceDefinition rejects malformed kinds", () => {
  const cases: [string, RegExp][] = [
    ["x", /expected '='/],
    ["x=", /^Unexpected end of input, expected '\[', 'range\(', 'sum\(' or 'NxM'$/],
    ["x=foo", /Unexpected character 'f' at column 3/],
    ["x=[a", /^Unexpected end of input, expected '\]'$/],
    ["x=[a,]", /Unexpected character '\]' at column 6, expected a label/],
    ["x=[a b]", /Unexpected character 'b' at column 6, expected '\]'/],
    ['x=["a]', /^Unexpected end of input, expected '"'$/],
    ["x=[[a],b]", /Unexpected character 'b' at column 8, expected '\['/],
    ["x=[a,[b]]", /Unexpected character '\[' at column 6, expected a label/],
    ["x=range(1)", /expected '-'/],
    ["x=range (1-2)", /Unexpected character ' ' at column 8, expected '\('/],
    ["x=range(-2)", /expected a number/],
    ["x=sum()", /expected a number/],
    ["x=sum(1.)", /Unexpected character '\.' at column 8, expected '\)'/],
    ["x=sum(-1)", /expected a number/],
    ["x=2 x 4", /expected 'x'/],
    ["x=[a] b", /Unexpected character 'b' at column 7, expected end of input/],
    ["x=1_x4", /Unexpected character '_'/],
  ];
  for (const [text, note] of cases) assertResourceError(text, note);
});

// --- --cpus ---

Deno.test("parseCpuDefinition reads a bare count as one range from 0", () => {
  assert.deepEqual(parseCpuDefinition("8"), { name: "cpus", kind: "range", start: 0, end: 7 });
  assert.deepEqual(parseCpuDefinition(" 1_0 "), { name: "cpus", kind: "range", start: 0, end: 9 });
});

Deno.test("parseCpuDefinition reads SxC, lists, groups and ranges", () => {
  assert.deepEqual(parseCpuDefinition("2x4"), {
    name: "cpus",
    kind: "groups",
    groups: [["0", "1", "2", "3"], ["4", "5", "6", "7"]],
  });
  assert.deepEqual(parseCpuDefinition("1x4"), parseCpuDefinition("4"));
  assert.deepEqual(parseCpuDefinition("[0,2,4]"), {
    name: "cpus",
    kind: "list",
    values: ["0", "2", "4"],
  });
  assert.deepEqual(parseCpuDefinition("[[0,1],[2,3]]"), {
    name: "cpus",
    kind: "groups",
    groups: [["0", "1"], ["2", "3"]],
  });
  assert.deepEqual(parseCpuDefinition("[[0,1]]"), {
    name: "cpus",
    kind: "list",
    values: ["0", "1"],
  });
  assert.deepEqual(parseCpuDefinition("range(0-7)"), {
    name: "cpus",
    kind: "range",
    start: 0,
    end: 7,
  });
});

Deno.test("parseCpuDefinition rejects sums and zero CPUs for lacking identity", () => {
  for (const text of ["sum(4)", "0"]) {
    assert.throws(() => parseCpuDefinition(text), (error: unknown) => {
      assert.ok(error instanceof InvalidResourceDescriptorError);
      assert.equal(
        error.message,
        "Resource kind `sum` cannot be used with CPUs. CPUs must have identity",
      );
      return true;
    });
  }
});

Deno.test("parseCpuDefinition rejects empty grids", () => {
  for (const text of ["0x4", "4x0"]) {
    assertDefinitionError(parseCpuDefinition, text, {
      message: `Invalid CPU definition "${text}": Group count and group size must be positive`,
    });
  }
});

Deno.test("parseCpuDefinition reports list errors with the spec's notes", () => {
  assertDefinitionError(parseCpuDefinition, "[]", {
    message: 'Invalid CPU definition "[]": List has to contain at least a single element',
  });
  assertDefinitionError(parseCpuDefinition, "99999999999", {
    note: "Cannot parse as 4-byte unsigned integer",
  });
  assertDefinitionError(parseCpuDefinition, "cpus=4", { note: /Unexpected character 'c'/ });
});
