/**
 * End-to-end tests of jobs that go wrong (jobs spec §5.2–§5.5, §6.3, §6.4, §7.4, §12): failing
 * tasks and their error texts, `--max-fails`, `--time-limit`, `job cancel` with the tasks'
 * children, a worker killed mid-array (requeue, instance ids, crash limit), and bad input.
 */
import assert from "node:assert/strict";
import {
  hqAt,
  hqCommand,
  hqOkAt,
  processesWith,
  submitJob,
  type TaskJson,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

/**
 * A server with `--cpus 2` workers (ids 1…count) that have registered. Disposing stops the
 * workers first (SIGTERM: they stop their tasks), then the server.
 */
async function cluster(
  count = 1,
): Promise<
  AsyncDisposable & { server: TestServer; workers: ReturnType<TestServer["startWorker"]>[] }
> {
  const stack = new AsyncDisposableStack();
  try {
    const server = stack.use(await TestServer.start());
    const workers = [];
    for (let id = 1; id <= count; id++) {
      workers.push(stack.use(server.startWorker(["--cpus", "2"])));
      // One at a time, so that worker ids follow the start order.
      await server.waitForWorkerState(id, "RUNNING");
    }
    const owned = stack.move();
    return { server, workers, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** Cells of every `| … |` line of a cli table, continuation lines included. */
function tableRows(stdout: string): string[][] {
  return stdout.split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

/** The ids in `tasks` whose state is `state`. */
function idsIn(tasks: TaskJson[], state: string): number[] {
  return tasks.filter((task) => task.state === state).map((task) => task.id);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A fresh `KEY=VALUE` to put in a job's `--env`, to find its processes in /proc. */
function newMarker(): string {
  return `HQ_JOBS_FAILURES_TEST=${crypto.randomUUID()}`;
}

// --- Failing tasks ---

Deno.test("a failed task's error is recorded with the spec's text: exit code, signal, error file, missing program", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const submit = (args: string[]) => submitJob(server, ["--wait", ...args], { cwd: cwd.path });
  const exit3 = await submit(["bash", "-c", "exit 3"]);
  const killed = await submit(["bash", "-c", "kill -9 $$"]);
  const errorFile = await submit([
    "--task-dir",
    "bash",
    "-c",
    "echo boom > $HQ_ERROR_FILENAME; exit 1",
  ]);
  const emptyErrorFile = await submit([
    "--task-dir",
    "bash",
    "-c",
    ": > $HQ_ERROR_FILENAME; exit 1",
  ]);
  const ignoredErrorFile = await submit([
    "--task-dir",
    "bash",
    "-c",
    "echo boom > $HQ_ERROR_FILENAME",
  ]);
  const program = `hq-no-such-program-${crypto.randomUUID().slice(0, 8)}`;
  const missing = await submit([program, "arg"]);
  const missingPath = await submit(["/nonexistent/hq-program"]);

  const errors = new Map<number, string | undefined>();
  for (
    const id of [exit3, killed, errorFile, emptyErrorFile, ignoredErrorFile, missing, missingPath]
  ) {
    const [task] = await taskObjects(server, id);
    errors.set(id, task.error);
    if (id === ignoredErrorFile) assert.equal(task.state, "finished", "exit 0 ignores the file");
    else assert.equal(task.state, "failed", `job ${id}: ${JSON.stringify(task)}`);
  }
  assert.equal(errors.get(exit3), "Program terminated with exit code 3.");
  assert.equal(
    errors.get(killed),
    "Program terminated with exit code -1. Received signal 9 (SIGKILL).",
  );
  assert.equal(errors.get(errorFile), "boom\n");
  assert.equal(errors.get(emptyErrorFile), "Task created an error file, but it is empty");
  assert.equal(errors.get(ignoredErrorFile), undefined);
  assert.equal(
    errors.get(missing)!.split("\n")[0],
    `Cannot execute "${program} arg": No such file or directory (os error 2)`,
  );
  assert.equal(
    errors.get(missingPath)!.split("\n")[0],
    'Cannot execute "/nonexistent/hq-program": No such file or directory (os error 2)',
  );

  const list = await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]);
  assert.equal(
    list,
    [exit3, killed, errorFile, emptyErrorFile, ignoredErrorFile, missing, missingPath]
      .map((id) => `${id} ${id === ignoredErrorFile ? "FINISHED" : "FAILED"}\n`).join(""),
  );
  const cliList = tableRows(await hqOkAt(server, ["job", "list", "--all"]));
  assert.deepEqual(cliList[0], ["ID", "Name", "State", "Tasks"]);
  assert.deepEqual(cliList[1], [String(exit3), "bash", "FAILED", "1"]);

  const verbose = tableRows(await hqOkAt(server, ["task", "list", String(exit3), "-v"]));
  assert.deepEqual(verbose[0], ["Task ID", "State", "Worker", "Makespan", "Error"]);
  assert.deepEqual(
    [verbose[1][0], verbose[1][1], verbose[1][4]],
    ["0", "FAILED", "Program terminated with exit code 3."],
  );
  const short = await hqAt(server, ["task", "list", String(exit3)]);
  assert.equal(tableRows(short.stdout)[1][4], "Program terminat...");
  assert.match(short.stderr, /An error message was truncated\. Use -v to display the full error\./);
});

Deno.test("--max-fails 2 on an array where every task fails: 3 FAILED, the rest ABORTED, job FAILED", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const id = await submitJob(
    server,
    ["--array", "1-20", "--max-fails", "2", "--wait", "bash", "-c", "exit 1"],
    { cwd: cwd.path },
  );
  const [job] = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "job", "info", String(id)]),
  );
  assert.equal(job.max_fails, 2);
  assert.deepEqual(job.info.task_stats, {
    aborted: 17,
    canceled: 0,
    failed: 3,
    finished: 0,
    running: 0,
    waiting: 0,
  });
  for (const task of job.tasks.filter((task: TaskJson) => task.state === "aborted")) {
    assert.deepEqual(Object.keys(task), ["id", "state"], "aborted tasks carry no times (§9.3)");
  }
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    `${id} FAILED\n`,
  );
});

