/**
 * End-to-end tests of `hq task explain` (resources spec §7, jobs spec §8.3): where a waiting or
 * running task could run among the connected workers and why not elsewhere, in cli, JSON and
 * quiet output, and its errors.
 */
import assert from "node:assert/strict";
import { hqAt, hqOkAt, submitJob, tempDir, TestServer, waitUntil } from "./harness.ts";

Deno.test("task explain shows per worker what it provides against what the task requests", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _one = server.startWorker(["--cpus", "1", "--resource", "gpus=[0]"]);
  await server.waitForWorkerState(1, "RUNNING");
  await using _two = server.startWorker(["--cpus", "1", "--resource", "gpus=[0,1]"]);
  await server.waitForWorkerState(2, "RUNNING");
  const id = await submitJob(server, ["--resource", "gpus=2", "--", "sleep", "60"], {
    cwd: cwd.path,
  });

  const expected = [
    `Task ${id}@0 is ready to run because it has no dependencies.`,
    "The task can run on 1 worker: 2",
    "+-----------+----------+---------+------+----------+---------+",
    "| Worker Id | Runnable | Variant | Type | Provides | Request |",
    "+-----------+----------+---------+------+----------+---------+",
    "| 1         | No       | 0       | cpus | 1        | 1       |",
    "|           |          |         | gpus | 1        | 2       |",
    "| 2         | Yes      | 0       | cpus | 1        | 1       |",
    "|           |          |         | gpus | 2        | 2       |",
    "+-----------+----------+---------+------+----------+---------+",
    "",
  ].join("\n");
  assert.equal(await hqOkAt(server, ["task", "explain", String(id), "0"]), expected);
  assert.equal(await hqOkAt(server, ["task", "explain", "last", "0"]), expected);

  const json = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "task", "explain", String(id), "0"]),
  );
  const resources = (resource: string, request: number, provided: number) => ({
    Resources: { request_amount: request, resource, worker_amount: provided },
  });
  assert.deepEqual(json, {
    explanation: {
      n_task_deps: 0,
      n_waiting_deps: 0,
      workers: [
        {
          variants: [[resources("cpus", 10_000, 10_000), resources("gpus", 20_000, 10_000)]],
          worker_id: 1,
        },
        {
          variants: [[resources("cpus", 10_000, 10_000), resources("gpus", 20_000, 20_000)]],
          worker_id: 2,
        },
      ],
    },
    task_id: { job_id: id, job_task_id: 0 },
  });

  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "task", "explain", String(id), "0"]),
    "",
  );
  await hqOkAt(server, ["job", "cancel", String(id)]);
});

Deno.test("task explain checks a time request against the remaining time of each worker", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _short = server.startWorker(["--cpus", "1", "--time-limit", "1h"]);
  await server.waitForWorkerState(1, "RUNNING");
  await using _long = server.startWorker(["--cpus", "1", "--time-limit", "3h"]);
  await server.waitForWorkerState(2, "RUNNING");
  await using _unlimited = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(3, "RUNNING");
  const id = await submitJob(server, ["--time-request", "2h", "--", "sleep", "60"], {
    cwd: cwd.path,
  });

  const text = await hqOkAt(server, ["task", "explain", String(id), "0"]);
  const lines = text.split("\n");
  assert.equal(lines[1], "The task can run on 2 workers: 2-3");
  // The time row comes first in each worker's cells; remaining time counts down from the limit,
  // truncated as makespans are (whole seconds; whole minutes from an hour up).
  assert.match(lines[5], /^\| 1 +\| No +\| 0 +\| time \| 59m 5\ds +\| 2h +\|$/);
  assert.match(lines[6], /^\| +\| +\| +\| cpus \| 1 +\| 1 +\|$/);
  assert.match(lines[7], /^\| 2 +\| Yes +\| 0 +\| time \| 2h 59m +\| 2h +\|$/);
  assert.match(lines[9], /^\| 3 +\| Yes +\| 0 +\| time \| unknown +\| 2h +\|$/);

  const json = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "task", "explain", String(id), "0"]),
  );
  const times = json.explanation.workers.map((worker: { variants: unknown[][] }) =>
    (worker.variants[0][0] as { Time: unknown }).Time
  );
  const [short, long, unlimited] = times as Array<{
    min_time: { secs: number; nanos: number };
    remaining_time: { secs: number; nanos: number } | null;
  }>;
  for (const time of times) assert.deepEqual(time.min_time, { secs: 7200, nanos: 0 });
  assert.ok(short.remaining_time!.secs > 3500 && short.remaining_time!.secs < 3600);
  assert.ok(long.remaining_time!.secs > 10700 && long.remaining_time!.secs < 10800);
  assert.ok(Number.isInteger(short.remaining_time!.nanos));
  assert.ok(short.remaining_time!.nanos >= 0 && short.remaining_time!.nanos < 1e9);
  assert.equal(unlimited.remaining_time, null);
  assert.deepEqual(json.explanation.workers[0].variants[0][1], {
    Resources: { request_amount: 10_000, resource: "cpus", worker_amount: 10_000 },
  });
  await hqOkAt(server, ["job", "cancel", String(id)]);
});

Deno.test("task explain without workers says so; unknown jobs and tasks and finished tasks are errors", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();

  const fails = async (args: string[], message: string) => {
    const cli = await hqAt(server, ["task", "explain", ...args]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.equal(cli.stderr, `Error: ${message}\n`);
    assert.equal(cli.stdout, "");
    const json = await hqAt(server, ["--output-mode", "json", "task", "explain", ...args]);
    assert.equal(json.code, 1, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { error: `Error: ${message}` });
  };
  await fails(["last", "0"], "Job not found");

  const waiting = await submitJob(server, ["--", "true"], { cwd: cwd.path });
  assert.equal(
    await hqOkAt(server, ["task", "explain", String(waiting), "0"]),
    `Task ${waiting}@0 is ready to run because it has no dependencies.\n` +
      "There is no worker where the task can run.\n",
  );
  const json = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "task", "explain", "last", "0"]),
  );
  assert.deepEqual(json.explanation.workers, []);

  await fails([String(waiting + 1), "0"], "Job not found");
  await fails([String(waiting), "1"], "Task not found");

  await using _worker = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await hqOkAt(server, ["job", "wait", String(waiting)]);
  await waitUntil(async () =>
    (await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"])) ===
      `${waiting} FINISHED\n`
  );
  await fails(
    [String(waiting), "0"],
    "Explain command works only for tasks in WAITING or RUNNING state",
  );
});
