/**
 * Requests an authenticated client can send that used to kill or brick the server (issue 15,
 * fault 2): each gets a clear error back, changes nothing, and the server keeps answering and
 * restarts on its journal.
 */
import assert from "node:assert/strict";
import type { ClientRequest } from "../common/protocol.ts";
import { ServerReplyError } from "../common/errors.ts";
import { tempDir } from "./harness.ts";
import { FaultServer, submitRequest } from "./faults/_fault_harness.ts";
import type { HqClient } from "../client/mod.ts";
import { queueParams } from "../common/_test_queue_params.ts";

/** The request's error message; fails when it succeeds or takes longer than 10 s. */
async function refused(client: HqClient, request: ClientRequest): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No answer to ${request.type}`)), 10_000);
  });
  try {
    await Promise.race([client.request(request), timeout]);
  } catch (error) {
    if (error instanceof ServerReplyError) return error.message;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`The server accepted ${JSON.stringify(request)}`);
}

Deno.test("malformed requests are refused before they are journaled; the server answers and restarts", async () => {
  await using work = await tempDir("hq-validation-");
  const options = {
    serverDir: `${work.path}/server`,
    logDir: work.path,
    journalPath: `${work.path}/journal.bin`,
  };
  {
    await using server = await FaultServer.start(options);
    const client = await server.connect();
    try {
      const job = await client.request(submitRequest(["true"], { submitDir: work.path }));
      assert.equal(job.type, "job-created");

      // Step 0: an endless range.
      const message = await refused(client, {
        type: "job-cancel",
        selector: { type: "ids", ranges: [[1, 5, 0]] },
        reason: null,
      });
      assert.match(message, /step must be at least 1/);

      const submit = submitRequest(["true"], { submitDir: work.path }) as Extract<
        ClientRequest,
        { type: "submit" }
      >;
      const nullIds = { ...submit, submit: { ...submit.submit, ids: [null] } };
      assert.match(await refused(client, nullIds as unknown as ClientRequest), /"ids"/);
      const template = { ...submit.submit.template, resources: [null] };
      const nullResources = { ...submit, submit: { ...submit.submit, template } };
      assert.match(
        await refused(client, nullResources as unknown as ClientRequest),
        /"resources\[0\]"/,
      );
      const stepZero = { ...submit, submit: { ...submit.submit, ids: [[0, 5, 0]] } };
      assert.match(await refused(client, stepZero as ClientRequest), /step must be at least 1/);
      const huge = { ...submit, submit: { ...submit.submit, ids: [[0, 99_999_999, 1]] } };
      assert.match(
        await refused(client, huge as ClientRequest),
        /A job can hold at most 4,000,000 tasks, this submit has 100,000,000/,
      );

      // 20,000 ranges of 100,000 ids each: 2·10⁹ ids if expanded.
      const ranges: Array<[number, number, number]> = [];
      for (let i = 0; i < 20_000; i++) ranges.push([i * 200_000, i * 200_000 + 99_999, 1]);
      const started = Date.now();
      const info = await client.request({ type: "job-info", selector: { type: "ids", ranges } });
      assert.equal(info.type, "job-details");
      if (info.type === "job-details") assert.equal(info.jobs.length, 1);
      assert.ok(Date.now() - started < 10_000, `job-info took ${Date.now() - started} ms`);

      // Queue parameters are journaled too: a queue that cannot be restored is refused.
      const params = { ...queueParams(), backlog: 0, cliResources: [null] };
      assert.match(
        await refused(
          client,
          { type: "alloc-add", params, dryRun: false } as unknown as ClientRequest,
        ),
        /"backlog" must be a positive integer/,
      );
      const garbage = { ...queueParams(), cliResources: [{ name: "cpus", kind: "bogus" }] };
      assert.match(
        await refused(client, {
          type: "alloc-add",
          params: garbage,
          dryRun: false,
        } as unknown as ClientRequest),
        /"cliResources"/,
      );

      assert.equal((await client.serverInfo()).pid, server.process.pid);
    } finally {
      client.close();
    }
    await server.kill();
  }
  // Nothing of the refused requests reached the journal: the server starts on it again.
  await using restarted = await FaultServer.start(options);
  const jobs = await restarted.hqJson<Array<{ id: number }>>(["job", "list", "--all"]);
  assert.deepEqual(jobs.map((job) => job.id), [1]);
});
