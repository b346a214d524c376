/**
 * End-to-end tests of the places where scripts, workflow tools and users' habits compare our
 * output with HyperQueue 0.26's (issue 17): its exact texts, JSON shapes and quirks.
 */
import assert from "node:assert/strict";
import {
  cluster,
  hq,
  hqAt,
  hqOk,
  hqOkAt,
  HqProcess,
  submitJob,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

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

// --- 11. Submit details ---

Deno.test("--on-notify runs only with --wait, with the client's stdin; --progress drops notifications", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const notes = `${cwd.path}/notes`;
  await Deno.writeTextFile(
    `${cwd.path}/on-notify.sh`,
    `#!/bin/sh\nread line\necho "[$1] stdin: $line" >> '${notes}'\n`,
    { mode: 0o755 },
  );
  const task = ["--", "bash", "-c", '"$HQ" task notify "hello"'];
  const waited = await hqAt(
    server,
    ["submit", "--wait", "--on-notify", `${cwd.path}/on-notify.sh`, ...task],
    { cwd: cwd.path, stdin: "from the client\n" },
  );
  assert.equal(waited.code, 0, waited.stderr);
  assert.equal(await Deno.readTextFile(notes), "[hello] stdin: from the client\n");

  const progress = await hqAt(
    server,
    ["submit", "--progress", "--on-notify", `${cwd.path}/on-notify.sh`, ...task],
    { cwd: cwd.path, stdin: "again\n" },
  );
  assert.equal(progress.code, 0, progress.stderr);
  const alone = await hqAt(
    server,
    ["submit", "--on-notify", `${cwd.path}/on-notify.sh`, ...task],
    { cwd: cwd.path },
  );
  assert.equal(alone.code, 0, alone.stderr);
  await waitForJob(server, 3);
  assert.equal(await Deno.readTextFile(notes), "[hello] stdin: from the client\n");
});

/** The task description of job `id`'s only submit, from `job info --output-mode json`. */
async function taskDescription(server: TestServer, id: number) {
  const [info] = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "job", "info", String(id)]),
  );
  return info.submits[0].array;
}

Deno.test("#HQ directives: --env and --resource combine with the command line, the directive winning; shebang quoting", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const script = `${cwd.path}/job.sh`;
  await Deno.writeTextFile(
    script,
    `#!/bin/bash -c 'echo "$0 $1"'\n#HQ --env A=directive --env B=directive\n` +
      "#HQ --resource gpus=1\n#HQ --name named-by-directive\necho body\n",
    { mode: 0o755 },
  );
  const id = await submitJob(
    server,
    ["--env", "A=cli", "--env", "C=cli", "--resource", "gpus=2", "--resource", "mem=1", script],
    { cwd: cwd.path },
  );
  const submit = await taskDescription(server, id);
  assert.deepEqual(submit.program.env, { A: "directive", B: "directive", C: "cli" });
  assert.deepEqual(submit.program.args, ["/bin/bash", "-c", 'echo "$0 $1"', script]);
  assert.deepEqual(
    submit.resources[0].resources.map((r: { resource: string; request: unknown }) => [
      r.resource,
      r.request,
    ]),
    [["cpus", { Compact: 10_000 }], ["mem", { Compact: 10_000 }], ["gpus", { Compact: 10_000 }]],
  );

  // With --stdin the script's shebang is not applied.
  const fromStdin = await submitJob(server, ["--stdin", script], {
    cwd: cwd.path,
    stdin: "echo x\n",
  });
  assert.deepEqual((await taskDescription(server, fromStdin)).program.args, [script]);

  // `#HQ --name` is a name too: not allowed when adding to an open job.
  const open = await hqOkAt(server, ["--output-mode", "quiet", "job", "open"]);
  const refused = await hqAt(server, ["submit", "--job", open.trim(), script], { cwd: cwd.path });
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    "Parameter --name is not allowed when submitting to an open job.\n",
  );
});

