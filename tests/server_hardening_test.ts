/**
 * Issue 15, item 9: what a careless client or a stalled machine must not do to the server.
 */
import assert from "node:assert/strict";
import { joinPath } from "../common/paths.ts";
import { HqClient } from "../client/hq_client.ts";
import { submitJob, tempDir, TestServer, waitUntil } from "./harness.ts";

/** The server's `debug-dump`, parsed. */
async function debugDump(server: TestServer): Promise<Record<string, unknown>> {
  const path = joinPath(server.dir, `dump-${crypto.randomUUID()}.json`);
  await server.hqOk(["server", "debug-dump", path]);
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("the job waits of a client that disconnects are dropped", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  // No worker: the job never finishes.
  const jobId = await submitJob(server, ["--", "true"], { cwd: cwd.path });
  const client = await HqClient.connect({ serverDir: server.dir });
  const waits = Array.from(
    { length: 2000 },
    () =>
      client.request({
        type: "job-wait",
        selector: { type: "ids", ranges: [[jobId, jobId, 1]] },
        withoutClose: false,
      })
        .catch(() => {}),
  );
  await waitUntil(async () => (await debugDump(server)).pendingWaits === 2000, {
    what: "2000 pending waits",
  });
  client.close();
  await Promise.all(waits);
  await waitUntil(async () => (await debugDump(server)).pendingWaits === 0, {
    what: "the waits to be dropped",
  });
  // A later wait still works.
  const other = await HqClient.connect({ serverDir: server.dir });
  try {
    const wait = other.request({
      type: "job-wait",
      selector: { type: "ids", ranges: [[jobId, jobId, 1]] },
      withoutClose: false,
    });
    await server.hqOk(["job", "cancel", String(jobId)]);
    assert.equal((await wait).type, "ok");
    assert.equal((await debugDump(server)).pendingWaits, 0);
  } finally {
    other.close();
  }
});
