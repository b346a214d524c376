/**
 * End-to-end tests of jobs that work (jobs spec §2–§4, §7, §9): a 10,000-task array, where
 * outputs land, entries and the task environment, `--stdin`, the JSON and quiet outputs that
 * scripts (Nextflow) parse, `#HQ` directives and open jobs. Failures: jobs_failures_test.ts.
 */
import assert from "node:assert/strict";
import {
  cluster,
  hqAt,
  hqOkAt,
  hqWithin,
  processesWith,
  submitJob,
  type TaskJson,
  taskObjects,
  tempDir,
  type TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const JOB_INFO_KEYS = ["cancel_reason", "id", "is_open", "name", "task_count", "task_stats"];
const TASK_STATS_KEYS = ["aborted", "canceled", "failed", "finished", "running", "waiting"];

// deno-lint-ignore no-explicit-any
async function jobDetail(server: TestServer, id: number): Promise<any> {
  const jobs = JSON.parse(await hqOkAt(server, ["--output-mode", "json", "job", "info", `${id}`]));
  assert.equal(jobs.length, 1, JSON.stringify(jobs));
  return jobs[0];
}

async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** `NAME=value` or `NAME unset` per variable, from the script below, as a map. */
function printedVariables(text: string): Map<string, string | undefined> {
  const variables = new Map<string, string | undefined>();
  for (const line of text.split("\n")) {
    const unset = /^(\w+) unset$/.exec(line);
    if (unset) variables.set(unset[1], undefined);
    else if (/^\w+=/.test(line)) {
      const eq = line.indexOf("=");
      variables.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  return variables;
}

/** A bash script printing each variable of `names` as `NAME=value` or `NAME unset`. */
function printVariables(names: string[]): string {
  return `for v in ${names.join(" ")}; do ` +
    `if [ -n "\${!v+x}" ]; then printf '%s=%s\\n' "$v" "\${!v}"; else echo "$v unset"; fi; done`;
}

// --- Scale and outputs ---

Deno.test("a 10,000-task array of `true` on one 2-CPU worker finishes, writing both output files of every task", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const started = performance.now();
  const submit = await hqWithin(
    server,
    ["submit", "--array", "1-10000", "--wait", "true"],
    { cwd: cwd.path, timeoutMs: 120_000 },
  );
  const elapsedMs = performance.now() - started;
  console.log(`    10,000 tasks submitted and waited for in ${Math.round(elapsedMs)} ms`);
  assert.equal(submit.code, 0, submit.stderr);
  const [line] = submit.stdout.split("\n");
  assert.match(line, /^Job submitted successfully, job ID: \d+$/);
  const id = Number(line.split(" ").at(-1));
  assert.match(
    submit.stderr,
    /WARN The job will create 20000 files for stdout and stderr\. Consider using the `--stream` option/,
  );

  const job = await jobDetail(server, id);
  assert.equal(job.info.task_count, 10_000);
  assert.deepEqual(job.info.task_stats, {
    aborted: 0,
    canceled: 0,
    failed: 0,
    finished: 10_000,
    running: 0,
    waiting: 0,
  });
  assert.equal(job.tasks.length, 10_000);
  assert.ok(job.tasks.every((task: TaskJson) => task.state === "finished"));
  assert.deepEqual(job.tasks.map((task: TaskJson) => task.id).slice(0, 3), [1, 2, 3]);
  assert.match(job.finished_at, TIMESTAMP);

  assert.deepEqual(await filesIn(cwd.path), [`job-${id}`]);
  const expected = Array.from(
    { length: 10_000 },
    (_, i) => [`${i + 1}.stderr`, `${i + 1}.stdout`],
  ).flat().sort();
  assert.deepEqual(await filesIn(`${cwd.path}/job-${id}`), expected);
  assert.equal(await Deno.readTextFile(`${cwd.path}/job-${id}/10000.stdout`), "");
});

Deno.test("--stdout none --stderr none creates no file at all; the JSON shows both as null", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const id = await submitJob(
    server,
    [
      "--array",
      "1-1000",
      "--stdout",
      "none",
      "--stderr",
      "none",
      "--wait",
      "bash",
      "-c",
      "echo x; echo y >&2",
    ],
    { cwd: cwd.path },
  );
  const job = await jobDetail(server, id);
  assert.equal(job.info.task_stats.finished, 1000);
  assert.deepEqual(await filesIn(cwd.path), []);
  assert.equal(job.submits[0].array.program.stdout, null);
  assert.equal(job.submits[0].array.program.stderr, null);
  assert.equal(job.tasks[0].stdout, null);
  assert.equal(job.tasks[0].stderr, null);
  assert.equal(job.tasks[0].cwd, cwd.path);
});

Deno.test("placeholders in --stdout/--stderr/--cwd land where spec §3 says; :rm-if-finished removes only finished tasks' files", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const submitDir = cwd.path;
  const id = await submitJob(server, [
    "--array",
    "1-2",
    "--cwd",
    "%{SUBMIT_DIR}/work-%{TASK_ID}",
    "--stdout",
    "%{CWD}/o-%{JOB_ID}-%{TASK_ID}-%{INSTANCE_ID}.txt",
    "--stderr",
    "e-%{TASK_ID}.txt",
    "--wait",
    "bash",
    "-c",
    "echo out-$HQ_TASK_ID; echo err-$HQ_TASK_ID >&2; pwd > pwd.txt",
  ], { cwd: submitDir });
  for (const task of [1, 2]) {
    const dir = `${submitDir}/work-${task}`;
    assert.deepEqual(await filesIn(dir), [`e-${task}.txt`, `o-${id}-${task}-0.txt`, "pwd.txt"]);
    assert.equal(await Deno.readTextFile(`${dir}/o-${id}-${task}-0.txt`), `out-${task}\n`);
    assert.equal(await Deno.readTextFile(`${dir}/e-${task}.txt`), `err-${task}\n`);
    assert.equal(await Deno.readTextFile(`${dir}/pwd.txt`), `${dir}\n`);
  }
  assert.deepEqual(await filesIn(submitDir), ["work-1", "work-2"]);

  const job = await jobDetail(server, id);
  assert.deepEqual(job.submits[0].array.program.cwd, `${submitDir}/work-%{TASK_ID}`);
  assert.deepEqual(
    job.submits[0].array.program.stdout,
    `${submitDir}/work-%{TASK_ID}/o-${id}-%{TASK_ID}-%{INSTANCE_ID}.txt`,
  );
  assert.deepEqual(
    job.tasks.map((task: TaskJson) => [task.cwd, task.stdout, task.stderr]),
    [1, 2].map((task) => [
      `${submitDir}/work-${task}`,
      `${submitDir}/work-${task}/o-${id}-${task}-0.txt`,
      `${submitDir}/work-${task}/e-${task}.txt`,
    ]),
  );

  // A relative path without placeholders is made absolute against the cwd at submit.
  await using other = await tempDir();
  const relative = await submitJob(server, [
    "--array",
    "0-1",
    "--stdout",
    "out-%{TASK_ID}.txt:rm-if-finished",
    "--stderr",
    "plain.txt",
    "--wait",
    "bash",
    "-c",
    "echo x; exit $HQ_TASK_ID",
  ], { cwd: other.path });
  assert.deepEqual(await filesIn(other.path), ["out-1.txt", "plain.txt"]);
  assert.equal(await Deno.readTextFile(`${other.path}/out-1.txt`), "x\n");
  assert.equal(
    (await jobDetail(server, relative)).submits[0].array.program.stderr,
    `${other.path}/plain.txt`,
  );
});

