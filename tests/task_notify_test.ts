/**
 * End-to-end tests of task notifications (jobs spec §2.1 `--on-notify`, §4 `HQ`/`HQ_ACCESS_KEY`,
 * §8.4 `hq task notify`): a running task's message reaches the submitting client's command.
 */
import assert from "node:assert/strict";
import { hq, hqAt, submitJob, taskObjects, tempDir, TestServer } from "./harness.ts";

Deno.test("hq task notify inside a task runs --on-notify once per message, with the ids in its env", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const notes = `${cwd.path}/notes`;
  await Deno.writeTextFile(
    `${cwd.path}/on-notify.sh`,
    `#!/bin/sh\necho "$HQ_JOB_ID $HQ_TASK_ID $HQ_WORKER_ID [$1] $2" >> '${notes}'\n`,
    { mode: 0o755 },
  );
  const task = [
    "bash",
    "-c",
    // $HQ is an absolute executable; the key names the worker's socket and a token.
    `case "$HQ" in /*) [ -x "$HQ" ] || exit 5;; *) exit 4;; esac; ` +
    `case "$HQ_ACCESS_KEY" in /*:*) ;; *) exit 6;; esac; ` +
    `"$HQ" task notify "hello from $HQ_TASK_ID"`,
  ];
  const submitted = await hqAt(server, [
    "submit",
    "--array",
    "1-3",
    "--wait",
    "--on-notify",
    `${cwd.path}/on-notify.sh "first word"`,
    "--",
    ...task,
  ], { cwd: cwd.path });
  assert.equal(submitted.code, 0, submitted.stderr);
  const tasks = await taskObjects(server, 1);
  assert.deepEqual(tasks.map((t) => t.state), ["finished", "finished", "finished"]);
  const lines = (await Deno.readTextFile(notes)).trim().split("\n").sort();
  assert.deepEqual(lines, [
    "1 1 1 [first word] hello from 1",
    "1 2 1 [first word] hello from 2",
    "1 3 1 [first word] hello from 3",
  ]);

  // Without a waiting client the message goes nowhere, and the task still succeeds.
  const quiet = await submitJob(server, ["--wait", "--", ...task], { cwd: cwd.path });
  assert.deepEqual((await taskObjects(server, quiet)).map((t) => t.state), ["finished"]);

  // A message over 1024 bytes is refused inside the task.
  const long = await submitJob(server, [
    "--wait",
    "--stderr",
    `${cwd.path}/long.stderr`,
    "--",
    "bash",
    "-c",
    `"$HQ" task notify "$(head -c 1025 /dev/zero | tr '\\0' a)"`,
  ], { cwd: cwd.path });
  assert.equal((await taskObjects(server, long))[0].state, "failed");
  assert.match(
    await Deno.readTextFile(`${cwd.path}/long.stderr`),
    /Notify message limit exceeded, message len: 1025, limit: 1024/,
  );
});

Deno.test("hq task notify outside a task is one clear error; --on-notify without --wait is ignored", async () => {
  const outside = await hq(["task", "notify", "x"]);
  assert.equal(outside.code, 1);
  assert.equal(
    outside.stderr,
    "HQ_ACCESS_KEY variable not found. Are you running this command inside a task?\n",
  );
  await using server = await TestServer.start();
  const noWait = await hqAt(server, ["submit", "--on-notify", "echo", "--", "true"]);
  assert.equal(noWait.code, 0, noWait.stderr);
  assert.equal(noWait.stderr, "");
});

Deno.test("a task cannot send hq task notify as another task of its worker", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const dir = cwd.path;
  const notes = `${dir}/notes`;
  await Deno.writeTextFile(
    `${dir}/on-notify.sh`,
    `#!/bin/sh\necho "$HQ_TASK_ID $1" >> '${notes}'\n`,
    { mode: 0o755 },
  );
  // Task 1 waits for task 2 to run, then forges task 2's key from its own (same socket, same
  // instance, its own secret) and sends a message as task 2; task 2 waits until that is done.
  const script = `
    wait_for() { for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
    if [ "$HQ_TASK_ID" = 2 ]; then touch '${dir}/two-runs'; wait_for '${dir}/one-done'; exit 0; fi
    wait_for '${dir}/two-runs' || exit 7
    forged="\${HQ_ACCESS_KEY%:*}:$HQ_JOB_ID.2.$HQ_INSTANCE_ID.\${HQ_ACCESS_KEY##*.}"
    HQ_ACCESS_KEY="$forged" "$HQ" task notify spoofed 2> '${dir}/forged.stderr'
    echo $? > '${dir}/forged.code'
    "$HQ" task notify genuine
    touch '${dir}/one-done'
  `;
  const submitted = await hqAt(server, [
    "submit",
    "--array",
    "1-2",
    "--wait",
    "--on-notify",
    `${dir}/on-notify.sh`,
    "--",
    "bash",
    "-c",
    script,
  ], { cwd: dir });
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.deepEqual((await taskObjects(server, 1)).map((t) => t.state), ["finished", "finished"]);
  assert.equal((await Deno.readTextFile(`${dir}/forged.code`)).trim(), "1");
  assert.match(
    await Deno.readTextFile(`${dir}/forged.stderr`),
    /The task is not running on this worker/,
  );
  assert.deepEqual((await Deno.readTextFile(notes)).trim().split("\n"), ["1 genuine"]);
});
