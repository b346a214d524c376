/**
 * Issue 15, item 9: what a careless client or a stalled machine must not do to the server.
 */
import assert from "node:assert/strict";
import { joinPath } from "../common/paths.ts";
import { HqClient } from "../client/hq_client.ts";
import { encodeJournalRecord } from "../common/journal/journal_events.ts";
import { rewriteJournal } from "../common/journal/journal_file.ts";
import { hq, HqProcess, submitJob, tempDir, TestServer, waitUntil } from "./harness.ts";

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

/** A journal of `count` opened (empty) jobs: restoring it takes a while. */
async function slowJournal(path: string, count: number): Promise<void> {
  function* payloads() {
    yield encodeJournalRecord(0, { type: "server-start", serverUid: "slowjournal" });
    for (let jobId = 1; jobId <= count; jobId++) {
      yield encodeJournalRecord(jobId, { type: "job-open", jobId, name: "x", maxFails: null });
    }
  }
  await rewriteJournal(path, payloads());
}

Deno.test("of two hq server starts in one directory one wins; a crashed server's lock does not block", async () => {
  await using dir = await tempDir("hq-two-servers-");
  await using logs = await tempDir("hq-two-servers-logs-");
  const journal = joinPath(logs.path, "journal");
  await slowJournal(journal, 40_000);
  const start = (args: string[] = []) =>
    new HqProcess(["server", "start", "--server-dir", dir.path, "--host", "127.0.0.1", ...args], {
      logDir: logs.path,
    });
  // The first restores its journal before it publishes its access file; the second starts
  // meanwhile, when no live server can be seen in the directory yet.
  await using first = start(["--journal", journal]);
  await waitUntil(() => first.stderr().includes("HyperQueue"), { what: "the first to start" });
  await using second = start();
  await waitUntil(() => second.exited, { what: "the second start to refuse" });
  assert.equal((await second.status()).code, 1, second.stderr());
  assert.match(second.stderr(), /already online/);
  await waitUntil(async () => (await hq(["server", "info", "--server-dir", dir.path])).code === 0, {
    what: "the first to answer",
  });
  const info = JSON.parse(
    (await hq(["--output-mode", "json", "server", "info", "--server-dir", dir.path])).stdout,
  );
  assert.equal(info.pid, first.pid);
  // A SIGKILLed server leaves its lock file, which binds nothing.
  await first.stop("SIGKILL");
  await using third = start();
  await waitUntil(async () => {
    if (third.exited) throw new Error(`the third start exited: ${third.stderr()}`);
    return (await hq(["server", "info", "--server-dir", dir.path])).code === 0;
  }, { what: "a start after the crash to serve" });
  await third.stop("SIGTERM");
  assert.equal((await third.status()).code, 0);
});

Deno.test("a server stopped for a while (SIGSTOP) gives its workers a fresh heartbeat window", async () => {
  await using server = await TestServer.start();
  await using _one = server.startWorker(["--cpus", "1", "--heartbeat", "500ms"]);
  await using _two = server.startWorker(["--cpus", "1", "--heartbeat", "500ms"]);
  await server.waitForWorkerState(1, "RUNNING");
  await server.waitForWorkerState(2, "RUNNING");
  Deno.kill(server.process.pid, "SIGSTOP");
  try {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // 6 heartbeat periods.
  } finally {
    Deno.kill(server.process.pid, "SIGCONT");
  }
  // Two more periods: workers that really were gone would be lost by now.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.deepEqual([...(await server.workerStates())], [[1, "RUNNING"], [2, "RUNNING"]]);
  assert.match(server.process.stderr(), /did not run for 3(\.\d)? s/);
});