Deno.test("--from-json keeps numbers as written; --array takes interleaved ranges", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  await Deno.writeTextFile(
    `${cwd.path}/entries.json`,
    '[1.0, 12345678901234567891, {"b": 1.50, "a": [1e3, -0.0]}, "x"]',
  );
  const id = await submitJob(server, [
    "--wait",
    "--from-json",
    "entries.json",
    "--",
    "bash",
    "-c",
    'printf "%s\\n" "$HQ_ENTRY"',
  ], { cwd: cwd.path });
  assert.equal(
    await hqOkAt(server, ["job", "cat", String(id), "stdout"]),
    '1.0\n12345678901234567891\n{"a":[1e3,-0.0],"b":1.50}\n"x"\n',
  );

  const array = await submitJob(server, ["--array", "0-10:2,1-9:2", "--", "true"], {
    cwd: cwd.path,
  });
  assert.deepEqual(
    (await taskObjects(server, array)).map((task) => task.id).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  const overlap = await hqAt(server, ["submit", "--array", "0-10:2,4-8:4", "--", "true"]);
  assert.equal(overlap.code, 2);
  assert.match(overlap.stderr, /Ranges overlap/);
});

Deno.test("task list refuses all and --verbose and counts -vv; job open refuses tabs and newlines in names", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await submitJob(server, ["--", "true"], { cwd: cwd.path });
  const all = await hqAt(server, ["task", "list", "all"]);
  assert.equal(all.code, 2);
  assert.equal(
    all.stderr,
    "error: invalid value 'all' for '<SELECTOR>': `all` is not allowed here\n",
  );
  const verbose = await hqAt(server, ["task", "list", "1", "--verbose"]);
  assert.equal(verbose.code, 2);
  assert.equal(verbose.stderr, "error: unexpected argument '--verbose' found\n");
  const twice = await hqAt(server, ["--output-mode", "quiet", "task", "list", "1", "-vv"]);
  assert.equal(twice.code, 0, twice.stderr);
  assert.equal((await hqAt(server, ["task", "list", "1", "-v", "-v"])).code, 0);

  for (const name of ["a\tb", "a\nb"]) {
    const open = await hqAt(server, ["job", "open", "--name", name]);
    assert.equal(open.code, 1);
    assert.equal(open.stderr, "name cannot have a newline or a tab\n");
  }
});

Deno.test("--pin omp sets OMP_PROC_BIND/OMP_PLACES over the worker's own, not over the user's --env", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "1"], {
    env: { OMP_PROC_BIND: "spread", OMP_PLACES: "cores" },
  });
  await server.waitForWorkerState(1, "RUNNING");
  const show = ["--", "bash", "-c", 'echo "$OMP_PROC_BIND $OMP_PLACES"'];
  const pinned = await submitJob(server, ["--wait", "--pin", "omp", ...show], { cwd: cwd.path });
  const user = await submitJob(
    server,
    ["--wait", "--pin", "omp", "--env", "OMP_PROC_BIND=master", ...show],
    { cwd: cwd.path },
  );
  assert.equal(await hqOkAt(server, ["job", "cat", String(pinned), "stdout"]), "close {0}\n");
  assert.equal(await hqOkAt(server, ["job", "cat", String(user), "stdout"]), "master {0}\n");
});

Deno.test("job cat in JSON mode asks the server first; submit --help shows only HyperQueue's defaults", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const id = await submitJob(server, ["--", "true"], { cwd: cwd.path });
  const missing = await hqAt(server, ["--output-mode", "json", "job", "cat", "7", "stdout"]);
  assert.equal(missing.code, 0);
  assert.deepEqual(logLines(missing.stderr), [
    "ERROR Job 7 was not found",
    "ERROR No jobs were found",
  ]);
  const known = await hqAt(server, ["--output-mode", "json", "job", "cat", String(id), "stdout"]);
  assert.equal(known.code, 1);
  assert.deepEqual(JSON.parse(known.stdout), {
    error: "JSON output mode doesn't support job output",
  });

  const help = await hqOkAt(server, ["submit", "--help"]);
  const defaults = help.split("\n").filter((line) => line.includes("[default:")).map((line) =>
    line.trim().split(" ")[0]
  );
  assert.deepEqual(defaults, [
    "--nodes",
    "--time-request",
    "--priority",
    "--crash-limit",
    "--directives",
    "--output-mode",
    "--colors",
  ]);
});

// --- 12. Memory units ---