// --- Entries, environment, stdin ---

Deno.test("--each-line and --from-json pass each entry in HQ_ENTRY; with --array the ids select entries by index", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  await Deno.writeTextFile(`${cwd.path}/lines.txt`, "a\nb b\n\nc\r\n");
  await Deno.writeTextFile(
    `${cwd.path}/entries.json`,
    '[{"b": [2], "a": 1}, "x", 3, null, {"z": {"y": 1, "x": [true, 1.5]}}]',
  );
  const printEntry = ["bash", "-c", 'printf "%s" "$HQ_ENTRY"'];
  const entriesOf = async (args: string[]) => {
    const id = await submitJob(server, [...args, "--wait", ...printEntry], { cwd: cwd.path });
    const tasks = await taskObjects(server, id);
    assert.ok(tasks.every((task) => task.state === "finished"), JSON.stringify(tasks));
    const entries: Record<number, string> = {};
    for (const task of tasks) {
      entries[task.id] = await Deno.readTextFile(`${cwd.path}/job-${id}/${task.id}.stdout`);
    }
    return entries;
  };

  assert.deepEqual(await entriesOf(["--each-line", "lines.txt"]), {
    0: "a",
    1: "b b",
    2: "",
    3: "c\r",
  });
  assert.deepEqual(await entriesOf(["--each-line", "lines.txt", "--array", "1,3,9"]), {
    1: "b b",
    3: "c\r",
  });
  assert.deepEqual(await entriesOf(["--from-json", "entries.json"]), {
    0: '{"a":1,"b":[2]}',
    1: '"x"',
    2: "3",
    3: "null",
    4: '{"z":{"x":[true,1.5],"y":1}}',
  });
  assert.deepEqual(await entriesOf(["--from-json", "entries.json", "--array", "0,4-7"]), {
    0: '{"a":1,"b":[2]}',
    4: '{"z":{"x":[true,1.5],"y":1}}',
  });
});

