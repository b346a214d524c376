/** The typed API of mod.ts and its examples against a real server and worker. */
import assert from "node:assert/strict";
import {
  connect,
  HqError,
  type HqEvent,
  JobDefinitionError,
  NotFoundError,
  ServerDirError,
  ServerReplyError,
} from "../mod.ts";
import { TestServer, waitUntil } from "./harness.ts";

const EXAMPLES = new URL("../examples/", import.meta.url).pathname;

async function runExample(name: string, args: string[], cwd: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${EXAMPLES}${name}`, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("the API: submit, wait, jobs, tasks, events past and live, cancel, forget, workers", async () => {
  await using server = await TestServer.start();
  const worker = server.startWorker(["--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const cwd = await Deno.makeTempDir({ prefix: "hq-api-" });
  try {
    await using hq = await connect({ serverDir: server.dir });
    const info = await hq.serverInfo();
    assert.equal(info.version, "v0.26.2");

    // The example, as written.
    const { jobId } = await hq.submit({
      name: "api",
      command: ["bash", "-c", "echo $HQ_TASK_ID"],
      array: "1-10",
      submitDir: cwd,
    });
    const job = await hq.wait(jobId);
    assert.equal(job.taskStats.finished, 10);
    assert.equal(job.state, "finished");
    assert.equal(job.name, "api");
    assert.ok(job.completedAt instanceof Date);
    assert.equal(await Deno.readTextFile(`${cwd}/job-${jobId}/7.stdout`), "7\n");

    const some = await hq.tasks(jobId, "2-4");
    assert.deepEqual(some.map((task) => [task.id, task.state, task.workerId]), [
      [2, "finished", 1],
      [3, "finished", 1],
      [4, "finished", 1],
    ]);
    assert.deepEqual((await hq.tasks(jobId, [1, 10])).map((task) => task.id), [1, 10]);

    // A failing task: its error reaches the task and the event stream.
    const failing = await hq.submit({
      command: ["bash", "-c", "echo broken >&2; exit 3"],
      submitDir: cwd,
    });
    const failed = await hq.wait(failing.jobId);
    assert.equal(failed.state, "failed");
    assert.equal(failed.name, "bash");
    const [task] = await hq.tasks(failing.jobId);
    assert.match(task.error ?? "", /exit code 3/);

    // Past events, then live ones.
    const seen: HqEvent[] = [];
    const stream = (async () => {
      for await (const record of hq.events()) {
        seen.push(record);
        if (record.event.type === "job-completed" && record.event.jobId === 3) break;
      }
    })();
    const graphJob = await hq.submitJob({
      name: "graph",
      task: [
        { id: 0, command: ["true"] },
        { id: 1, command: ["true"], deps: [0] },
      ],
    }, { submitDir: cwd });
    assert.equal(graphJob, 3);
    await stream;
    const types = seen.map((record) => record.event.type);
    assert.equal(types[0], "server-start");
    assert.ok(types.includes("worker-connected"));
    const failure = seen.find((record) => record.event.type === "task-failed");
    assert.ok(failure?.event.type === "task-failed" && /exit code 3/.test(failure.event.error));
    const graphStarts = seen.filter((r) => r.event.type === "task-started" && r.event.jobId === 3);
    assert.equal(graphStarts.length, 2);
    assert.ok(seen.every((record) => typeof record.timeMs === "number"));

    // Only the past.
    const past: string[] = [];
    for await (const { event } of hq.events({ live: false })) past.push(event.type);
    assert.ok(past.includes("job-completed"));

    // Cancel and forget.
    const sleeper = await hq.submit({ command: ["sleep", "100"], array: "1-4", submitDir: cwd });
    await waitUntil(async () => (await hq.job(sleeper.jobId)).taskStats.running > 0);
    const [canceled] = await hq.cancel(sleeper.jobId, { reason: "test" });
    assert.equal(canceled.outcome, "canceled");
    const afterCancel = await hq.job(sleeper.jobId);
    assert.equal(afterCancel.state, "canceled");
    assert.equal(afterCancel.cancelReason, "test");
    const jobs = await hq.jobs();
    assert.deepEqual(jobs.map((j) => j.id), [1, 2, 3, 4]);
    assert.deepEqual((await hq.jobs({ states: ["failed"] })).map((j) => j.id), [2]);
    const [forgotten] = await hq.forget(1);
    assert.equal(forgotten.outcome, "forgotten");
    await assert.rejects(hq.job(1), NotFoundError);

    // Typed errors.
    await assert.rejects(hq.submitJob({ task: [] }), JobDefinitionError);
    await assert.rejects(
      hq.submit({ command: ["true"], jobId: 99, submitDir: cwd }),
      ServerReplyError,
    );
    await assert.rejects(connect({ serverDir: cwd }), ServerDirError);

    // Workers.
    const [listed] = await hq.workers();
    assert.equal(listed.id, 1);
    assert.equal(listed.configuration.resources.resources[0].name, "cpus");
    assert.equal((await hq.worker(1)).id, 1);
    await assert.rejects(hq.worker(42), NotFoundError);
    const [stopped] = await hq.stopWorker(1);
    assert.deepEqual(stopped, { workerId: 1, outcome: "stopped" });
    await worker.status();
    assert.deepEqual(await hq.workers(), []);
    assert.equal((await hq.workers("offline"))[0].ended?.reason, "stopped");
  } finally {
    await worker[Symbol.asyncDispose]();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("a live event stream ends when the connection closes", async () => {
  await using server = await TestServer.start();
  const hq = await connect({ serverDir: server.dir });
  const types: string[] = [];
  const done = (async () => {
    for await (const { event } of hq.events()) {
      types.push(event.type);
      if (event.type === "server-start") hq.close();
    }
  })();
  await done;
  assert.deepEqual(types, ["server-start"]);
  await assert.rejects(hq.serverInfo(), HqError);
});

Deno.test("the examples run as written against a server and a worker", async () => {
  await using server = await TestServer.start();
  const worker = server.startWorker(["--cpus", "2"]);
  const cwd = await Deno.makeTempDir({ prefix: "hq-api-examples-" });
  try {
    await server.waitForWorkerState(1, "RUNNING");
    const submitted = await runExample("submit_and_wait.ts", [server.dir], cwd);
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.match(submitted.stdout, /^job 1 \(api\): finished, 10 tasks finished\n/);
    assert.match(submitted.stdout, /task 10: finished on worker 1/);
    assert.equal(await Deno.readTextFile(`${cwd}/job-1/3.stdout`), "3\n");

    const graph = await runExample("task_graph.ts", [server.dir], cwd);
    assert.equal(graph.code, 0, graph.stderr);
    const order = [...graph.stdout.matchAll(/task (\d) started/g)].map((m) => Number(m[1]));
    assert.equal(order[0], 0);
    assert.equal(order[4], 4);

    const events = await runExample("events.ts", ["--past", server.dir], cwd);
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /server-start\n/);
    assert.match(events.stdout, /worker 1 connected from /);
    assert.match(events.stdout, /job-completed\n/);
  } finally {
    await worker[Symbol.asyncDispose]();
    await Deno.remove(cwd, { recursive: true });
  }
});