Deno.test("--time-limit 1s stops `sleep 100` after about a second: FAILED with `Time limit reached`, no sleep left", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const marker = newMarker();
  const id = await submitJob(
    server,
    ["--time-limit", "1s", "--env", marker, "--wait", "sleep", "100"],
    { cwd: cwd.path },
  );
  const [task] = await taskObjects(server, id);
  assert.equal(task.state, "failed");
  assert.equal(task.error, "Time limit reached");
  const ranMs = Date.parse(task.finished_at!) - Date.parse(task.started_at!);
  assert.ok(ranMs >= 900 && ranMs < 5_000, `the task ran ${ranMs} ms`);
  await waitUntil(() => processesWith(["sleep", "100"], marker).length === 0, {
    what: "the sleep to end",
  });
});

// --- Cancel ---

Deno.test("job cancel stops a running array and the tasks' `sleep 1000` children; its messages", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const marker = newMarker();
  // Tasks 1 and 2 finish at once; 3 and 4 then run, each with a background and a foreground
  // sleep (bash leaves SIGINT ignored in the background one, so only SIGKILL ends it).
  const id = await submitJob(server, [
    "--array",
    "1-6",
    "--env",
    marker,
    "bash",
    "-c",
    "if [ $HQ_TASK_ID -gt 2 ]; then sleep 1000 & sleep 1000; fi",
  ], { cwd: cwd.path });
  try {
    await waitUntil(
      () => processesWith(["sleep", "1000"], marker).length === 4,
      { what: "two tasks with two sleeps each" },
    );
    await waitUntil(async () => {
      const tasks = await taskObjects(server, id);
      return idsIn(tasks, "running").join() === "3,4" && idsIn(tasks, "finished").join() === "1,2";
    }, { what: "tasks 3 and 4 to be RUNNING" });

    const cancel = await hqAt(server, ["job", "cancel", String(id)]);
    assert.equal(cancel.code, 0);
    assert.equal(cancel.stdout, "");
    assert.match(
      cancel.stderr,
      new RegExp(`INFO Job ${id} canceled \\(4 tasks canceled, 2 tasks already finished\\)\n`),
    );
    const tasks = await taskObjects(server, id);
    assert.deepEqual(idsIn(tasks, "canceled"), [3, 4, 5, 6]);
    assert.deepEqual(idsIn(tasks, "finished"), [1, 2]);
    await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 0, {
      timeoutMs: 10_000,
      what: "every `sleep 1000` to end",
    });
    assert.equal(
      await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
      `${id} CANCELED\n`,
    );

    const again = await hqAt(server, ["job", "cancel", String(id)]);
    assert.equal(again.code, 0);
    assert.match(
      again.stderr,
      new RegExp(`ERROR Canceling job ${id} failed; all tasks are already finished\n`),
    );
    const all = await hqAt(server, ["job", "cancel", "all"]);
    assert.equal(all.code, 0);
    assert.match(all.stderr, /INFO There is nothing to cancel\n/);
    const unknown = await hqAt(server, ["job", "cancel", "99"]);
    assert.equal(unknown.code, 0);
    assert.match(unknown.stderr, /ERROR Canceling job 99 failed; job not found\n/);
  } finally {
    await hqAt(server, ["job", "cancel", String(id)]);
  }
});