Deno.test("every task variable of spec §4 has its value: ids, submit dir, CPUs, OMP, --env, --task-dir, --pin", async () => {
  await using cwd = await tempDir();
  await using workDir = await tempDir("hq-work-");
  await using c = await cluster(["--work-dir", workDir.path]);
  const { server } = c;
  const submitDir = cwd.path;
  const names = [
    "HQ_JOB_ID",
    "HQ_TASK_ID",
    "HQ_INSTANCE_ID",
    "HQ_SUBMIT_DIR",
    "HQ_ENTRY",
    "HQ_CPUS",
    "OMP_NUM_THREADS",
    "HQ_PIN",
    "OMP_PROC_BIND",
    "OMP_PLACES",
    "HQ_TASK_DIR",
    "HQ_ERROR_FILENAME",
    "A",
    "B",
    "C",
  ];
  const script = `${printVariables(names)}; ` +
    `[ -d "$HQ_TASK_DIR" ] && echo TASK_DIR_EXISTS=yes; ` +
    `grep Cpus_allowed_list /proc/self/status | tr -d '\\t' | tr : =`;
  const run = async (args: string[]) => {
    const id = await submitJob(server, [...args, "--wait", "bash", "-c", script], {
      cwd: submitDir,
    });
    const tasks = await taskObjects(server, id);
    assert.ok(tasks.every((task) => task.state === "finished"), JSON.stringify(tasks));
    const byTask = new Map<number, Map<string, string | undefined>>();
    for (const task of tasks) {
      const text = await Deno.readTextFile(`${submitDir}/job-${id}/${task.id}.stdout`);
      byTask.set(task.id, printedVariables(text));
    }
    return { id, byTask };
  };

  const plain = await run(["--array", "3-4", "--cpus", "2", "--env", "A=1", "--env", "B"]);
  for (const [taskId, vars] of plain.byTask) {
    assert.deepEqual(vars.get("HQ_CPUS")?.split(",").sort(), ["0", "1"]);
    vars.delete("HQ_CPUS");
    vars.delete("Cpus_allowed_list");
    assert.deepEqual(Object.fromEntries(vars), {
      HQ_JOB_ID: String(plain.id),
      HQ_TASK_ID: String(taskId),
      HQ_INSTANCE_ID: "0",
      HQ_SUBMIT_DIR: submitDir,
      HQ_ENTRY: undefined,
      OMP_NUM_THREADS: "2",
      HQ_PIN: undefined,
      OMP_PROC_BIND: undefined,
      OMP_PLACES: undefined,
      HQ_TASK_DIR: undefined,
      HQ_ERROR_FILENAME: undefined,
      A: "1",
      B: "",
      C: undefined,
    });
  }
  assert.deepEqual([...plain.byTask.keys()], [3, 4]);

  await Deno.writeTextFile(`${submitDir}/lines.txt`, "first\nsecond\n");
  const omp = await run([
    "--each-line",
    "lines.txt",
    "--task-dir",
    "--pin",
    "omp",
    "--env",
    "C=x=y",
  ]);
  for (const [taskId, vars] of omp.byTask) {
    const cpus = vars.get("HQ_CPUS")!;
    assert.match(cpus, /^[01]$/);
    const taskDir = vars.get("HQ_TASK_DIR")!;
    assert.ok(taskDir.startsWith(`${workDir.path}/`), taskDir);
    assert.equal(vars.get("TASK_DIR_EXISTS"), "yes");
    assert.deepEqual(
      [
        "HQ_ENTRY",
        "HQ_ERROR_FILENAME",
        "HQ_PIN",
        "OMP_PROC_BIND",
        "OMP_PLACES",
        "OMP_NUM_THREADS",
        "C",
      ].map((name) => vars.get(name)),
      [
        ["first", "second"][taskId],
        `${taskDir}/hq-error`,
        "omp",
        "close",
        `{${cpus}}`,
        "1",
        "x=y",
      ],
    );
    await assert.rejects(Deno.stat(taskDir), Deno.errors.NotFound, "the task dir is removed");
  }

  const taskset = await run(["--pin", "taskset", "--env", "OMP_NUM_THREADS=7"]);
  const vars = taskset.byTask.get(0)!;
  assert.equal(vars.get("HQ_PIN"), "taskset");
  assert.equal(vars.get("OMP_NUM_THREADS"), "7", "a user's OMP_NUM_THREADS is kept");
  assert.equal(vars.get("OMP_PROC_BIND"), undefined);
  assert.equal(vars.get("Cpus_allowed_list"), vars.get("HQ_CPUS"), "taskset pinned the task");
});

