/**
 * End-to-end tests of job definition files and task dependencies (resources spec §9–§10, jobs
 * spec §7.11): a diamond in dependency order, a failure aborting its dependents only, the §9.5
 * refusals, a dependency rerun after its worker is killed, a server killed mid-graph and
 * restarted on its journal, and dependencies across submits into an open job.
 */
import assert from "node:assert/strict";
import {
  hqAt,
  hqOkAt,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

async function submitFile(
  server: TestServer,
  dir: string,
  toml: string,
  extra: string[] = [],
): Promise<number> {
  await Deno.writeTextFile(`${dir}/job.toml`, toml);
  const out = await hqOkAt(
    server,
    ["--output-mode", "quiet", "job", "submit-file", "job.toml", ...extra],
    { cwd: dir },
  );
  return Number(out.trim());
}

/** A task that appends `<id> start`/`<id> end` lines to `log`, sleeping in between. */
function loggingTask(id: number, deps: number[], log: string, extra = ""): string {
  return `[[task]]
id = ${id}
deps = [${deps.join(", ")}]
command = ["bash", "-c", "echo ${id} start >> ${log}; sleep 0.3; echo ${id} end >> ${log}${extra}"]
`;
}

async function states(server: TestServer, job: number): Promise<Record<number, string>> {
  const tasks = await taskObjects(server, job);
  return Object.fromEntries(tasks.map((task) => [task.id, task.state]));
}

Deno.test("a diamond job file runs in dependency order; task info shows dependencies", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "4"]);
  await server.waitForWorkerState(1, "RUNNING");
  const log = `${dir.path}/order.log`;
  const job = await submitFile(
    server,
    dir.path,
    // The file lists the sink first: tasks are sent dependencies first anyway.
    loggingTask(4, [2, 3], log) + loggingTask(1, [], log) + loggingTask(2, [1], log) +
      loggingTask(3, [1], log),
  );
  await waitForJob(server, job);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  const at = (line: string) => lines.indexOf(line);
  assert.ok(at("1 end") < at("2 start") && at("1 end") < at("3 start"), lines.join("|"));
  assert.ok(at("2 end") < at("4 start") && at("3 end") < at("4 start"), lines.join("|"));
  assert.deepEqual(await states(server, job), {
    1: "finished",
    2: "finished",
    3: "finished",
    4: "finished",
  });
  const info = await hqOkAt(server, ["task", "info", String(job), "4"]);
  assert.match(info, /Dependencies\s*\|\s*2,3/);
});

Deno.test("a failed task's dependents end ABORTED while independent tasks still run", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const job = await submitFile(
    server,
    dir.path,
    `
[[task]]
id = 1
command = ["false"]

[[task]]
id = 2
deps = [1]
command = ["true"]

[[task]]
id = 3
deps = [2]
command = ["true"]

[[task]]
id = 4
command = ["true"]

[[task]]
id = 5
deps = [4]
command = ["true"]
`,
  );
  await hqAt(server, ["job", "wait", String(job)]);
  assert.deepEqual(await states(server, job), {
    1: "failed",
    2: "aborted",
    3: "aborted",
    4: "finished",
    5: "finished",
  });
});

Deno.test("job files breaking the rules of §9.5 are refused with exit 1 and submit nothing", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  const cases: Array<[string, RegExp]> = [
    [
      `[[task]]\nid = 1\ndeps = [2]\ncommand = ["true"]\n[[task]]\nid = 2\ndeps = [1]\ncommand = ["true"]\n`,
      /Task [12] is part of dependency cycle or has an invalid dependencies/,
    ],
    [
      `[[task]]\nid = 1\ndeps = [1]\ncommand = ["true"]\n`,
      /Task 1 is part of dependency cycle or has an invalid dependencies/,
    ],
    [
      `[[task]]\nid = 1\ndeps = [7]\ncommand = ["true"]\n`,
      /Task 1 is part of dependency cycle or has an invalid dependencies/,
    ],
    [
      `[[task]]\nid = 3\ncommand = ["true"]\n[[task]]\nid = 3\ncommand = ["true"]\n`,
      /Task 3 is defined multiple times/,
    ],
    [`[[task]]\ncommand = ["true"]\ncolour = "red"\n`, /unknown field `colour`/],
    [`[[task]]\nid = 1\n`, /missing field `command`/],
    [
      `[array]\nids = "1-3"\ncommand = ["true"]\n[[task]]\ncommand = ["true"]\n`,
      /Definition of array job and individual task cannot be mixed/,
    ],
    [`name = "x"\n`, /No tasks defined/],
    [`[array]\ncommand = ["true"]\n`, /One of attributes of array must be defined/],
    [`[array]\nids = "1-3"\nentries = ["a"]\ncommand = ["true"]\n`, /Items 'ids' and 'entries'/],
    [`[[task]\ncommand = ["true"]\n`, /TOML parse error/],
  ];
  for (const [toml, message] of cases) {
    await Deno.writeTextFile(`${dir.path}/bad.toml`, toml);
    const result = await hqAt(server, ["job", "submit-file", "bad.toml"], { cwd: dir.path });
    assert.equal(result.code, 1, toml);
    assert.match(result.stderr + result.stdout, message, toml);
  }
  const missing = await hqAt(server, ["job", "submit-file", "nope.toml"], { cwd: dir.path });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot read nope.toml/);
  const jobs = JSON.parse(await hqOkAt(server, ["--output-mode", "json", "job", "list", "--all"]));
  assert.deepEqual(jobs, []);
});

