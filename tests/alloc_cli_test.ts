/**
 * `hq alloc …` as a user runs it (journal-alloc spec §2.1–§2.3, §2.12): exit codes and messages of
 * bad options, which need no server, then the commands against a real server.
 */
import assert from "node:assert/strict";
import { hq, tempDir } from "./harness.ts";

const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARN|ERROR) /;

Deno.test("alloc add: malformed values are usage errors, values out of range exit 1", async () => {
  await using dir = await tempDir();
  const serverDir = ["--server-dir", dir.path];
  const usage = [
    ["alloc", "add", "slurm", "-t", "soon"],
    ["alloc", "add", "slurm"],
    ["alloc", "add", "pbs", "-t", "1h", "--workers-per-alloc", "2"],
    ["alloc", "add", "pbs", "-t", "1h", "--backlog", "x"],
  ];
  const invalid: Array<[string[], string]> = [
    [["alloc", "add", "slurm", "-t", "1h", "-b", "0"], "Backlog has to be at least 1"],
    [
      ["alloc", "add", "slurm", "-t", "1h", "--min-utilization", "1.5"],
      "Minimal utilization has to be in the interval [0.0, 1.0].",
    ],
    [
      ["alloc", "dry-run", "pbs", "-t", "1h", "--worker-time-limit", "2h"],
      "Worker time limit cannot be larger than queue time limit",
    ],
  ];
  const [usageResults, invalidResults, jsonResult] = await Promise.all([
    Promise.all(usage.map((args) => hq([...args, ...serverDir]))),
    Promise.all(invalid.map(([args]) => hq([...args, ...serverDir]))),
    hq([...invalid[0][0], ...serverDir, "--output-mode", "json"]),
  ]);
  usageResults.forEach((result, i) => {
    const what = `hq ${usage[i].join(" ")}`;
    assert.equal(result.code, 2, `${what}\n${result.stderr}`);
    assert.equal(result.stdout, "", what);
    assert.match(result.stderr, /^error: [^\n]+\n$/, what);
  });
  assert.match(
    usageResults[0].stderr,
    /^error: invalid value 'soon' for '--time-limit <TIME_LIMIT>': Could not parse PBS walltime\. Use either `HH:MM:SS` or humantime format \(2hours\)/,
  );
  assert.match(usageResults[2].stderr, /unexpected argument '--workers-per-alloc' found/);
  invalidResults.forEach((result, i) => {
    const [args, message] = invalid[i];
    assert.equal(result.code, 1, `hq ${args.join(" ")}\n${result.stderr}`);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `${message}\n`);
  });
  assert.equal(jsonResult.code, 1);
  assert.deepEqual(JSON.parse(jsonResult.stdout), { error: "Backlog has to be at least 1" });
});

Deno.test("alloc add warns about probing mode and a long idle timeout before connecting", async () => {
  await using dir = await tempDir();
  const result = await hq([
    "alloc",
    "add",
    "pbs",
    "-t",
    "1h",
    "--idle-timeout",
    "15m",
    "--server-dir",
    dir.path,
  ]);
  assert.equal(result.code, 1, "no server runs there");
  const warnings = result.stderr.split("\n").filter((line) => / WARN /.test(line));
  assert.equal(warnings.length, 2, result.stderr);
  for (const line of warnings) assert.match(line, LOG_LINE);
  assert.match(warnings[0], /probing mode/);
  assert.match(warnings[1], /idle timeout of the workers \(15m\) is longer than 10 minutes/);
});

Deno.test("alloc log refuses JSON output mode", async () => {
  await using dir = await tempDir();
  const result = await hq([
    "alloc",
    "log",
    "12",
    "stdout",
    "--output-mode",
    "json",
    "--server-dir",
    dir.path,
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(JSON.parse(result.stdout), {
    error: "JSON output mode doesn't support allocation output",
  });
});
