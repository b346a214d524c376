/**
 * Fault injection: `hq journal prune` on a busy server (issue 15, fault 1). Prunes run while a
 * worker finishes tasks as fast as it can and clients submit: no task event fails, no worker is
 * disconnected, every prune succeeds, and every acknowledged submit is in the journal after the
 * server is SIGKILLed and restarted on it.
 */
import assert from "node:assert/strict";
import { tempDir, waitUntil } from "../harness.ts";
import { FaultServer, type JobListJson, submitRequest, taskList } from "./_fault_harness.ts";

Deno.test("prunes on a busy server lose no task event, no worker and no acknowledged submit", async () => {
  await using work = await tempDir("hq-fault-prune-");
  const options = {
    serverDir: `${work.path}/server`,
    logDir: work.path,
    journalPath: `${work.path}/journal.bin`,
  };
  const acknowledged: number[] = [];
  let arrayJob: number;
  {
    await using server = await FaultServer.start(options);
    await using _worker = server.startWorker(["--cpus", "4"]);
    await waitUntil(async () => (await server.hqJson<unknown[]>(["worker", "list"])).length === 1);
    const client = await server.connect();
    try {
      const created = await client.request(
        submitRequest(["true"], { submitDir: work.path, count: 3_000 }),
      );
      assert.equal(created.type, "job-created");
      arrayJob = created.type === "job-created" ? created.jobId : 0;
      let running = true;
      // Jobs that never run (no worker has the resource), so that a restart restores them.
      const submits = (async () => {
        while (running) {
          const request = submitRequest(["true"], { submitDir: work.path });
          if (request.type === "submit") {
            request.submit.template.resources = [{
              name: "gpus",
              amount: 10_000,
              policy: "compact",
            }];
          }
          const response = await client.request(request);
          if (response.type === "job-created") acknowledged.push(response.jobId);
        }
      })();
      const prune = () =>
        client.request({ type: "journal-prune" }).then((r) => r.type, (error) => String(error));
      const prunes = [];
      for (let round = 0; round < 8; round++) {
        prunes.push(prune(), prune());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(await Promise.all(prunes), prunes.map(() => "ok"));
      await waitUntil(async () => {
        const tasks = await taskList(server, arrayJob);
        return tasks.every((task) => task.state === "finished");
      }, { timeoutMs: 60_000, what: "the array to finish" });
      running = false;
      await submits;
      await client.request({ type: "journal-prune" });
    } finally {
      client.close();
    }
    const workers = await server.hqJson<Array<{ id: number; state: string }>>(["worker", "list"]);
    assert.equal(workers.length, 1, server.process.stderr());
    assert.doesNotMatch(server.process.stderr(), /ERROR|WARN Worker connection/);
    await server.kill();
  }
  await using restarted = await FaultServer.start(options);
  const jobs = await restarted.hqJson<JobListJson[]>(["job", "list", "--all"]);
  const ids = new Set(jobs.map((job) => job.id));
  assert.ok(acknowledged.length > 0);
  for (const id of acknowledged) assert.ok(ids.has(id), `acknowledged job ${id} is lost`);
});
