/**
 * Issue 15, item 9: what a careless or hostile task must not be able to do to its worker or to
 * the other tasks of that worker.
 */
import assert from "node:assert/strict";
import {
  cluster,
  hqCommand,
  submitJob,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
} from "./harness.ts";

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

Deno.test("tasks get the open-file limit the worker started with, not Deno's raised one", async () => {
  const own = Deno.readTextFileSync("/proc/self/limits").match(/Max open files\s+(\d+)\s+(\d+)/);
  if (own === null || Number(own[2]) <= 512) {
    console.log("skipped: the hard open-file limit is not above 512");
    return;
  }
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  // A shell lowers its soft limit and starts the worker (not by exec: the shell stays its parent).
  const [program, ...args] = hqCommand([
    "worker",
    "start",
    "--server-dir",
    server.dir,
    "--cpus",
    "4",
    "--work-dir",
    `${cwd.path}/work`,
  ]);
  const worker = new Deno.Command("bash", {
    args: ["-c", 'ulimit -Sn 512 && "$@"; exit $?', "bash", program, ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await server.waitForWorkerState(1, "RUNNING");
    const job = await submitJob(server, [
      "--array",
      "1-40",
      "--wait",
      "--stdout",
      `${cwd.path}/%{TASK_ID}.out`,
      "--",
      "bash",
      "-c",
      "ulimit -Sn; sh -c 'ulimit -Sn'",
    ], { cwd: cwd.path });
    assert.ok((await taskObjects(server, job)).every((task) => task.state === "finished"));
    for (let id = 1; id <= 40; id++) {
      assert.equal(await Deno.readTextFile(`${cwd.path}/${id}.out`), "512\n512\n", `task ${id}`);
    }
    // The worker itself keeps the raised limit.
    const hq = (await Deno.readTextFile(`/proc/${worker.pid}/task/${worker.pid}/children`)).trim();
    const limits = (await Deno.readTextFile(`/proc/${hq}/limits`)).match(/Max open files\s+(\d+)/);
    assert.equal(limits?.[1], own[2]);
  } finally {
    await server.hq(["worker", "stop", "all"]);
    await worker.status;
  }
});

Deno.test("output files in a shared directory do not follow a planted symlink; in the user's own they do", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const shared = `${cwd.path}/shared`;
  const own = `${cwd.path}/own`;
  await Deno.mkdir(shared);
  await Deno.chmod(shared, 0o777); // Anyone may create files here (no sticky bit).
  await Deno.mkdir(own, { mode: 0o700 });
  const victim = `${cwd.path}/victim`;
  await Deno.writeTextFile(victim, "precious\n");
  await Deno.symlink(victim, `${shared}/out`);
  await Deno.symlink(`${cwd.path}/mine`, `${own}/out`);
  const planted = await submitJob(server, [
    "--stdout",
    `${shared}/out`,
    "--stderr",
    `${shared}/err`,
    "--",
    "echo",
    "overwritten",
  ], { cwd: cwd.path });
  const followed = await submitJob(server, [
    "--stdout",
    `${own}/out`,
    "--",
    "echo",
    "through my link",
  ], { cwd: cwd.path });
  await waitForJob(server, planted, 20_000);
  await waitForJob(server, followed, 20_000);
  const [failed] = await taskObjects(server, planted);
  assert.equal(failed.state, "failed");
  assert.match(
    failed.error ?? "",
    /Creating stream file failed: cannot open ".*\/shared\/out": Too many levels of symbolic links/,
  );
  assert.equal(await Deno.readTextFile(victim), "precious\n");
  assert.equal((await taskObjects(server, followed))[0].state, "finished");
  assert.equal(await Deno.readTextFile(`${cwd.path}/mine`), "through my link\n");
});