// --- A worker killed mid-array ---

/**
 * Submits `count` tasks that append `<task>:<instance>` to `shared` and sleep 0.2 s onto two
 * workers, freezes worker 2 while it runs tasks, and SIGKILLs it. Returns the job id and the
 * tasks the server had RUNNING on worker 2 when it died (the view is frozen with the worker).
 */
async function killWorkerMidArray(
  server: TestServer,
  victim: ReturnType<TestServer["startWorker"]>,
  options: { cwd: string; shared: string; count: number; extraArgs?: string[] },
): Promise<{ id: number; runningOnVictim: number[] }> {
  const id = await submitJob(server, [
    "--array",
    `1-${options.count}`,
    "--stdout",
    "none",
    "--stderr",
    "none",
    ...(options.extraArgs ?? []),
    "bash",
    "-c",
    `echo $HQ_TASK_ID:$HQ_INSTANCE_ID >> '${options.shared}'; sleep 0.2`,
  ], { cwd: options.cwd });
  let runningOnVictim: number[] = [];
  await waitUntil(async () => {
    const tasks = await taskObjects(server, id);
    if (!tasks.some((task) => task.state === "running" && task.worker === 2)) return false;
    if (idsIn(tasks, "finished").length < 10) return false;
    // Stopped, the worker reports nothing more: the server's view below is the one it dies with.
    victim.kill("SIGSTOP");
    runningOnVictim = (await taskObjects(server, id))
      .filter((task) => task.state === "running" && task.worker === 2)
      .map((task) => task.id);
    if (runningOnVictim.length > 0) return true;
    victim.kill("SIGCONT"); // Caught between two tasks: try again.
    return false;
  }, { what: "worker 2 to run tasks" });
  victim.kill("SIGKILL");
  await server.waitForWorkerState(2, "CONNECTION LOST");
  return { id, runningOnVictim };
}