Deno.test("--resource mem=100MiB (KiB, GiB, MB, GB too) is the amount in MiB", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "1", "--resource", "mem=sum(4096)"]);
  await server.waitForWorkerState(1, "RUNNING");
  const requests = [];
  for (const mem of ["100MiB", "2GiB", "512KiB", "1GB", "3000 MB"]) {
    const id = await submitJob(server, [
      "--wait",
      "--resource",
      `mem=${mem}`,
      "--",
      "bash",
      "-c",
      'echo "$HQ_RESOURCE_REQUEST_mem"',
    ], { cwd: cwd.path });
    const [task] = await taskObjects(server, id);
    assert.equal(task.state, "finished", `mem=${mem}: ${task.error}`);
    requests.push((await hqOkAt(server, ["job", "cat", String(id), "stdout"])).trim());
  }
  assert.deepEqual(requests, [
    "100 compact",
    "2048 compact",
    "0.5 compact",
    "953.6744 compact",
    "2861.023 compact",
  ]);
  const bad = await hqAt(server, ["submit", "--resource", "mem=1PB", "--", "true"]);
  assert.equal(bad.code, 2);
});

// --- 4. Tables ---

/** Lines of a cli table that hold cells, without the borders' padding at the ends. */
function tableLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line.startsWith("|")).map((line) =>
    line.split("|").slice(1, -1).map((cell) => cell.trim()).join("|")
  );
}

Deno.test("tables: every node of a multi-node task, HyperQueue's Workers row, truncated explain times, a canceled task's fixed end", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const workers: HqProcess[] = [];
  for (const name of ["w1", "w2", "w3"]) {
    workers.push(server.startWorker(["--cpus", "1", "--hostname", name, "--time-limit", "5m"]));
    await server.waitForWorkerState(workers.length, "RUNNING");
  }
  await using _workers = {
    async [Symbol.asyncDispose]() {
      for (const worker of workers) await worker.stop("SIGTERM");
    },
  };

  const multi = await submitJob(server, ["--wait", "--nodes", "2", "--", "true"], {
    cwd: cwd.path,
  });
  const taskList = tableLines(await hqOkAt(server, ["task", "list", String(multi)]));
  assert.equal(taskList[1].replace(/\|[^|]*\|$/, ""), "0|FINISHED|w1");
  assert.equal(taskList[2], "||w2||");
  const taskInfo = tableLines(await hqOkAt(server, ["task", "info", String(multi), "0"]));
  const worker = taskInfo.findIndex((line) => line.startsWith("Worker|"));
  assert.deepEqual(taskInfo.slice(worker, worker + 2), ["Worker|w1", "|w2"]);
  const workersRow = async (id: number) =>
    tableLines(await hqOkAt(server, ["job", "info", String(id)])).find((line) =>
      line.startsWith("Workers|")
    );
  assert.equal(await workersRow(multi), "Workers|w1,w2");

  const spread = await submitJob(server, ["--wait", "--array", "1-3", "--", "sleep", "1"], {
    cwd: cwd.path,
  });
  assert.equal(await workersRow(spread), "Workers|w1,w2, … (3 total)");

  // The worker has under 5 minutes left: the time cell reads like a makespan.
  const waiting = await submitJob(server, ["--time-request", "10m", "--", "true"], {
    cwd: cwd.path,
  });
  const explain = tableLines(await hqOkAt(server, ["task", "explain", String(waiting), "0"]));
  const timeCells = explain.filter((line) => line.includes("|time|"));
  assert.equal(timeCells.length, 3, explain.join("\n"));
  for (const line of timeCells) assert.match(line, /\|time\|4m \d{1,2}s\|10m$/);
  await hqOkAt(server, ["job", "cancel", String(waiting)]);

  const canceled = await submitJob(server, ["--", "sleep", "100"], { cwd: cwd.path });
  await waitForTaskState(server, canceled, "running");
  await hqOkAt(server, ["job", "cancel", String(canceled)]);
  const makespan = async () => {
    const lines = tableLines(await hqOkAt(server, ["task", "info", String(canceled), "0"]));
    return [
      lines.find((line) => line.startsWith("End|")),
      lines.find((line) => line.startsWith("Makespan|")),
    ];
  };
  const first = await makespan();
  assert.match(first[0]!, /^End\|\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d$/);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  assert.deepEqual(await makespan(), first);
});

async function waitForTaskState(server: TestServer, id: number, state: string): Promise<void> {
  await waitUntil(async () => (await taskObjects(server, id))[0]?.state === state, {
    what: `job ${id}'s task to be ${state}`,
  });
}

// --- 8. debug-dump ---

