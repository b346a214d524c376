/**
 * Issue 15, item 9: what a careless or hostile task must not be able to do to its worker or to
 * the other tasks of that worker.
 */
import assert from "node:assert/strict";
import { submitJob, taskObjects, tempDir, TestServer, waitForJob } from "./harness.ts";

/** A server with one registered `--cpus 2` worker. */
async function cluster(
  workerArgs: string[] = [],
): Promise<AsyncDisposable & { server: TestServer }> {
  const stack = new AsyncDisposableStack();
  try {
    const server = stack.use(await TestServer.start());
    stack.use(server.startWorker(["--cpus", "2", ...workerArgs]));
    await server.waitForWorkerState(1, "RUNNING");
    const owned = stack.move();
    return { server, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

Deno.test("a FIFO (or a link) named hq-error fails its task instead of hanging the worker", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const fifo = await submitJob(server, [
    "--task-dir",
    "bash",
    "-c",
    "mkfifo $HQ_ERROR_FILENAME; exit 1",
  ], { cwd: cwd.path });
  const link = await submitJob(server, [
    "--task-dir",
    "bash",
    "-c",
    "ln -s /etc/hostname $HQ_ERROR_FILENAME; exit 1",
  ], { cwd: cwd.path });
  await waitForJob(server, fifo, 20_000);
  await waitForJob(server, link, 20_000);
  for (const id of [fifo, link]) {
    const [task] = await taskObjects(server, id);
    assert.equal(task.state, "failed");
    assert.equal(task.error, "Task created an error file, but it is not a regular file");
  }
});
