/**
 * End-to-end tests of what users see of task graphs (issue 14): a job file of tasks with
 * different settings is one submit in `job info` JSON and one `job-created` with `{n_tasks}` in
 * `journal export`, as in HyperQueue, also after a restart on the journal and in the history a
 * server without a journal rebuilds; `task explain` of a task waiting on unfinished dependencies;
 * a graph submitted through the TypeScript API (`HqClient.submitJob`) runs in dependency order.
 */
import assert from "node:assert/strict";
import { HqClient } from "../client/mod.ts";
import { connect } from "../mod.ts";
import { hq, hqOkAt, tempDir, TestServer, waitForJob, waitUntil } from "./harness.ts";

/** A `[[task]]` that appends `<id> start`/`<id> end` to `log`: each one's command differs. */
function loggingTask(id: number, deps: number[], log: string): string {
  return `[[task]]
id = ${id}
deps = [${deps.join(", ")}]
command = ["bash", "-c", "echo ${id} start >> ${log}; sleep 0.1; echo ${id} end >> ${log}"]
`;
}

async function submitFile(server: TestServer, dir: string, toml: string): Promise<number> {
  await Deno.writeTextFile(`${dir}/job.toml`, toml);
  const out = await hqOkAt(server, ["--output-mode", "quiet", "job", "submit-file", "job.toml"], {
    cwd: dir,
  });
  return Number(out.trim());
}

interface GraphSubmitJson {
  graph?: Array<{ program: { args: string[] } }>;
  array?: unknown;
}

async function submitsOf(server: TestServer, job: number): Promise<GraphSubmitJson[]> {
  const [info] = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "job", "info", String(job)]),
  );
  return info.submits;
}

Deno.test("a job file of tasks with different commands is one submit in job info and the journal", async () => {
  await using dir = await tempDir();
  const serverDir = `${dir.path}/server`;
  const journal = `${dir.path}/journal.bin`;
  const log = `${dir.path}/order.log`;
  // Five different commands: sent as five submits, one per run of tasks alike. The last task
  // asks for a resource no worker has, so the job stays unfinished and a restart restores it.
  const toml = loggingTask(1, [], log) + loggingTask(2, [1], log) + loggingTask(3, [1], log) +
    loggingTask(4, [2, 3], log) + loggingTask(5, [4], log) +
    `request = [{ resources = { gpus = 1 } }]\n`;
  let job: number;
  const check = async (server: TestServer) => {
    const submits = await submitsOf(server, job);
    assert.equal(submits.length, 1, JSON.stringify(submits));
    assert.deepEqual(
      submits[0].graph?.map((task) => task.program.args[2].split(";")[0]),
      [1, 2, 3, 4, 5].map((id) => `echo ${id} start >> ${log}`),
    );
  };
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    await using _worker = server.startWorker(["--cpus", "4"]);
    job = await submitFile(server, dir.path, toml);
    await waitUntil(async () => (await Deno.readTextFile(log).catch(() => "")).includes("4 end"));
    await check(server);
    await hqOkAt(server, ["server", "stop"]);
    await server.process.status();
  }
  const exported = (await hq(["journal", "export", journal])).stdout.trim().split("\n")
    .map((line) => JSON.parse(line).event)
    .filter((event) => event.type === "job-created");
  assert.equal(exported.length, 1, JSON.stringify(exported));
  assert.equal(exported[0].closed_job, true);
  assert.deepEqual(exported[0].submit_desc.task_desc, { n_tasks: 5 });
  // Restored from the journal: still one submit of five tasks.
  await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
  await check(server);
  await hqOkAt(server, ["job", "cancel", String(job)]);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  assert.equal(lines.length, 8);
  assert.ok(lines.indexOf("4 start") > lines.indexOf("2 end"), lines.join("|"));
});

Deno.test("task explain names the unfinished dependencies of a waiting task", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  const job = await submitFile(
    server,
    dir.path,
    `
[[task]]
id = 1
command = ["true"]

[[task]]
id = 2
command = ["sleep", "30"]

[[task]]
id = 3
deps = [1, 2]
command = ["true"]
`,
  );
  const explain = async () =>
    JSON.parse(await hqOkAt(server, ["--output-mode", "json", "task", "explain", `${job}`, "3"]));
  // No worker yet: both dependencies unfinished. HyperQueue's line for that case is its quirk.
  const before = await explain();
  assert.deepEqual(
    [before.explanation.n_task_deps, before.explanation.n_waiting_deps],
    [2, 2],
  );
  await using _worker = server.startWorker(["--cpus", "2"]);
  await waitUntil(async () => (await explain()).explanation.n_waiting_deps === 1);
  const text = await hqOkAt(server, ["task", "explain", `${job}`, "3"]);
  assert.match(
    text,
    new RegExp(`Task ${job}@3 is not ready to run, because 1/2 dependencies are not finished\\.`),
  );
  await hqOkAt(server, ["job", "cancel", `${job}`]);
});

Deno.test("HqClient.submitJob submits a graph that runs in dependency order", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "4"]);
  await server.waitForWorkerState(1, "RUNNING");
  const log = `${dir.path}/order.log`;
  const step = (id: number) => ["bash", "-c", `echo ${id} >> ${log}; sleep 0.1`];
  const client = await HqClient.connect({ serverDir: server.dir });
  try {
    // Listed sink first, and with a resource request: sent dependencies first anyway.
    const job = await client.submitJob({
      name: "api-graph",
      task: [
        { id: 4, deps: [2, 3], command: step(4), request: [{ resources: { cpus: 2 } }] },
        { id: 1, command: step(1) },
        { id: 2, deps: [1], command: step(2) },
        { id: 3, deps: [1], command: step(3) },
      ],
    }, { submitDir: dir.path });
    await waitForJob(server, job);
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines[0], "1");
    assert.deepEqual(lines.slice(1, 3).sort(), ["2", "3"]);
    assert.equal(lines[3], "4");
    const [info] = JSON.parse(
      await hqOkAt(server, ["--output-mode", "json", "job", "info", String(job)]),
    );
    assert.equal(info.info.name, "api-graph");
    assert.equal(info.info.task_stats.finished, 4);
    assert.equal(info.submits.length, 1);
    assert.equal(info.submits[0].graph.length, 4);
  } finally {
    client.close();
  }
});

Deno.test("without a journal, the rebuilt history has one job-created event per job file too", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  await using hq = await connect({ serverDir: server.dir });
  const job = await hq.submitJob({
    task: [
      { id: 1, command: ["echo", "one"] },
      { id: 2, deps: [1], command: ["echo", "two"] },
      { id: 3, deps: [1], command: ["echo", "three"] },
    ],
  }, { submitDir: dir.path });
  const created = [];
  for await (const { event } of hq.events({ live: false })) {
    if (event.type === "job-created" && event.jobId === job) created.push(event);
  }
  assert.equal(created.length, 1);
  assert.deepEqual(
    [created[0].submit, ...created[0].more ?? []].map((submit) => submit.template.args),
    [["echo", "one"], ["echo", "two"], ["echo", "three"]],
  );
  await hq.cancel(job);
});
