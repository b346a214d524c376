import assert from "node:assert/strict";
import { renderHorizontalTable, renderVerticalTable } from "./table.ts";

const PLAIN = { colors: false };
const COLORED = { colors: true };
const BOLD = (text: string) => `\x1b[1m${text}\x1b[22m`;
const GREEN = (text: string) => `\x1b[32m${text}\x1b[39m`;
const RED = (text: string) => `\x1b[31m${text}\x1b[39m`;
// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[\d+m/g, "");

Deno.test("renderVerticalTable draws the server info table of the spec", () => {
  const table = renderVerticalTable([
    ["Server directory", "/home/alice/.hq-server"],
    ["Server UID", "Xq7mB2"],
    ["Client host", "login1"],
    ["Client port", "36417"],
    ["Worker host", "login1"],
    ["Worker port", "43109"],
    ["Version", "v0.26.2"],
    ["Pid", "81234"],
    ["Start date", "2025-03-04 10:12:55 UTC"],
    ["Journal path", ""],
  ], PLAIN);
  assert.equal(
    table,
    `+------------------+-------------------------+
| Server directory | /home/alice/.hq-server  |
| Server UID       | Xq7mB2                  |
| Client host      | login1                  |
| Client port      | 36417                   |
| Worker host      | login1                  |
| Worker port      | 43109                   |
| Version          | v0.26.2                 |
| Pid              | 81234                   |
| Start date       | 2025-03-04 10:12:55 UTC |
| Journal path     |                         |
+------------------+-------------------------+
`,
  );
});

Deno.test("renderVerticalTable spreads a multi-line value over several lines", () => {
  assert.equal(
    renderVerticalTable([["Resources", "cpus: 4\nmem: 1 GiB"], ["Group", "default"]], PLAIN),
    `+-----------+------------+
| Resources | cpus: 4    |
|           | mem: 1 GiB |
| Group     | default    |
+-----------+------------+
`,
  );
});

Deno.test("renderHorizontalTable draws header, separator, rows and a bottom border", () => {
  assert.equal(
    renderHorizontalTable(
      ["ID", "State", "Hostname"],
      [["1", "RUNNING", "node-a"], ["12", "STOPPED", "b"]],
      { ...PLAIN, rightAligned: [0] },
    ),
    `+----+---------+----------+
| ID | State   | Hostname |
+----+---------+----------+
|  1 | RUNNING | node-a   |
| 12 | STOPPED | b        |
+----+---------+----------+
`,
  );
});

Deno.test("renderHorizontalTable leaves out the bottom border when there are no rows", () => {
  assert.equal(
    renderHorizontalTable(["ID", "State"], [], { ...PLAIN, rightAligned: [0] }),
    `+----+-------+
| ID | State |
+----+-------+
`,
  );
});

Deno.test("renderHorizontalTable gives a multi-line cell several physical lines", () => {
  assert.equal(
    renderHorizontalTable(
      ["ID", "Resources", "Group"],
      [["1", "cpus: 4\nmem: 1 GiB\ngpus: 2", "g"], ["2", "cpus: 1", "default\nextra"]],
      { ...PLAIN, rightAligned: [0] },
    ),
    `+----+------------+---------+
| ID | Resources  | Group   |
+----+------------+---------+
|  1 | cpus: 4    | g       |
|    | mem: 1 GiB |         |
|    | gpus: 2    |         |
|  2 | cpus: 1    | default |
|    |            | extra   |
+----+------------+---------+
`,
  );
});

Deno.test("renderHorizontalTable counts code points, not UTF-16 units, for widths", () => {
  assert.equal(
    renderHorizontalTable(["Name"], [["µs"], ["𝔸b"]], PLAIN),
    `+------+
| Name |
+------+
| µs   |
| 𝔸b   |
+------+
`,
  );
});

Deno.test("renderHorizontalTable emits no escape codes when colours are off", () => {
  const table = renderHorizontalTable(
    ["ID", "State"],
    [["1", { text: "RUNNING", color: "green" }]],
    PLAIN,
  );
  assert.ok(!table.includes("\x1b"));
  assert.match(table, /\| 1 {2}\| RUNNING \|/);
});

Deno.test("renderHorizontalTable with colours makes headers bold and colours cells", () => {
  const table = renderHorizontalTable(
    ["ID", "State"],
    [["1", { text: "RUNNING", color: "green" }], ["22", { text: "CONNECTION LOST", color: "red" }]],
    { ...COLORED, rightAligned: [0] },
  );
  assert.equal(
    table,
    [
      "+----+-----------------+",
      `| ${BOLD("ID")} | ${BOLD("State")}           |`,
      "+----+-----------------+",
      `|  1 | ${GREEN("RUNNING")}         |`,
      `| 22 | ${RED("CONNECTION LOST")} |`,
      "+----+-----------------+",
      "",
    ].join("\n"),
  );
});

Deno.test("renderVerticalTable with colours makes labels bold and leaves plain values alone", () => {
  const table = renderVerticalTable(
    [["State", { text: "RUNNING", color: "green" }], ["Group", "default"]],
    COLORED,
  );
  assert.equal(
    table,
    [
      "+-------+---------+",
      `| ${BOLD("State")} | ${GREEN("RUNNING")} |`,
      `| ${BOLD("Group")} | default |`,
      "+-------+---------+",
      "",
    ].join("\n"),
  );
});

Deno.test("renderHorizontalTable lays out the same with and without colours", () => {
  const header = ["ID", "State", "Notes"];
  const rows = [
    ["7", { text: "IDLE TIMEOUT", color: "cyan" as const }, "a\nlonger line"],
    ["100", { text: "STOPPED", color: "magenta" as const }, ""],
  ];
  const plain = renderHorizontalTable(header, rows, { ...PLAIN, rightAligned: [0] });
  const colored = renderHorizontalTable(header, rows, { ...COLORED, rightAligned: [0] });
  assert.notEqual(colored, plain);
  assert.equal(stripAnsi(colored), plain);
});

Deno.test("renderVerticalTable does not colour empty cells", () => {
  const table = renderVerticalTable([["Journal path", { text: "", color: "red" }]], COLORED);
  assert.equal(stripAnsi(table), table.replace(BOLD("Journal path"), "Journal path"));
  assert.ok(!table.includes("\x1b[31m"));
});