Deno.test("--stdin bytes reach every task's stdin; the worker drops them once the job completes", async () => {
  await using cwd = await tempDir();
  await using work = await tempDir();
  await using c = await cluster(["--work-dir", work.path]);
  const { server } = c;
  const input = "first line\nžluťoučký kůň\n\nlast, without newline";
  const result = await hqAt(
    server,
    ["--output-mode", "quiet", "submit", "--stdin", "--array", "1-3", "--wait", "cat"],
    { cwd: cwd.path, stdin: input },
  );
  assert.equal(result.code, 0, result.stderr);
  const [notice, id, ...rest] = result.stdout.split("\n");
  assert.equal(notice, "Reading data from stdin. In the interactive mode press Ctrl-D to submit.");
  assert.match(id, /^\d+$/);
  assert.deepEqual(rest, [""]);
  for (const task of [1, 2, 3]) {
    assert.equal(await Deno.readTextFile(`${cwd.path}/job-${id}/${task}.stdout`), input);
  }
  // The server tells the worker the job is done: its template and stdin file go.
  await waitUntil(
    async () => !(await filesIn(work.path)).some((name) => name.startsWith("stdin-")),
    { what: "the worker removes the job's stdin file" },
  );
});

// --- What scripts parse: JSON and quiet output ---