Deno.test("tasks of a SIGKILLed worker run again on the other worker with instance id 1 and the array completes", async () => {
  await using cwd = await tempDir();
  await using c = await cluster(2);
  const { server, workers } = c;
  const shared = `${cwd.path}/shared.txt`;
  const { id, runningOnVictim } = await killWorkerMidArray(server, workers[1], {
    cwd: cwd.path,
    shared,
    count: 200,
  });
  await waitForJob(server, id, 60_000);

  const tasks = await taskObjects(server, id);
  assert.deepEqual(idsIn(tasks, "finished"), range(1, 200));
  const lines = (await Deno.readTextFile(shared)).trimEnd().split("\n");
  const instancesByTask = new Map<number, string[]>();
  for (const line of lines) {
    const [task, instance] = line.split(":");
    assert.match(instance, /^[01]$/, `line "${line}"`);
    instancesByTask.set(Number(task), [...instancesByTask.get(Number(task)) ?? [], instance]);
  }
  assert.deepEqual([...instancesByTask.keys()].sort((a, b) => a - b), range(1, 200));
  const rerun = [...instancesByTask].filter(([, instances]) => instances.includes("1"));
  for (const task of runningOnVictim) {
    assert.ok(
      instancesByTask.get(task)!.includes("1"),
      `task ${task} was running on the killed worker but did not run as instance 1: ${lines}`,
    );
  }
  for (const [task, instances] of instancesByTask) {
    // Twice only when the first run started on the killed worker: once as 0, once as 1.
    if (instances.length > 1) assert.deepEqual(instances.sort(), ["0", "1"], `task ${task}`);
  }
  const workerOf = new Map(tasks.map((task) => [task.id, task.worker]));
  for (const [task] of rerun) assert.equal(workerOf.get(task), 1, `task ${task} reran on worker 1`);
});

Deno.test("with --crash-limit 1 the tasks running on a SIGKILLed worker FAIL with the spec's text; the rest finish", async () => {
  await using cwd = await tempDir();
  await using c = await cluster(2);
  const { server, workers } = c;
  const { id, runningOnVictim } = await killWorkerMidArray(server, workers[1], {
    cwd: cwd.path,
    shared: `${cwd.path}/shared.txt`,
    count: 100,
    extraArgs: ["--crash-limit", "1"],
  });
  await waitForJob(server, id, 60_000);

  const tasks = await taskObjects(server, id);
  assert.deepEqual(idsIn(tasks, "failed"), runningOnVictim);
  assert.deepEqual(
    idsIn(tasks, "finished"),
    range(1, 100).filter((task) => !runningOnVictim.includes(task)),
  );
  for (const task of tasks.filter((task) => task.state === "failed")) {
    assert.equal(
      task.error,
      "Task was running on a worker that was lost; the task has occurred 1 times in this " +
        "situation and limit was reached.",
    );
    // (quirk) The failure is recorded after the task went back to waiting.
    assert.equal(task.worker, undefined, JSON.stringify(task));
    assert.equal(task.started_at, undefined, JSON.stringify(task));
  }
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    `${id} FAILED\n`,
  );
});

// Spec §5.1: on Linux a task gets SIGTERM when its worker dies (HyperQueue's parent-death
// signal; ours is worker/orphan_guard.ts, which signals the whole group).
Deno.test({
  name: "the tasks of a SIGKILLed worker end with it",
  async fn() {
    await using cwd = await tempDir();
    await using c = await cluster();
    const { server, workers } = c;
    const marker = newMarker();
    const id = await submitJob(server, ["--array", "1-2", "--env", marker, "sleep", "1000"], {
      cwd: cwd.path,
    });
    try {
      await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 2, {
        what: "two tasks to run",
      });
      // The worker tells its watcher of new tasks in batches (every 20 ms): once the server has
      // heard of both starts, the batch is out, even on a loaded machine.
      await waitUntil(
        async () => (await taskObjects(server, id)).every((task) => task.state === "running"),
        {
          what: "the server to see both tasks running",
        },
      );
      workers[0].kill("SIGKILL");
      await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 0, {
        timeoutMs: 5_000,
        what: "the tasks to end with their worker",
      });
    } finally {
      for (const pid of processesWith(["sleep", "1000"], marker)) Deno.kill(pid, "SIGKILL");
    }
  },
});

