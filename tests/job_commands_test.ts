import assert from "node:assert/strict";
import { hqAt, hqOkAt, submitJob, tempDir, TestServer, waitForJob } from "./harness.ts";

/** A server, one worker and a finished 5-task job whose task 3 failed. */
async function finishedJob() {
  const work = await tempDir();
  const server = await TestServer.start();
  const worker = server.startWorker(["--cpus", "2"]);
  const id = await submitJob(server, [
    "--array",
    "1-5",
    "--",
    "bash",
    "-c",
    'echo out $HQ_TASK_ID; echo err $HQ_TASK_ID >&2; [ "$HQ_TASK_ID" != 3 ]',
  ], { cwd: work.path });
  await waitForJob(server, id);
  return {
    id,
    server,
    async [Symbol.asyncDispose]() {
      await worker.stop("SIGTERM");
      await server[Symbol.asyncDispose]();
      await work[Symbol.asyncDispose]();
    },
  };
}

Deno.test("job summary counts jobs by state in every output mode", async () => {
  await using env = await finishedJob();
  const table = await hqOkAt(env.server, ["job", "summary"]);
  assert.match(table, /\| FAILED +\| +1 \|/);
  assert.match(table, /\| RUNNING +\| +0 \|/);
  const json = JSON.parse(await hqOkAt(env.server, ["job", "summary", "--output-mode", "json"]));
  assert.deepEqual(json, {
    Aborted: 0,
    Canceled: 0,
    Failed: 1,
    Finished: 0,
    Running: 0,
    Waiting: 0,
  });
  assert.equal(
    await hqOkAt(env.server, ["job", "summary", "--output-mode", "quiet"]),
    "RUNNING 0\nWAITING 0\nFINISHED 0\nFAILED 1\nABORTED 0\nCANCELED 0\n",
  );
});

Deno.test("job task-ids prints compact ranges, filtered by state", async () => {
  await using env = await finishedJob();
  assert.equal(await hqOkAt(env.server, ["job", "task-ids", String(env.id)]), "1-5\n");
  assert.equal(
    await hqOkAt(env.server, ["job", "task-ids", String(env.id), "--filter", "failed"]),
    "3\n",
  );
  const json = JSON.parse(
    await hqOkAt(env.server, ["job", "task-ids", String(env.id), "--output-mode", "json"]),
  );
  assert.deepEqual(json, { [String(env.id)]: [1, 2, 3, 4, 5] });
  const missing = await hqAt(env.server, ["job", "task-ids", "99"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Job Id not found/);
});

Deno.test("job cat copies task outputs raw, with optional headers and filters", async () => {
  await using env = await finishedJob();
  const id = String(env.id);
  assert.equal(
    await hqOkAt(env.server, ["job", "cat", id, "stdout"]),
    "out 1\nout 2\nout 3\nout 4\nout 5\n",
  );
  assert.equal(
    await hqOkAt(env.server, ["job", "cat", id, "--tasks", "2", "--print-task-header", "stderr"]),
    `# Job ${id}, task 2\nerr 2\n`,
  );
  assert.equal(
    await hqOkAt(env.server, ["job", "cat", id, "--task-status", "failed", "stdout"]),
    "out 3\n",
  );
  const json = await hqAt(env.server, ["--output-mode", "json", "job", "cat", id, "stdout"]);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout), {
    error: "JSON output mode doesn't support job output",
  });
});

Deno.test("task info shows a task's rows and its JSON object", async () => {
  await using env = await finishedJob();
  const table = await hqOkAt(env.server, ["task", "info", String(env.id), "3"]);
  const labels = table.split("\n").filter((line) => /^\| \S/.test(line)).map((line) =>
    line.split("|")[1].trim()
  );
  assert.deepEqual(labels, [
    "Task ID",
    "State",
    "Command",
    "Environment",
    "Worker",
    "Start",
    "End",
    "Makespan",
    "Workdir",
    "Stdout",
    "Stderr",
    "Time limit",
    "Resources",
    "Priority",
    "Pin",
    "Task dir",
    "Crash limit",
    "Dependencies",
    "Error",
  ]);
  assert.match(table, /Program terminated with exit code 1\./);
  const [task] = JSON.parse(
    await hqOkAt(env.server, ["task", "info", "last", "1", "--output-mode", "json"]),
  );
  assert.equal(task.state, "finished");
  assert.match(task.stdout, /job-\d+\/1\.stdout$/);
  const missing = await hqAt(env.server, ["task", "info", String(env.id), "42"]);
  assert.equal(missing.code, 0);
  assert.match(missing.stderr, /Task 42 not found/);
});

Deno.test("tasks submitted before any worker exists run once a worker registers", async () => {
  await using work = await tempDir();
  await using server = await TestServer.start();
  const id = await submitJob(server, ["--array", "1-4", "--", "true"], { cwd: work.path });
  await using _worker = server.startWorker(["--cpus", "2"]);
  await waitForJob(server, id);
  const [job] = JSON.parse(
    await hqOkAt(server, ["job", "info", String(id), "--output-mode", "json"]),
  );
  assert.equal(job.info.task_stats.finished, 4);
});

Deno.test("job progress prints plain progress lines when stdout is not a terminal", async () => {
  await using env = await finishedJob();
  const done = await hqAt(env.server, ["job", "progress", String(env.id)]);
  assert.equal(done.code, 0);
  assert.match(done.stderr, /WARN There are no jobs to wait for/);

  await using work = await tempDir();
  const result = await hqAt(env.server, [
    "submit",
    "--array",
    "1-4",
    "--progress",
    "--",
    "bash",
    "-c",
    "sleep 0.2",
  ], { cwd: work.path });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^Job submitted successfully, job ID: \d+$/);
  assert.match(
    lines[lines.length - 1],
    /^\[#{40}\] 1\/1 jobs, 4\/4 tasks 4 FINISHED$/,
  );
  assert.match(result.stderr, /INFO Waiting for 1 job with 4 tasks/);
});