Deno.test("JSON of submit, job list, job info and task list has the keys of spec §9, sorted, with RFC 3339 times", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const submitted = await hqAt(
    server,
    [
      "--output-mode",
      "json",
      "submit",
      "--array",
      "0-2",
      "--wait",
      "bash",
      "-c",
      "exit $HQ_TASK_ID",
    ],
    { cwd: cwd.path },
  );
  assert.equal(submitted.code, 0, submitted.stderr);
  const done = JSON.parse(submitted.stdout);
  assert.deepEqual(Object.keys(done), ["id"]);
  assert.equal(typeof done.id, "number");

  const marker = `HQ_JOBS_TEST=${crypto.randomUUID()}`;
  const running = await submitJob(server, [
    "--array",
    "1-3",
    "--env",
    marker,
    "--name",
    "sleeper",
    "--max-fails",
    "4",
    "sleep",
    "1000",
  ], { cwd: cwd.path });
  try {
    await waitUntil(
      () => processesWith(["sleep", "1000"], marker).length === 2 || undefined,
      { what: "two tasks to run" },
    );
    await waitUntil(async () => {
      const tasks = await taskObjects(server, running);
      return tasks.filter((task) => task.state === "running").length === 2;
    }, { what: "two tasks to be RUNNING" });

    const list = JSON.parse(
      await hqOkAt(server, ["--output-mode", "json", "job", "list", "--all"]),
    );
    assert.deepEqual(list.map((job: { id: number }) => job.id), [done.id, running]);
    for (const job of list) {
      assert.deepEqual(Object.keys(job), JOB_INFO_KEYS);
      assert.deepEqual(Object.keys(job.task_stats), TASK_STATS_KEYS);
    }
    assert.deepEqual(list[0], {
      cancel_reason: null,
      id: done.id,
      is_open: false,
      name: "bash",
      task_count: 3,
      task_stats: { aborted: 0, canceled: 0, failed: 2, finished: 1, running: 0, waiting: 0 },
    });
    assert.deepEqual(list[1].task_stats, {
      aborted: 0,
      canceled: 0,
      failed: 0,
      finished: 0,
      running: 2,
      waiting: 1,
    });
    assert.equal(list[1].name, "sleeper");

    const info = JSON.parse(
      await hqOkAt(server, ["--output-mode", "json", "job", "info", `${done.id},${running}`]),
    );
    assert.equal(info.length, 2);
    for (const job of info) {
      assert.deepEqual(Object.keys(job), [
        "finished_at",
        "info",
        "max_fails",
        "started_at",
        "submits",
        "tasks",
      ]);
      assert.deepEqual(Object.keys(job.info), JOB_INFO_KEYS);
      assert.match(job.started_at, TIMESTAMP);
      assert.equal(job.submits.length, 1);
      assert.deepEqual(Object.keys(job.submits[0]), ["array"]);
      assert.deepEqual(Object.keys(job.submits[0].array), [
        "crash_limit",
        "pin_mode",
        "priority",
        "program",
        "resources",
        "task_dir",
        "time_limit",
      ]);
      assert.deepEqual(Object.keys(job.submits[0].array.program), [
        "args",
        "cwd",
        "env",
        "stderr",
        "stdout",
      ]);
    }
    const [finishedJob, runningJob] = info;
    assert.equal(finishedJob.max_fails, null);
    assert.match(finishedJob.finished_at, TIMESTAMP);
    assert.ok(Date.parse(finishedJob.started_at) <= Date.parse(finishedJob.finished_at));
    assert.deepEqual(finishedJob.submits[0].array, {
      crash_limit: 5,
      pin_mode: null,
      priority: 0,
      program: {
        args: ["bash", "-c", "exit $HQ_TASK_ID"],
        cwd: cwd.path,
        env: {},
        stderr: `${cwd.path}/job-${done.id}/%{TASK_ID}.stderr`,
        stdout: `${cwd.path}/job-${done.id}/%{TASK_ID}.stdout`,
      },
      resources: [{
        min_time: 0,
        n_nodes: 0,
        resources: [{ request: { Compact: 10000 }, resource: "cpus" }],
        weight: 10000,
      }],
      task_dir: false,
      time_limit: null,
    });
    const started = (task: TaskJson) => ({
      cwd: cwd.path,
      stdout: `${cwd.path}/job-${done.id}/${task.id}.stdout`,
      stderr: `${cwd.path}/job-${done.id}/${task.id}.stderr`,
      worker: 1,
    });
    const [ok, ...failed] = finishedJob.tasks;
    assert.deepEqual(Object.keys(ok), [
      "cwd",
      "finished_at",
      "id",
      "started_at",
      "state",
      "stderr",
      "stdout",
      "worker",
    ]);
    const { started_at: _started, finished_at: _finished, ...okRest } = ok;
    assert.deepEqual(okRest, { ...started(ok), id: 0, state: "finished" });
    for (const task of finishedJob.tasks) {
      assert.match(task.started_at, TIMESTAMP);
      assert.match(task.finished_at, TIMESTAMP);
      assert.ok(Date.parse(finishedJob.started_at) <= Date.parse(task.started_at));
      assert.ok(Date.parse(task.started_at) <= Date.parse(task.finished_at));
    }
    assert.deepEqual(
      failed.map((task: TaskJson) => [task.id, task.state, task.error, task.worker]),
      [
        [1, "failed", "Program terminated with exit code 1.", 1],
        [2, "failed", "Program terminated with exit code 2.", 1],
      ],
    );
    assert.deepEqual(Object.keys(failed[0]), [
      "cwd",
      "error",
      "finished_at",
      "id",
      "started_at",
      "state",
      "stderr",
      "stdout",
      "worker",
    ]);

    assert.equal(runningJob.finished_at, null);
    assert.equal(runningJob.max_fails, 4);
    assert.deepEqual(runningJob.submits[0].array.program.env, {
      HQ_JOBS_TEST: marker.split("=")[1],
    });
    const [first, second, waiting] = runningJob.tasks;
    for (const task of [first, second]) {
      assert.deepEqual(Object.keys(task), [
        "cwd",
        "id",
        "started_at",
        "state",
        "stderr",
        "stdout",
        "worker",
      ]);
      assert.equal(task.state, "running");
      assert.equal(task.stdout, `${cwd.path}/job-${running}/${task.id}.stdout`);
      assert.match(task.started_at, TIMESTAMP);
    }
    assert.deepEqual(waiting, { id: 3, state: "waiting" });

    const byJob = JSON.parse(
      await hqOkAt(server, ["--output-mode", "json", "task", "list", String(done.id)]),
    );
    assert.deepEqual(Object.keys(byJob), [String(done.id)]);
    assert.deepEqual(byJob[String(done.id)], finishedJob.tasks);

    await hqOkAt(server, ["job", "cancel", String(running)]);
    const canceled = await taskObjects(server, running);
    assert.deepEqual(
      canceled.map((task) => Object.keys(task)),
      [
        ["cwd", "id", "state", "stderr", "stdout"],
        ["cwd", "id", "state", "stderr", "stdout"],
        ["id", "state"],
      ],
      "canceled tasks carry no timestamps or worker (§9.3)",
    );
    assert.ok(canceled.every((task) => task.state === "canceled"));
  } finally {
    await hqAt(server, ["job", "cancel", String(running)]);
    await waitUntil(() => processesWith(["sleep", "1000"], marker).length === 0, {
      what: "the sleeps to end",
    });
  }
});

