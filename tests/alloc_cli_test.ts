/**
 * `hq alloc …` as a user runs it (journal-alloc spec §2.1–§2.3, §2.12): exit codes and messages of
 * bad options, which need no server, then the commands against a real server.
 */
import assert from "node:assert/strict";
import { pbsTestEnv, qdelAll } from "./_batch.ts";
import { hq, hqAt, submitJob, tempDir, TestServer, waitUntil } from "./harness.ts";

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

/** The PBS stand-in on PATH; its jobs stay queued (`Q`) for the whole test. */
function pbsEnv(stateDir: string): Record<string, string> {
  return pbsTestEnv(stateDir, {
    HQ_AUTOALLOC_SCHEDULE_TICK_INTERVAL_MS: "200",
    HQ_AUTOALLOC_MAX_SCHEDULE_DELAY_MS: "1000",
    MOCKPBS_QUEUE_DELAY: "600",
  });
}

/** The cells of the data rows of a horizontal table. */
function tableRows(text: string): string[][] {
  return text.split("\n").filter((line) => line.startsWith("|")).slice(1)
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

const LOCAL_TIME = /^\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d$/;

Deno.test("alloc list, info, pause, resume and remove against a server, in every output mode", async () => {
  await using state = await tempDir("hq-mockpbs-");
  await using work = await tempDir();
  const env = pbsEnv(state.path);
  await using server = await TestServer.start({ env });
  try {
    const added = await hqAt(server, [
      ...["alloc", "add", "pbs", "-t", "1h", "-b", "2", "--cpus", "2", "--name", "cliq"],
      ...["--no-dry-run", "--", "-q", "workq"],
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, "");
    assert.doesNotMatch(added.stderr, /trial allocation/);
    assert.match(added.stderr, /INFO Allocation queue 1 successfully created\n$/);

    assert.equal(
      await server.hqOk(["alloc", "list"]),
      [
        "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+----------+",
        "| ID | State  | Backlog size | Max workers per alloc | Max worker count | Timelimit | Manager | Worker resources | Name | Args     |",
        "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+----------+",
        "|  1 | ACTIVE | 2            | 1                     | 0                | 1h        | PBS     | <unknown>        | cliq | -q,workq |",
        "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+----------+",
        "",
      ].join("\n"),
    );
    const listJson = await server.hqOk(["alloc", "list", "--output-mode", "json"]);
    assert.match(listJson, /"timelimit": 3600\.0/);
    assert.deepEqual(JSON.parse(listJson), [{
      additional_args: ["-q", "workq"],
      backlog: 2,
      id: 1,
      known_worker_resources: null,
      manager: "PBS",
      max_worker_count: null,
      max_workers_per_alloc: 1,
      name: "cliq",
      state: "Active",
      timelimit: 3600,
      worker_args: [
        "--cpus",
        '"2"',
        "--on-server-lost",
        '"finish-running"',
        "--time-limit",
        '"1h"',
      ],
    }]);
    assert.equal(await server.hqOk(["alloc", "list", "--output-mode", "quiet"]), "");

    await submitJob(server, ["--cpus", "2", "--", "true"], { cwd: work.path });
    const [allocation] = await waitUntil(async () => {
      const all = JSON.parse(await server.hqOk(["alloc", "info", "1", "--output-mode", "json"]));
      return all.length > 0 && all;
    }, { what: "an allocation of queue 1" });
    assert.equal(allocation.status, "queued");
    assert.equal(allocation.started_at, null);
    assert.match(allocation.queued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);

    const info = await server.hqOk(["alloc", "info", "1"]);
    assert.match(
      info,
      /^\+-+.*\n\| ID +\| State +\| Working directory +\| Worker count +\| Queue time +\| Start time +\| Finish time +\|\n/,
    );
    const [row] = tableRows(info);
    assert.deepEqual(row.slice(0, 4), [allocation.id, "QUEUED", allocation.workdir, "1"]);
    assert.match(row[4], LOCAL_TIME);
    assert.deepEqual(row.slice(5), ["", ""]);
    assert.deepEqual(
      tableRows(await server.hqOk(["alloc", "info", "1", "--filter", "running"])),
      [],
    );
    assert.equal(
      tableRows(await server.hqOk(["alloc", "info", "1", "--filter", "queued"])).length,
      1,
    );
    assert.equal(await server.hqOk(["alloc", "info", "1", "--output-mode", "quiet"]), "");

    const paused = await server.hq(["alloc", "pause", "1"]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stderr, /INFO Allocation queue 1 successfully paused\n$/);
    assert.equal(tableRows(await server.hqOk(["alloc", "list"]))[0][1], "PAUSED");
    // Why nothing is submitted goes to stderr; stdout is the table alone.
    const pausedInfo = await server.hq(["alloc", "info", "1"]);
    assert.match(pausedInfo.stderr, /Not submitting: /);
    assert.equal(pausedInfo.stdout, info);

    const resumed = await server.hq(["alloc", "resume", "1"]);
    assert.match(resumed.stderr, /INFO Allocation queue 1 successfully resumed\n$/);
    assert.equal(tableRows(await server.hqOk(["alloc", "list"]))[0][1], "ACTIVE");

    // Queued allocations do not hold a queue back (§2.1).
    const removed = await server.hq(["alloc", "remove", "1"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /INFO Allocation queue 1 successfully removed\n$/);
    const emptyList = await server.hqOk(["alloc", "list"]);
    assert.equal(emptyList.split("\n").length, 4, "the header only, no bottom border");
    assert.deepEqual(JSON.parse(await server.hqOk(["alloc", "list", "--output-mode", "json"])), []);
    // Errors in JSON mode are a JSON object on stdout.
    const pauseJson = await server.hq(["alloc", "pause", "1", "--output-mode", "json"]);
    assert.equal(pauseJson.code, 1);
    assert.deepEqual(JSON.parse(pauseJson.stdout), {
      error: "Queue 1 that should have been paused was not found",
    });
    // A JSON-mode command that printed nothing prints `{}`; queue ids are never reused.
    const addJson = await server.hq([
      ...["alloc", "add", "pbs", "-t", "1h", "--cpus", "1", "--no-dry-run"],
      ...["--output-mode", "json"],
    ]);
    assert.equal(addJson.code, 0, addJson.stderr);
    assert.deepEqual(JSON.parse(addJson.stdout), {});
    assert.match(addJson.stderr, /Allocation queue 2 successfully created/);
  } finally {
    await qdelAll(env);
  }
});