// A batch system or a terminal often kills the whole process group: the watcher must not be in it.
Deno.test("the tasks of a worker killed with SIGKILL together with its process group end with it", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  // In a session (and so a process group) of its own, which the test can kill whole.
  const worker = new Deno.Command("setsid", {
    args: hqCommand(["worker", "start", "--server-dir", server.dir, "--cpus", "2"]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const marker = newMarker();
  try {
    await server.waitForWorkerState(1, "RUNNING");
    const id = await submitJob(server, ["--array", "1-2", "--env", marker, "sleep", "1000"], {
      cwd: cwd.path,
    });
    await waitUntil(
      async () => (await taskObjects(server, id)).every((task) => task.state === "running"),
      { what: "the server to see both tasks running" },
    );
    await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 2, {
      what: "two tasks to run",
    });
    // The watcher hears of new tasks in batches (every 20 ms).
    await new Promise((resolve) => setTimeout(resolve, 100));
    Deno.kill(-worker.pid, "SIGKILL");
    await worker.status;
    await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 0, {
      timeoutMs: 5_000,
      what: "the tasks to end with their worker",
    });
  } finally {
    try {
      Deno.kill(-worker.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await worker.status;
    for (const pid of processesWith(["sleep", "1000"], marker)) Deno.kill(pid, "SIGKILL");
  }
});

// --- Bad input ---

Deno.test("bad input is refused with the spec's exit codes and texts, and the server still answers", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const serverAnswers = async () => {
    const info = await hqAt(server, ["server", "info"]);
    assert.equal(info.code, 0, info.stderr);
  };
  const run = (args: string[]) => hqAt(server, args, { cwd: cwd.path });

  const unknown = await run(["job", "info", "99"]);
  assert.equal(unknown.code, 0);
  assert.equal(unknown.stdout, "");
  assert.match(unknown.stderr, /ERROR Job 99 not found\n/);
  await serverAnswers();

  for (const array of ["1-x", "5-1", ""]) {
    const malformed = await run(["submit", "--array", array, "true"]);
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.equal(malformed.stdout, "");
    assert.equal(
      malformed.stderr.split("\n").filter((line) => line.startsWith("error:")).length,
      1,
      malformed.stderr,
    );
    assert.match(malformed.stderr, /^error: .*'--array <ARRAY>'/);
    await serverAnswers();
  }

  await Deno.writeTextFile(`${cwd.path}/invalid.json`, "[1, ");
  const invalid = await run(["submit", "--from-json", "invalid.json", "true"]);
  assert.equal(invalid.code, 1);
  assert.equal(invalid.stdout, "");
  assert.match(invalid.stderr, /invalid\.json/);
  await serverAnswers();

  await Deno.writeTextFile(`${cwd.path}/object.json`, '{"a": [1, 2]}');
  const object = await run(["submit", "--from-json", "object.json", "true"]);
  assert.equal(object.code, 1);
  assert.equal(object.stdout, "");
  assert.match(
    object.stderr,
    /object\.json: The top element of the provided JSON file has to be an array\n/,
  );
  await serverAnswers();

  const unreadable = await run(["submit", "--each-line", "missing.txt", "true"]);
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /missing\.txt/);
  await serverAnswers();

  const zero = await run(["submit", "--crash-limit", "0", "true"]);
  assert.equal(zero.code, 2);
  assert.equal(zero.stdout, "");
  assert.match(
    zero.stderr,
    /^error: .*Crash limit cannot be 0\. Use `never-restart` or `unlimited` instead\.\n/,
  );
  await serverAnswers();

  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    "",
    "no job was created",
  );
  const program = `hq-no-such-program-${crypto.randomUUID().slice(0, 8)}`;
  const id = await submitJob(server, ["--wait", program], { cwd: cwd.path });
  const [task] = await taskObjects(server, id);
  assert.equal(task.state, "failed");
  assert.match(task.error!, new RegExp(`^Cannot execute "${program}": No such file or directory`));
  await serverAnswers();
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    `${id} FAILED\n`,
  );
});