Deno.test("quiet mode: submit prints the bare id and job list prints `<id> <STATE>` lines, as Nextflow parses them", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  const quiet = (args: string[]) =>
    hqOkAt(server, ["--output-mode=quiet", ...args], { cwd: cwd.path });
  assert.equal(await quiet(["submit", "--wait", "true"]), "1\n");
  assert.equal(await quiet(["submit", "--wait", "false"]), "2\n");
  assert.equal(await quiet(["job", "list", "--all"]), "1 FINISHED\n2 FAILED\n");
  assert.equal(await quiet(["job", "list"]), "", "finished jobs are not listed without --all");
  assert.equal(await quiet(["job", "info", "1"]), "");
  assert.equal(await quiet(["task", "list", "1"]), "");
});

Deno.test("`hq --output-mode=quiet submit --directives=file script.sh` takes the name and CPUs from #HQ lines and runs the script through its shebang", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  await Deno.writeTextFile(
    `${cwd.path}/script.sh`,
    '#!/bin/bash\n#HQ --name=x\n#HQ --cpus=1\necho "ran $HQ_JOB_ID with ${BASH_VERSION:+bash}"\n',
  );
  const stdout = await hqOkAt(
    server,
    ["--output-mode=quiet", "submit", "--directives=file", "script.sh"],
    { cwd: cwd.path },
  );
  assert.match(stdout, /^\d+\n$/);
  const id = Number(stdout);
  await waitForJob(server, id);
  assert.equal(
    await hqOkAt(server, ["--output-mode=quiet", "job", "list", "--all"]),
    `${id} FINISHED\n`,
  );
  const job = await jobDetail(server, id);
  assert.equal(job.info.name, "x");
  assert.deepEqual(job.submits[0].array.program.args, ["/bin/bash", "script.sh"]);
  assert.deepEqual(job.submits[0].array.resources[0].resources, [
    { request: { Compact: 10000 }, resource: "cpus" },
  ]);
  assert.equal(await Deno.readTextFile(`${cwd.path}/job-${id}/0.stdout`), `ran ${id} with bash\n`);
});

