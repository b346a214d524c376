/**
 * Fault injection: a worker frozen with SIGSTOP while it runs tasks. The server loses its
 * heartbeat and reruns its tasks on the other worker; when the frozen worker is thawed, the
 * results of its stale instances must not reach the server.
 */
import assert from "node:assert/strict";
import {
  processesWith,
  submitJob,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "../harness.ts";
import { resumable } from "./_fault_harness.ts";

const TASKS = 20;

interface Line {
  task: number;
  instance: number;
  where: string;
  event: string;
}

async function linesOf(path: string): Promise<Line[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "").map((line) => {
    const [task, instance, where, event] = line.split(":");
    return { task: Number(task), instance: Number(instance), where, event };
  });
}

Deno.test("a SIGSTOPped worker is HEARTBEAT LOST, its tasks rerun elsewhere, and after SIGCONT its stale results are not counted", async () => {
  await using cwd = await tempDir("hq-fault-freeze-");
  const shared = `${cwd.path}/shared.txt`;
  const releaseStale = `${cwd.path}/release-stale`;
  const releaseRerun = `${cwd.path}/release-rerun`;
  const marker = `HQ_FAULT_FREEZE_TEST=${crypto.randomUUID()}`;
  // On the frozen worker (FAULT_FROZEN set) a task waits for `release-stale`, then ends with a
  // result the server must never see: exit 0 or 1 by task id. A rerun of a task that started
  // there waits for `release-rerun`, so that it is still running when the frozen worker wakes up.
  const script = [
    `echo "$HQ_TASK_ID:$HQ_INSTANCE_ID:\${FAULT_FROZEN:-live}:start" >> '${shared}'`,
    `if [ -n "$FAULT_FROZEN" ]; then`,
    `  while [ ! -e '${releaseStale}' ]; do sleep 0.05; done`,
    `  echo "$HQ_TASK_ID:$HQ_INSTANCE_ID:frozen:stale" >> '${shared}'`,
    `  exit $((HQ_TASK_ID % 2))`,
    `fi`,
    `if grep -q "^$HQ_TASK_ID:[0-9]*:1:start\$" '${shared}'; then`,
    `  while [ ! -e '${releaseRerun}' ]; do sleep 0.05; done`,
    `fi`,
    `sleep 0.1`,
    `echo "$HQ_TASK_ID:$HQ_INSTANCE_ID:live:done" >> '${shared}'`,
  ].join("\n");
  const argv = ["bash", "-c", script];

  await using server = await TestServer.start();
  await using cleanup = new AsyncDisposableStack();
  cleanup.defer(() => {
    for (const pid of processesWith(argv, marker)) Deno.kill(pid, "SIGKILL");
  });
  // Many CPUs on the live worker, so that every rerun can wait at once.
  cleanup.use(server.startWorker(["--cpus", "8", "--heartbeat", "1s"]));
  await server.waitForWorkerState(1, "RUNNING");
  const frozen = server.startWorker(["--cpus", "2", "--heartbeat", "1s"], {
    env: { FAULT_FROZEN: "1" },
  });
  cleanup.use(resumable(frozen));
  await server.waitForWorkerState(2, "RUNNING");

  const id = await submitJob(server, [
    "--array",
    `1-${TASKS}`,
    "--stdout",
    "none",
    "--stderr",
    "none",
    "--env",
    marker,
    ...argv,
  ], { cwd: cwd.path });

  // Worker 2's tasks never end on their own: wait until both of its CPUs run one.
  const onFrozen = await waitUntil(async () => {
    const running = (await taskObjects(server, id))
      .filter((task) => task.state === "running" && task.worker === 2);
    const started = (await linesOf(shared)).filter((line) => line.where === "1");
    return running.length === 2 && started.length === 2 && running.map((task) => task.id);
  }, { what: "worker 2 to run two tasks" });
  frozen.kill("SIGSTOP");
  await server.waitForWorkerState(2, "HEARTBEAT LOST", { timeoutMs: 10_000 });

  // Every rerun is running on worker 1 (and waits there).
  await waitUntil(async () => {
    const tasks = await taskObjects(server, id);
    return onFrozen.every((task) =>
      tasks.some((t) => t.id === task && t.state === "running" && t.worker === 1)
    );
  }, { what: `the tasks of worker 2 (${onFrozen}) to run again on worker 1` });

  // The stale instances end while their worker is frozen; it finds their exits when thawed.
  await Deno.writeTextFile(releaseStale, "");
  await waitUntil(async () => {
    const stale = (await linesOf(shared)).filter((line) => line.event === "stale");
    return stale.length === onFrozen.length;
  }, { what: "the stale instances to end" });
  frozen.kill("SIGCONT");
  await waitUntil(() => frozen.exited, { timeoutMs: 15_000, what: "the thawed worker to exit" });
  assert.equal((await frozen.status()).code, 1, frozen.stderr());

  // What the thawed worker could report has been sent: the reruns must be unaffected.
  const afterThaw = await taskObjects(server, id);
  for (const task of onFrozen) {
    const view = afterThaw.find((t) => t.id === task)!;
    assert.deepEqual(
      [view.state, view.worker, view.error],
      ["running", 1, undefined],
      `task ${task} after the thaw: ${JSON.stringify(view)}`,
    );
  }

  await Deno.writeTextFile(releaseRerun, "");
  await waitForJob(server, id, 30_000);
  const tasks = await taskObjects(server, id);
  assert.deepEqual(
    tasks.filter((task) => task.state !== "finished" || task.error !== undefined),
    [],
    "every task FINISHED without error",
  );
  assert.equal(tasks.length, TASKS);
  for (const task of onFrozen) {
    assert.equal(tasks.find((t) => t.id === task)!.worker, 1, `task ${task} finished on worker 1`);
  }
  assert.equal(
    (await server.hqOk(["--output-mode", "quiet", "job", "list", "--all"])).trim(),
    `${id} FINISHED`,
  );
  assert.equal((await server.workerStates()).get(2), "HEARTBEAT LOST");

  // Each task completed exactly once, by a rerun when it had started on the frozen worker.
  // (A task only queued there when it froze reran too, as instance 1 without a stale start.)
  const lines = await linesOf(shared);
  for (let task = 1; task <= TASKS; task++) {
    const done = lines.filter((line) => line.task === task && line.event === "done");
    assert.equal(done.length, 1, `task ${task} completed ${done.length} times`);
    const frozenStarts = lines.filter((line) => line.task === task && line.where === "1");
    if (frozenStarts.length > 0) {
      assert.deepEqual(frozenStarts.map((line) => line.instance), [0], `task ${task}`);
      assert.equal(done[0].instance, 1, `the rerun of task ${task} is instance 1`);
    } else {
      assert.ok(done[0].instance <= 1, `task ${task} ran as instance ${done[0].instance}`);
    }
  }
});
