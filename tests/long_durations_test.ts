/**
 * Durations past the 2^31-1 ms (~24.8 days) a runtime timer takes (issue 15, fault 4): a task or a
 * worker with `--time-limit 30days` runs as if it had none, instead of ending at once.
 */
import assert from "node:assert/strict";
import { submitJob, taskObjects, tempDir, TestServer, waitForJob, waitUntil } from "./harness.ts";

Deno.test("a task with --time-limit 30days runs to its end", async () => {
  await using cwd = await tempDir("hq-long-durations-");
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "1"]);
  const id = await submitJob(server, ["--time-limit", "30days", "--", "sleep", "1"], {
    cwd: cwd.path,
  });
  await waitForJob(server, id);
  const [task] = await taskObjects(server, id);
  assert.equal(task.state, "finished", task.error);
});

Deno.test("a worker with --time-limit 30days keeps running", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "1", "--time-limit", "30days"]);
  await waitUntil(async () => (await server.workerStates()).has(1), { what: "the worker" });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal((await server.workerStates()).get(1), "RUNNING", worker.stderr());
});
