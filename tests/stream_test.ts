/**
 * End-to-end tests of output streaming (jobs spec §10): `hq submit --stream` (and Nextflow's
 * `--log`), one `.hqs` file per worker and directory, `hq output-log` reading them (also while
 * tasks still write), binary output, and a server restarted on its journal.
 */
import assert from "node:assert/strict";
import {
  encodeHeader,
  RECORD_CHUNK,
  RECORD_HEAD_BYTES,
  writeRecordHead,
} from "../common/stream_log.ts";
import {
  hq,
  hqAt,
  hqCommand,
  hqOkAt,
  submitJob,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

async function hqsFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.filter((name) => /^[A-Za-z0-9]{12}\.hqs$/.test(name)).sort();
}

/** `hq output-log <dir> <args>`, which needs no server. */
async function outputLog(dir: string, args: string[], mode = "cli"): Promise<string> {
  const result = await hq(["--output-mode", mode, "output-log", dir, ...args]);
  if (result.code !== 0) {
    throw new Error(`output-log ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

// deno-lint-ignore no-explicit-any
async function summaryJson(dir: string): Promise<any> {
  return JSON.parse(await outputLog(dir, ["summary"], "json")).summary;
}

Deno.test("--stream of a 1,000-task array: one .hqs file, output-log cat in task order, summary, export", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "4"]);
  await server.waitForWorkerState(1, "RUNNING");
  const id = await submitJob(server, [
    "--stream",
    "streams",
    "--array",
    "1-1000",
    "--",
    "bash",
    "-c",
    'echo "out $HQ_TASK_ID"; echo "err $HQ_TASK_ID" >&2',
  ], { cwd: dir.path });
  await waitForJob(server, id, 120_000);

  const streams = `${dir.path}/streams`;
  assert.equal((await hqsFiles(streams)).length, 1);
  // No per-task files anywhere.
  await assert.rejects(Deno.stat(`${dir.path}/job-${id}`), Deno.errors.NotFound);

  const expectedOut = Array.from({ length: 1000 }, (_, i) => `out ${i + 1}\n`).join("");
  assert.equal(await outputLog(streams, ["cat", String(id), "stdout"]), expectedOut);
  const expectedErr = Array.from({ length: 1000 }, (_, i) => `err ${i + 1}\n`).join("");
  assert.equal(await outputLog(streams, ["cat", String(id), "stderr"]), expectedErr);
  assert.equal(
    await outputLog(streams, ["cat", String(id), "stdout", "--task", "3-4,10"]),
    "out 3\nout 4\nout 10\n",
  );

  const size = expectedOut.length;
  assert.deepEqual(await summaryJson(streams), {
    n_files: 1,
    n_jobs: 1,
    n_tasks: 1000,
    n_streams: 1000,
    n_opened: 0,
    n_superseded: 0,
    stdout_size: size,
    stderr_size: size,
    superseded_stdout_size: 0,
    superseded_stderr_size: 0,
  });
  const table = await outputLog(streams, ["summary"]);
  assert.match(table, /\| Tasks +\| 1000 +\|/);
  const kib = `${(size / 1024).toFixed(2)} KiB`;
  assert.match(table, new RegExp(`\\| Stdout/stderr size +\\| ${kib} / ${kib} +\\|`));
  assert.equal(await outputLog(streams, ["jobs"]), `${id}\n`);

  const exported = JSON.parse(await outputLog(streams, ["export", String(id)]));
  assert.equal(exported.length, 1000);
  assert.deepEqual(exported[0], { finished: true, id: 1, stdout: "out 1\n" });
  assert.deepEqual(exported[999], { finished: true, id: 1000, stdout: "out 1000\n" });

  const shown = (await outputLog(streams, ["show", "--channel", "stderr"])).split("\n");
  assert.ok(shown.includes(`${id}.0007:1> err 7`), shown.slice(0, 3).join("\n"));

  // job info / task info / job cat for streamed tasks (spec §10.1).
  const info = await hqOkAt(server, ["job", "info", String(id)]);
  assert.match(info, /\| Stdout +\| <Stream> +\|/);
  const [task] = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "task", "info", String(id), "5"]),
  );
  assert.equal(task.stdout, "<pipe>");
  assert.equal(task.stderr, "<pipe>");
  const cat = await hqAt(server, ["job", "cat", String(id), "stdout", "--tasks", "5"]);
  assert.equal(cat.stdout, "");
  assert.match(cat.stderr, /Task 5 has no `stdout` stream associated with it/);
});

Deno.test("two workers stream into one directory; an explicit --stdout is not streamed; binary output is byte-exact", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _w1 = server.startWorker(["--cpus", "1"]);
  await using _w2 = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await server.waitForWorkerState(2, "RUNNING");
  const binary = new Uint8Array(300_000);
  for (let at = 0; at < binary.length; at += 65_536) {
    crypto.getRandomValues(binary.subarray(at, at + 65_536));
  }
  await Deno.writeFile(`${dir.path}/data.bin`, binary);
  const id = await submitJob(server, [
    "--stream",
    "out-%{JOB_ID}",
    "--stdout",
    "plain-%{TASK_ID}.txt",
    "--array",
    "0-19",
    "--",
    "bash",
    "-c",
    'sleep 0.1; echo "to file $HQ_TASK_ID"; cat data.bin >&2',
  ], { cwd: dir.path });
  await waitForJob(server, id, 60_000);
  const streams = `${dir.path}/out-${id}`;
  assert.equal((await hqsFiles(streams)).length, 2);
  assert.equal(await Deno.readTextFile(`${dir.path}/plain-7.txt`), "to file 7\n");
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL("../main.ts", import.meta.url).pathname, "output-log"]
      .concat([streams, "cat", String(id), "stderr", "--task", "13"]),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
  assert.deepEqual(result.stdout, binary);
  const summary = await summaryJson(streams);
  assert.equal(summary.n_files, 2);
  assert.equal(summary.n_tasks, 20);
  assert.equal(summary.stdout_size, 0);
  assert.equal(summary.stderr_size, 20 * binary.length);
});

Deno.test("output-log reads streams of running tasks only with --allow-unfinished", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await Deno.writeTextFile(`${dir.path}/go`, "");
  const id = await submitJob(server, [
    "--stream",
    "s",
    "--",
    "bash",
    "-c",
    "echo first; while [ -e go ]; do sleep 0.05; done; echo second",
  ], { cwd: dir.path });
  const streams = `${dir.path}/s`;
  const partial = await waitUntil(async () => {
    const result = await hq([
      "output-log",
      streams,
      "cat",
      String(id),
      "stdout",
      "--allow-unfinished",
    ]);
    return result.code === 0 && result.stdout !== "" ? result.stdout : undefined;
  }, { what: "the running task's first line in the stream" });
  assert.equal(partial, "first\n");
  const refused = await hq(["output-log", streams, "cat", String(id), "stdout"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Stream for task 0 is not finished/);
  assert.equal(refused.stdout, "");
  assert.equal((await summaryJson(streams)).n_opened, 1);
  const exported = JSON.parse(await outputLog(streams, ["export", String(id)]));
  assert.deepEqual(exported, [{ finished: false, id: 0, stdout: "first\n" }]);

  await Deno.remove(`${dir.path}/go`);
  await waitForJob(server, id);
  assert.equal(await outputLog(streams, ["cat", String(id), "stdout"]), "first\nsecond\n");
  assert.equal((await summaryJson(streams)).n_opened, 0);
});

Deno.test("output-log errors: no files, unknown job or task, streams of two servers", async () => {
  await using dir = await tempDir();
  const empty = await hq(["output-log", dir.path, "summary"]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /No log files found/);
  const missing = await hq(["output-log", `${dir.path}/nope`, "jobs"]);
  assert.equal(missing.code, 1);

  for (const _ of [1, 2]) {
    await using server = await TestServer.start();
    await using _worker = server.startWorker(["--cpus", "1"]);
    await server.waitForWorkerState(1, "RUNNING");
    const id = await submitJob(server, ["--stream", "s", "--", "true"], { cwd: dir.path });
    await waitForJob(server, id);
  }
  const streams = `${dir.path}/s`;
  const mixed = await hq(["output-log", streams, "jobs"]);
  assert.equal(mixed.code, 1);
  assert.match(
    mixed.stderr,
    /Found streams from multiple server instances:\n[A-Za-z0-9]{6}\n[A-Za-z0-9]{6}\nUse --server-uid=\.\.\. to specify server uid/,
  );
  const uid = mixed.stderr.match(/^[A-Za-z0-9]{6}$/m)![0];
  const one = await hq(["output-log", streams, "--server-uid", uid, "jobs"]);
  assert.equal(one.stdout, "1\n", one.stderr);
  const job = await hq(["output-log", streams, "--server-uid", uid, "cat", "2", "stdout"]);
  assert.equal(job.code, 1);
  assert.match(job.stderr, /Job 2 not found/);
  const task = await hq([
    "output-log",
    streams,
    "--server-uid",
    uid,
    "cat",
    "1",
    "stdout",
    "--task",
    "4",
  ]);
  assert.equal(task.code, 1);
  assert.match(task.stderr, /Task 4 not found/);
});

Deno.test("a server restarted on its journal keeps streaming into the same directory under its uid", async () => {
  await using dir = await tempDir();
  const serverDir = `${dir.path}/server`;
  const journal = `${dir.path}/journal.bin`;
  const args = ["--journal", journal];
  let id: number;
  {
    await using server = await TestServer.start({ serverDir, args });
    await using worker = server.startWorker(["--cpus", "2"]);
    await server.waitForWorkerState(1, "RUNNING");
    id = await submitJob(server, [
      "--stream",
      "s",
      "--array",
      "0-7",
      "--",
      "bash",
      "-c",
      'echo "begin $HQ_TASK_ID"; sleep 0.6; echo "end $HQ_TASK_ID"',
    ], { cwd: dir.path });
    await waitUntil(async () => {
      const tasks = JSON.parse(
        await hqOkAt(server, ["--output-mode", "json", "task", "list", String(id)]),
      )[String(id)];
      return tasks.filter((task: { state: string }) => task.state === "finished").length >= 2;
    }, { what: "two finished tasks" });
    server.process.kill("SIGKILL");
    await server.process.status();
    await worker.status();
  }
  await using server = await TestServer.start({ serverDir, args });
  await using _worker = server.startWorker(["--cpus", "2"]);
  await waitForJob(server, id, 60_000);
  const streams = `${dir.path}/s`;
  assert.equal((await hqsFiles(streams)).length, 2);
  const expected = Array.from({ length: 8 }, (_, i) => `begin ${i}\nend ${i}\n`).join("");
  assert.equal(await outputLog(streams, ["cat", String(id), "stdout"]), expected);
  const summary = await summaryJson(streams);
  assert.equal(summary.n_tasks, 8);
  assert.equal(summary.n_opened, 0);
});

Deno.test("Nextflow's hq executor command lines work, with `#HQ --log` in the script", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const workDir = `${dir.path}/work/ab/cdef`;
  await Deno.mkdir(workDir, { recursive: true });
  // What Nextflow's HyperQueueExecutor writes (getDirectives) and submits (getSubmitCommandLine).
  await Deno.writeTextFile(
    `${workDir}/.command.run`,
    [
      "#!/bin/bash",
      "#HQ --name nf-hello_1",
      `#HQ --log ${workDir}/.command.log`,
      `#HQ --cwd ${workDir}`,
      "#HQ --cpus 2",
      "#HQ --time-limit 60sec",
      "set -e",
      'echo "hello from nextflow" > .command.out',
      "echo streamed",
      "",
    ].join("\n"),
  );
  const submitted = await hqAt(
    server,
    ["--output-mode=quiet", "submit", "--directives=file", ".command.run"],
    { cwd: workDir },
  );
  assert.equal(submitted.code, 0, submitted.stderr);
  const id = submitted.stdout.trim();
  assert.match(id, /^\d+$/);
  await waitForJob(server, Number(id));
  // Status polling: `hq --output-mode=json job list --all`.
  const list = JSON.parse(
    await hqOkAt(server, ["--output-mode=json", "job", "list", "--all"]),
  );
  const job = list.find((each: { id: number }) => String(each.id) === id);
  assert.equal(job.name, "nf-hello_1");
  assert.equal(job.task_stats.finished, 1);
  assert.equal(await Deno.readTextFile(`${workDir}/.command.out`), "hello from nextflow\n");
  // `--log <file>` is a stream directory now.
  assert.equal((await hqsFiles(`${workDir}/.command.log`)).length, 1);
  assert.equal(await outputLog(`${workDir}/.command.log`, ["cat", id, "stdout"]), "streamed\n");
  // Kill: `hq job cancel <id>,<id>` (a finished job is only reported).
  const sleeper = await hqAt(
    server,
    ["--output-mode=quiet", "submit", "--log", "s", "--", "sleep", "100"],
    { cwd: dir.path },
  );
  const cancel = await hqAt(server, ["job", "cancel", `${id},${sleeper.stdout.trim()}`]);
  assert.equal(cancel.code, 0, cancel.stderr);
  const after = JSON.parse(await hqOkAt(server, ["--output-mode=json", "job", "list", "--all"]));
  assert.equal(
    after.find((each: { id: number }) => String(each.id) === sleeper.stdout.trim()).task_stats
      .canceled,
    1,
  );
});

Deno.test({
  name:
    "output-log cat of a 256 MiB log reads it in blocks: its peak memory stays far below the log",
  ignore: !existsSync("/usr/bin/time"),
  fn: async () => {
    await using dir = await tempDir();
    const chunk = new Uint8Array(256 * 1024).fill(0x61);
    const head = new Uint8Array(RECORD_HEAD_BYTES);
    const file = await Deno.open(`${dir.path}/aaaaaaaaaaaa.hqs`, { write: true, create: true });
    await file.write(encodeHeader({ serverUid: "u", workerId: 1 }));
    const tasks = 64;
    const chunksPerTask = 16;
    for (let task = 1; task <= tasks; task++) {
      for (let i = 0; i <= chunksPerTask; i++) {
        // Each task's last record is its end (a zero-length chunk).
        const length = i < chunksPerTask ? chunk.length : 0;
        writeRecordHead(new DataView(head.buffer), 0, {
          kind: RECORD_CHUNK,
          channel: 0,
          jobId: 1,
          taskId: task,
          instanceId: 0,
          timeMs: task * 100 + i,
        }, length);
        await file.write(head);
        if (length > 0) await file.write(chunk);
      }
    }
    file.close();
    const bytes = tasks * chunksPerTask * chunk.length;
    const [program, ...args] = hqCommand(["output-log", dir.path, "cat", "1", "stdout"]);
    const child = new Deno.Command("/usr/bin/time", {
      args: ["-f", "peak-kib %M", program, ...args],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Count what it prints without keeping it.
    let printed = 0;
    for await (const part of child.stdout) printed += part.length;
    const { code } = await child.status;
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(code, 0, stderr);
    assert.equal(printed, bytes);
    const peakMib = Number(/peak-kib (\d+)/.exec(stderr)?.[1]) / 1024;
    // About 50 MiB here (the runtime itself); reading the whole file took 550 MiB.
    assert.ok(peakMib < 128, `peak RSS ${peakMib.toFixed(0)} MiB`);
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
