/**
 * Fault injection: the server is SIGKILLed in the middle of a 5,000-task array with a journal
 * (journal spec §1.3, §1.4). After a restart on the same journal and a new worker, the array
 * completes; tasks whose completion was on disk do not run again, the others may.
 */
import assert from "node:assert/strict";
import { processesWith, tempDir, waitUntil } from "../harness.ts";
import { FaultServer, type JobListJson, journalRecords, taskList } from "./_fault_harness.ts";

const TASKS = 5_000;

/** Lines of `path`, without the empty one after the last newline; none when it is missing. */
async function linesOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

Deno.test("a 5,000-task array survives a SIGKILLed server: journaled completions do not rerun, every task finishes", async () => {
  await using work = await tempDir("hq-fault-crash-");
  const serverDir = `${work.path}/server`;
  const logDir = `${work.path}/logs`;
  await Deno.mkdir(logDir);
  const journalPath = `${work.path}/journal.bin`;
  const output = `${work.path}/out.txt`;
  const marker = `HQ_FAULT_CRASH_TEST=${crypto.randomUUID()}`;
  // Every 200th task lingers a second after writing its line, so that some tasks are surely
  // running (journaled as started, not finished) when the server is killed.
  const script =
    `echo $HQ_TASK_ID:$HQ_INSTANCE_ID >> '${output}'; [ $((HQ_TASK_ID % 200)) -ne 0 ] || sleep 1`;
  // Only our explicit flush writes task events, so the journal on disk at the crash is exactly
  // the one read below.
  const serverOptions = {
    serverDir,
    logDir,
    journalPath,
    args: ["--journal-flush-period", "1h"],
  };

  await using cleanup = new AsyncDisposableStack();
  cleanup.defer(() => {
    for (const pid of processesWith(["bash", "-c", script], marker)) Deno.kill(pid, "SIGKILL");
  });

  const first = cleanup.use(await FaultServer.start(serverOptions));
  const firstWorker = cleanup.use(first.startWorker(["--cpus", "2"]));
  const submitted = await first.hqOk([
    "--output-mode",
    "quiet",
    "submit",
    "--array",
    `1-${TASKS}`,
    "--stdout",
    "none",
    "--stderr",
    "none",
    "--env",
    marker,
    "bash",
    "-c",
    script,
  ], { cwd: work.path });
  const jobId = Number(submitted.trim());
  assert.equal(jobId, 1);

  await waitUntil(async () => (await linesOf(output)).length >= 1_500, {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: "1,500 tasks to run",
  });
  const client = await first.connect();
  try {
    await client.request({ type: "journal-flush" });
  } finally {
    client.close();
  }
  const flushed = new Set<number>();
  const startedInstance = new Map<number, number>();
  for (const { event } of await journalRecords(journalPath)) {
    if (event.type === "task-finished" && event.jobId === jobId) flushed.add(event.taskId);
    if (event.type === "task-started" && event.jobId === jobId) {
      startedInstance.set(event.taskId, event.instanceId);
    }
  }
  // Journaled as started but not as finished: running at the crash, as far as the journal knows.
  const runningAtCrash = [...startedInstance.keys()].filter((id) => !flushed.has(id));
  await first.kill();
  await firstWorker.stop("SIGKILL");
  // The dead worker's tasks get SIGTERM from its orphan guard; none may write after the restart.
  await waitUntil(() => processesWith(["bash", "-c", script], marker).length === 0, {
    timeoutMs: 10_000,
    what: "the first worker's tasks to end",
  });
  assert.ok(
    flushed.size > 0 && flushed.size < TASKS,
    `the crash should come mid-array, but ${flushed.size} tasks were journaled as finished`,
  );

  const second = cleanup.use(await FaultServer.start(serverOptions));
  assert.match(second.process.stderr(), /Restored 1 job\(s\)/);
  const restored = await taskList(second, jobId);
  assert.equal(restored.length, TASKS);
  const restoredFinished = restored.filter((task) => task.state === "finished").map((t) => t.id);
  assert.deepEqual(
    restoredFinished,
    [...flushed].sort((a, b) => a - b),
    "exactly the journaled completions are restored as finished",
  );
  assert.ok(
    restored.every((task) => task.state === "finished" || task.state === "waiting"),
    "tasks running at the crash wait again",
  );

  cleanup.use(second.startWorker(["--cpus", "2"]));
  const wait = await second.hqWithin(["job", "wait", String(jobId)], 60_000);
  assert.equal(wait.code, 0, wait.stderr);

  const [job] = await second.hqJson<JobListJson[]>(["job", "list", "--all"]);
  assert.equal(job.id, jobId);
  assert.equal(job.task_stats.finished, TASKS, JSON.stringify(job));
  const tasks = await taskList(second, jobId);
  assert.equal(tasks.length, TASKS);
  const notFinished = tasks.filter((task) => task.state !== "finished");
  assert.deepEqual(notFinished, [], "every task ends FINISHED");

  const runs = new Map<number, number>();
  const instances = new Map<number, number[]>();
  for (const line of await linesOf(output)) {
    const [task, instance] = line.split(":").map(Number);
    runs.set(task, (runs.get(task) ?? 0) + 1);
    instances.set(task, [...instances.get(task) ?? [], instance]);
  }
  const missing = [];
  for (let id = 1; id <= TASKS; id++) if (!runs.has(id)) missing.push(id);
  assert.deepEqual(missing, [], "every task ran at least once");
  const rerunJournaled = [...flushed].filter((id) => runs.get(id) !== 1);
  assert.deepEqual(rerunJournaled, [], "a task journaled as finished runs exactly once");
  assert.equal(runs.size, TASKS, "no unknown task ids in the output");
  // Spec §1.4: a task running at the crash runs again as its last instance + 1.
  assert.ok(runningAtCrash.length > 0, "some tasks were journaled as running at the crash");
  const wrongInstance = runningAtCrash.filter((id) =>
    instances.get(id)!.filter((instance) => instance === startedInstance.get(id)! + 1).length !== 1
  );
  assert.deepEqual(
    wrongInstance.map((id) => `${id}: ${instances.get(id)}`),
    [],
    "tasks running at the crash rerun once as instance 1",
  );
});