Deno.test("server debug-dump puts the scheduler's state under a top-level tako key", async () => {
  await using cwd = await tempDir();
  await using c = await cluster(["--group", "g1"]);
  const { server } = c;
  const running = await submitJob(server, ["--", "sleep", "100"], { cwd: cwd.path });
  await waitForTaskState(server, running, "running");
  const waiting = await submitJob(server, ["--cpus", "4", "--", "true"], { cwd: cwd.path });
  const path = `${cwd.path}/dump.json`;
  await hqOkAt(server, ["server", "debug-dump", path]);
  const dump = JSON.parse(await Deno.readTextFile(path));
  assert.deepEqual(Object.keys(dump.tako).sort(), ["tasks", "worker_groups", "workers"]);
  assert.deepEqual(dump.tako.workers.map((worker: { id: number }) => worker.id), [1]);
  assert.deepEqual(dump.tako.worker_groups, [{ name: "g1", worker_ids: [1] }]);
  assert.deepEqual(
    dump.tako.tasks.map((task: { id: unknown; state: string }) => [task.id, task.state]),
    [
      [{ job_id: running, job_task_id: 0 }, "running"],
      [{ job_id: waiting, job_task_id: 0 }, "waiting"],
    ],
  );
  await hqOkAt(server, ["job", "cancel", "all"]);
});

// --- 10. Options accepted but ignored ---

Deno.test("server start refuses --scheduler-time-limit instead of ignoring it", async () => {
  await using dir = await tempDir();
  const result = await hq([
    "server",
    "start",
    "--server-dir",
    dir.path,
    "--scheduler-time-limit",
    "1s",
  ]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    "--scheduler-time-limit is not supported by this version of hq: its scheduler places tasks " +
      "in one greedy pass, with no solver whose time could be limited\n",
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "no server instance was created");
  assert.doesNotMatch(await hqOk(["server", "start", "--help"]), /scheduler-time-limit/);
});

// --- 5. Worker overviews ---

/** Stand-in `nvidia-smi` and `rocm-smi` that log their arguments and print two/one GPUs. */
async function fakeGpuTools(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/nvidia-smi`,
    `#!/bin/sh\necho "$*" >> '${dir}/nvidia-smi.args'\n` +
      "printf '00000000:3B:00.0, 12 %%, 1024 MiB, 4096 MiB\\n00000000:3C:00.0, 0 %%, 0 MiB, 4096 MiB\\n'\n",
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${bin}/rocm-smi`,
    `#!/bin/sh\necho "$*" >> '${dir}/rocm-smi.args'\n` +
      `echo '{"card0": {"GPU use (%)": "40", "GPU memory use (%)": "25", "PCI Bus": "0000:03:00.0"}}'\n`,
    { mode: 0o755 },
  );
  return bin;
}

interface OverviewLine {
  event: { type: string; id: number; "hw-state": { state: Record<string, unknown> } | null };
}

