/**
 * End-to-end tests of the places where scripts, workflow tools and users' habits compare our
 * output with HyperQueue 0.26's (issue 17): its exact texts, JSON shapes and quirks.
 */
import assert from "node:assert/strict";
import { hqAt, submitJob, taskObjects, tempDir, TestServer } from "./harness.ts";

/** A server and one `--cpus 2` worker that has registered; disposing stops both. */
async function cluster(workerArgs: string[] = []) {
  const server = await TestServer.start();
  const worker = server.startWorker(["--cpus", "2", ...workerArgs]);
  try {
    await server.waitForWorkerState(1, "RUNNING");
  } catch (error) {
    await worker.stop("SIGKILL");
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return {
    server,
    worker,
    async [Symbol.asyncDispose]() {
      await worker.stop("SIGTERM");
      await server[Symbol.asyncDispose]();
    },
  };
}

// --- 1. Task spawn errors ---

Deno.test("a task that cannot be executed fails with HyperQueue's words, errno and hint", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const program = `hq-missing-${crypto.randomUUID().slice(0, 8)}`;
  const errorOf = async (args: string[]) => {
    const id = await submitJob(server, ["--wait", ...args], { cwd: cwd.path });
    const [task] = await taskObjects(server, id);
    assert.equal(task.state, "failed");
    return task.error;
  };

  assert.equal(
    await errorOf([program, "--bar"]),
    `Cannot execute "${program} --bar": No such file or directory (os error 2)\n` +
      `The program that you have tried to execute (\`${program}\`) was not found.`,
  );

  await Deno.writeTextFile(`${cwd.path}/${program}`, "#!/bin/sh\necho hi\n", { mode: 0o755 });
  assert.equal(
    await errorOf([program]),
    `Cannot execute "${program}": No such file or directory (os error 2)\n` +
      `The program that you have tried to execute (\`${program}\`) was not found.\n` +
      `The file \`${cwd.path}/${program}\` exists, maybe you have meant \`./${program}\` instead?`,
  );

  await Deno.writeTextFile(`${cwd.path}/run.sh`, "echo hi\n", { mode: 0o644 });
  assert.equal(
    await errorOf(["./run.sh", "x"]),
    'Cannot execute "./run.sh x": Permission denied (os error 13)\n' +
      "The script that you have tried to execute (`./run.sh`) is not executable.\n" +
      "Try making it executable or add a shebang line to it.",
  );
});

// --- 2. job forget ---

/** The log lines of stderr without their timestamps: `INFO …`. */
function logLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line !== "").map((line) =>
    line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /, "")
  );
}

Deno.test("job forget logs HyperQueue's 'N job(s) were forgotten' and filters by end states only", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await submitJob(server, ["--wait", "true"], { cwd: cwd.path }));
  }
  const one = await hqAt(server, ["job", "forget", String(ids[0])]);
  assert.equal(one.code, 0);
  assert.deepEqual(logLines(one.stderr), ["INFO 1 job were forgotten"]);
  const two = await hqAt(server, ["job", "forget", "all", "--filter", "finished,failed"]);
  assert.deepEqual(logLines(two.stderr), ["INFO 2 jobs were forgotten"]);

  const running = await hqAt(server, ["job", "forget", "all", "--filter", "finished,running"]);
  assert.equal(running.code, 2);
  assert.equal(
    running.stderr,
    "error: invalid value 'finished,running' for '--filter <FILTER>': invalid state \"running\" " +
      "(expected finished, failed, aborted, canceled)\n",
  );
  for (const state of ["finished", "failed", "aborted", "canceled"]) {
    assert.equal((await hqAt(server, ["job", "forget", "all", "--filter", state])).code, 0);
  }
});

// --- 3. Missing %{TASK_ID} warning ---

Deno.test("an array's output path without %{TASK_ID} is warned about, judged relative to the raw --cwd", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const warnings = async (args: string[]) => {
    const result = await hqAt(server, ["submit", "--array", "1-3", ...args, "--", "true"], {
      cwd: cwd.path,
    });
    assert.equal(result.code, 0, result.stderr);
    return logLines(result.stderr).filter((line) => line.startsWith("WARN"));
  };
  assert.deepEqual(await warnings(["--stdout", "out.txt"]), [
    "WARN You have submitted an array job, but the `stdout` path does not contain the task ID placeholder.",
    "WARN Individual tasks might thus overwrite the file. Consider adding `%{TASK_ID}` to the `--stdout` value.",
  ]);
  assert.deepEqual(await warnings(["--stderr", "%{CWD}/err"]), [
    "WARN You have submitted an array job, but the `stderr` path does not contain the task ID placeholder.",
    "WARN Individual tasks might thus overwrite the file. Consider adding `%{TASK_ID}` to the `--stderr` value.",
  ]);
  assert.deepEqual(await warnings(["--cwd", "task-%{TASK_ID}", "--stdout", "%{CWD}/out"]), []);
  assert.deepEqual(await warnings(["--cwd", "task-%{TASK_ID}", "--stderr", "err"]), []);
  assert.deepEqual(await warnings(["--cwd", "task-%{TASK_ID}", "--stdout", "/tmp/out"]), [
    "WARN You have submitted an array job, but the `stdout` path does not contain the task ID placeholder.",
    "WARN Individual tasks might thus overwrite the file. Consider adding `%{TASK_ID}` to the `--stdout` value.",
  ]);
});