Deno.test("submit-file --job adds a graph to an open job, depending on its earlier tasks", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  const log = `${dir.path}/order.log`;
  const job = Number(
    (await hqOkAt(server, ["--output-mode", "quiet", "job", "open"])).trim(),
  );
  await submitFile(server, dir.path, loggingTask(1, [], log), ["--job", String(job)]);
  // Beyond HyperQueue: task 2 waits for task 1 of the earlier submit.
  await submitFile(server, dir.path, loggingTask(2, [1], log), ["--job", String(job)]);
  const clash = await hqAt(server, ["job", "submit-file", "job.toml", "--job", String(job)], {
    cwd: dir.path,
  });
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, new RegExp(`Task 2 already exists in job ${job}.`));
  await Deno.writeTextFile(`${dir.path}/job.toml`, loggingTask(3, [99], log));
  const unknown = await hqAt(server, ["job", "submit-file", "job.toml", "--job", String(job)], {
    cwd: dir.path,
  });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /Task 3 is part of dependency cycle/);
  await using _worker = server.startWorker(["--cpus", "4"]);
  await hqOkAt(server, ["job", "close", String(job)]);
  await waitForJob(server, job);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  assert.deepEqual(lines, ["1 start", "1 end", "2 start", "2 end"]);
});

Deno.test("a dependency whose worker is SIGKILLed reruns elsewhere and its dependents wait", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  const log = `${dir.path}/order.log`;
  const first = server.startWorker(["--cpus", "1", "--heartbeat", "1s"]);
  await server.waitForWorkerState(1, "RUNNING");
  const job = await submitFile(
    server,
    dir.path,
    `[[task]]
id = 1
command = ["bash", "-c", "echo 1 start $HQ_INSTANCE_ID >> ${log}; sleep 2; echo 1 end >> ${log}"]

[[task]]
id = 2
deps = [1]
command = ["bash", "-c", "echo 2 start >> ${log}"]
`,
  );
  await waitUntil(async () => (await Deno.readTextFile(log).catch(() => "")).includes("1 start"));
  first.kill("SIGKILL");
  await first.status();
  await using _second = server.startWorker(["--cpus", "1"]);
  await waitForJob(server, job, 60_000);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  assert.deepEqual(lines.filter((line) => line.startsWith("1 start")), ["1 start 0", "1 start 1"]);
  assert.deepEqual(lines.slice(-2), ["1 end", "2 start"]);
  await first[Symbol.asyncDispose]();
});

Deno.test("a server SIGKILLed mid-graph and restarted on its journal completes it, each task once", async () => {
  await using dir = await tempDir();
  const serverDir = `${dir.path}/server`;
  const journal = `${dir.path}/journal.bin`;
  const log = `${dir.path}/order.log`;
  const chain = [1, 2, 3, 4, 5].map((id) =>
    loggingTask(id, id === 1 ? [] : [id - 1], log, "; sleep 0.2")
  ).join("");
  let job: number;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const worker = server.startWorker(["--cpus", "2"]);
    job = await submitFile(server, dir.path, chain);
    await waitUntil(async () => (await Deno.readTextFile(log).catch(() => "")).includes("3 start"));
    server.process.kill("SIGKILL");
    await server.process.status();
    worker.kill("SIGKILL");
    await worker.status();
    await worker[Symbol.asyncDispose]();
  }
  await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
  await using _worker = server.startWorker(["--cpus", "2"]);
  await waitForJob(server, job, 60_000);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  // A task whose end the journal had not yet written when the server died runs again; every
  // (last) run still starts after its dependency's last end.
  for (let id = 2; id <= 5; id++) {
    assert.ok(
      lines.lastIndexOf(`${id} start`) > lines.lastIndexOf(`${id - 1} end`),
      lines.join("|"),
    );
  }
  assert.ok(lines.includes("5 end"));
  const tasks = await taskObjects(server, job);
  assert.deepEqual(tasks.map((task) => task.id), [1, 2, 3, 4, 5]);
  assert.deepEqual(Object.values(await states(server, job)), Array(5).fill("finished"));
});