Deno.test("worker --overview-interval sends HyperQueue-shaped worker-overview events, GPUs polled only when the worker has them", async () => {
  await using dir = await tempDir();
  const bin = await fakeGpuTools(dir.path);
  const journal = `${dir.path}/journal.bin`;
  await using server = await TestServer.start({ args: ["--journal", journal] });
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  await using _plain = server.startWorker(["--cpus", "1", "--overview-interval", "200ms"], { env });
  await server.waitForWorkerState(1, "RUNNING");
  await using _gpus = server.startWorker([
    "--cpus",
    "1",
    "--resource",
    "gpus/nvidia=[0,1]",
    "--resource",
    "gpus/amd=[0]",
    "--overview-interval",
    "200ms",
  ], { env });
  await server.waitForWorkerState(2, "RUNNING");
  await using _silent = server.startWorker(["--cpus", "1"], { env });
  await server.waitForWorkerState(3, "RUNNING");
  await using stream = new HqProcess(["journal", "stream", "--server-dir", server.dir], {
    logDir: dir.path,
  });
  const overviews = (text: string, id: number) =>
    text.split("\n").filter((line) => line.includes('"worker-overview"'))
      .map((line) => JSON.parse(line) as OverviewLine).filter((line) => line.event.id === id);
  await waitUntil(
    () => overviews(stream.stdout(), 1).length >= 2 && overviews(stream.stdout(), 2).length >= 2,
    { what: "two overviews of each worker in the stream" },
  );
  await server.hqOk(["journal", "flush"]);
  const exported = (await hq(["journal", "export", journal])).stdout;
  assert.equal(overviews(exported, 3).length, 0, "no overviews without --overview-interval");

  const cores =
    Deno.readTextFileSync("/proc/stat").split("\n").filter((line) => /^cpu\d/.test(line)).length;
  const memTotal = Number(/^MemTotal:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/meminfo"))![1]);
  for (const id of [1, 2]) {
    const [line] = overviews(exported, id);
    assert.deepEqual(Object.keys(line.event), ["type", "id", "hw-state"]);
    const state = line.event["hw-state"]!.state;
    assert.deepEqual(Object.keys(state).sort(), [
      "amd_gpus",
      "cpu_usage",
      "memory_usage",
      "network_usage",
      "nvidia_gpus",
      "timestamp",
    ]);
    const cpu = state.cpu_usage as { cpu_per_core_percent_usage: number[] };
    assert.deepEqual(Object.keys(cpu), ["cpu_per_core_percent_usage"]);
    assert.equal(cpu.cpu_per_core_percent_usage.length, cores);
    assert.ok(cpu.cpu_per_core_percent_usage.every((usage) => usage >= 0 && usage <= 100));
    const memory = state.memory_usage as { total: number; free: number };
    assert.deepEqual(Object.keys(memory).sort(), ["free", "total"]);
    assert.equal(memory.total, memTotal * 1024);
    assert.ok(memory.free > 0 && memory.free <= memory.total);
    assert.deepEqual(Object.keys(state.network_usage as object).sort(), [
      "rx_bytes",
      "rx_errors",
      "rx_packets",
      "tx_bytes",
      "tx_errors",
      "tx_packets",
    ]);
    assert.ok(Math.abs((state.timestamp as number) - Date.now() / 1000) < 60);
  }
  const plain = overviews(exported, 1)[0].event["hw-state"]!.state;
  assert.equal(plain.nvidia_gpus, null);
  assert.equal(plain.amd_gpus, null);
  const withGpus = overviews(exported, 2)[0].event["hw-state"]!.state;
  assert.deepEqual(withGpus.nvidia_gpus, {
    gpus: [
      { id: "00000000:3B:00.0", processor_usage: 12, mem_usage: 25 },
      { id: "00000000:3C:00.0", processor_usage: 0, mem_usage: 0 },
    ],
  });
  assert.deepEqual(withGpus.amd_gpus, {
    gpus: [{ id: "0000:03:00.0", processor_usage: 40, mem_usage: 25 }],
  });
  assert.equal(
    (await Deno.readTextFile(`${dir.path}/nvidia-smi.args`)).split("\n")[0],
    "--format=csv,noheader --query-gpu=pci.bus_id,utilization.gpu,memory.used,memory.total",
  );
  assert.equal(
    (await Deno.readTextFile(`${dir.path}/rocm-smi.args`)).split("\n")[0],
    "--json --showuse --showbus --showmemuse",
  );
});

// --- 9. Server readiness ---

Deno.test("a client started the moment access.json appears is answered: the file comes first, the server follows", async () => {
  await using dir = await tempDir();
  await using server = new HqProcess(
    ["server", "start", "--server-dir", dir.path, "--host", "127.0.0.1"],
    { logDir: dir.path },
  );
  await waitUntil(() => {
    try {
      return Deno.statSync(`${dir.path}/hq-current/access.json`).isFile;
    } catch {
      return false;
    }
  }, { intervalMs: 1, what: "the access file" });
  const info = await hq(["server", "info", "--server-dir", dir.path, "--output-mode", "json"]);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).pid, server.pid);
  assert.equal((await hq(["server", "stop", "--server-dir", dir.path])).code, 0);
  assert.equal((await server.status()).code, 0);
});

Deno.test("--each-line passes each line's raw bytes to HQ_ENTRY", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const lines = [
    new Uint8Array([0xff, 0x41, 0xc3]), // not UTF-8
    new TextEncoder().encode("žluťoučký kůň"),
    new TextEncoder().encode("crlf\r"),
    new Uint8Array([]),
  ];
  const file = new Uint8Array(lines.reduce((n, line) => n + line.length + 1, 0));
  let at = 0;
  for (const line of lines) {
    file.set(line, at);
    at += line.length + 1;
    file[at - 1] = 0x0a;
  }
  await Deno.writeFile(`${cwd.path}/lines.txt`, file);
  await submitJob(c.server, [
    "--wait",
    "--each-line",
    "lines.txt",
    "--",
    "bash",
    "-c",
    'printf %s "$HQ_ENTRY" > "entry-$HQ_TASK_ID"',
  ], { cwd: cwd.path });
  for (const [id, line] of lines.entries()) {
    assert.deepEqual(await Deno.readFile(`${cwd.path}/entry-${id}`), line, `entry ${id}`);
  }
});