// --- Open jobs ---

Deno.test("an open job takes submits (task ids 0, then 1), stays OPENED until closed, and refuses submits once closed", async () => {
  await using cwd = await tempDir();
  await using c = await cluster();
  const { server } = c;
  assert.equal(await hqOkAt(server, ["job", "open"]), "Job 1 is open.\n");
  for (const expected of [0, 1]) {
    const stdout = await hqOkAt(
      server,
      ["submit", "--job", "1", "bash", "-c", "echo $HQ_TASK_ID"],
      { cwd: cwd.path },
    );
    assert.equal(stdout, "Job submitted successfully, job ID: 1\n");
    await waitUntil(async () => {
      const tasks = await taskObjects(server, 1);
      return tasks.length === expected + 1 && tasks.every((task) => task.state === "finished");
    }, { what: `task ${expected} to finish` });
  }
  assert.deepEqual((await taskObjects(server, 1)).map((task) => task.id), [0, 1]);
  assert.equal(await Deno.readTextFile(`${cwd.path}/job-1/1.stdout`), "1\n");
  assert.equal(await hqOkAt(server, ["--output-mode", "quiet", "job", "list"]), "1 OPENED\n");
  const job = await jobDetail(server, 1);
  assert.equal(job.info.is_open, true);
  assert.equal(job.submits.length, 2);

  // `job wait` must not return while the job is open, then return soon after it is closed.
  const waiter = hqWithin(server, ["job", "wait", "1"], { timeoutMs: 20_000 });
  let waited = false;
  waiter.then(() => waited = true, () => waited = true);
  const deadline = Date.now() + 1_500;
  while (Date.now() < deadline) {
    assert.equal(waited, false, "job wait returned while the job was open");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const close = await hqAt(server, ["job", "close", "1"]);
  assert.equal(close.code, 0);
  assert.match(close.stderr, /INFO Job 1 closed\n/);
  const waitResult = await waiter;
  assert.equal(waitResult.code, 0, waitResult.stderr);
  assert.equal(waitResult.stdout, "");
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    "1 FINISHED\n",
  );

  const refused = await hqAt(server, ["submit", "--job", "1", "true"], { cwd: cwd.path });
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /Job 1 is not opened\.\n$/);
  assert.equal((await taskObjects(server, 1)).length, 2, "nothing was added");
});

Deno.test("a --zero-worker worker (hidden, for benchmarks) finishes tasks without starting processes", async () => {
  await using cwd = await tempDir();
  await using c = await cluster(["--zero-worker"]);
  const { server } = c;
  const id = await submitJob(server, ["--array", "1-1000", "--wait", "--", "touch", "ran"], {
    cwd: cwd.path,
  });
  const [job] = JSON.parse(await hqOkAt(server, ["--output-mode", "json", "job", "list", "--all"]));
  assert.equal(job.id, id);
  assert.equal(job.task_stats.finished, 1000);
  assert.deepEqual(await filesIn(cwd.path), [], "no process ran and no output file was made");
  const help = await hqOkAt(server, ["worker", "start", "--help"]);
  assert.ok(!help.includes("zero-worker"), "hidden from help");
});
