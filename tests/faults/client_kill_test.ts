/**
 * Fault injection: `hq` client processes SIGKILLed in the middle of `hq job wait` and of
 * `hq submit`. The server must not notice beyond dropping the connection: it keeps answering,
 * runs its jobs to the end and accepts later submits, and a cut-off submit creates no half job.
 */
import assert from "node:assert/strict";
import { dirname } from "../../common/paths.ts";
import {
  HqProcess,
  hqWithin,
  processesWith,
  submitJob,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "../harness.ts";
import { isConnectedTo, type JobListJson } from "./_fault_harness.ts";

async function clientPort(server: TestServer): Promise<number> {
  return JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"])).client_port;
}

/** Starts `hq --server-dir <dir> <args>` in the background, logging beside the server. */
function spawnClient(server: TestServer, args: string[]): HqProcess {
  return new HqProcess(["--server-dir", server.dir, ...args], {
    logDir: dirname(server.process.stdoutFile),
  });
}

/** Waits until `client` is connected to the server (or has already exited). */
async function connected(client: HqProcess, port: number): Promise<boolean> {
  await waitUntil(() => client.exited || isConnectedTo(client.pid, port), {
    intervalMs: 2,
    what: "the client to connect",
  });
  return !client.exited;
}

function randomDelayMs(maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * maxMs)));
}

/** The server still runs and answers; its log shows no failure. */
async function assertServerHealthy(server: TestServer): Promise<void> {
  assert.equal(server.process.exited, false, server.process.stderr());
  const info = JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"]));
  assert.equal(info.pid, server.process.pid);
  // A vanished client may be logged as a WARN; nothing may be logged as an ERROR or crash.
  assert.doesNotMatch(server.process.stderr(), /^\S+ ERROR |Uncaught|panicked/m);
}

Deno.test("clients SIGKILLed while in `hq job wait` leave the server answering and the job completing", async () => {
  await using cwd = await tempDir("hq-fault-client-");
  const release = `${cwd.path}/release`;
  const marker = `HQ_FAULT_CLIENT_TEST=${crypto.randomUUID()}`;
  const argv = ["bash", "-c", `while [ ! -e '${release}' ]; do sleep 0.05; done`];
  await using server = await TestServer.start();
  await using cleanup = new AsyncDisposableStack();
  cleanup.defer(() => {
    for (const pid of processesWith(argv, marker)) Deno.kill(pid, "SIGKILL");
  });
  cleanup.use(server.startWorker(["--cpus", "2"]));
  await server.waitForWorkerState(1, "RUNNING");
  const port = await clientPort(server);
  const id = await submitJob(server, ["--array", "1-4", "--env", marker, ...argv], {
    cwd: cwd.path,
  });

  // Killed at different points: as soon as connected, and some time into the wait.
  for (const delayMs of [0, 50, 300]) {
    await using waiter = spawnClient(server, ["job", "wait", String(id)]);
    assert.ok(await connected(waiter, port), `job wait exited early: ${waiter.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    assert.equal(waiter.exited, false, "the job cannot be complete yet");
    await waiter.stop("SIGKILL");
  }
  await assertServerHealthy(server);

  // One more waiter killed just as the job completes and the server answers the waiters.
  const late = cleanup.use(spawnClient(server, ["job", "wait", String(id)]));
  const survivor = cleanup.use(spawnClient(server, ["job", "wait", String(id)]));
  assert.ok(await connected(late, port));
  assert.ok(await connected(survivor, port));
  await Deno.writeTextFile(release, "");
  late.kill("SIGKILL");
  await waitUntil(() => survivor.exited, { timeoutMs: 30_000, what: "the last job wait" });
  assert.equal((await survivor.status()).code, 0, survivor.stderr());

  assert.equal(
    (await server.hqOk(["--output-mode", "quiet", "job", "list", "--all"])).trim(),
    `${id} FINISHED`,
  );
  const next = await submitJob(server, ["true"], { cwd: cwd.path });
  assert.equal(next, id + 1);
  await waitForJob(server, next);
  await assertServerHealthy(server);
});

Deno.test("clients SIGKILLed in the middle of a large `hq submit` leave no partial job; the server accepts the next", async () => {
  await using cwd = await tempDir("hq-fault-client-");
  const journal = `${cwd.path}/journal.bin`;
  const serverDir = `${cwd.path}/server`;
  // About 4 MB of entries: long enough to send and handle that kills land mid-way.
  const entries = Array.from({ length: 300_000 }, (_, i) => `entry-${i}`);
  const entriesFile = `${cwd.path}/entries.txt`;
  await Deno.writeTextFile(entriesFile, entries.join("\n") + "\n");
  const submitArgs = [
    "--output-mode",
    "quiet",
    "submit",
    "--each-line",
    entriesFile,
    "--stdout",
    "none",
    "--stderr",
    "none",
    "true",
  ];

  const acknowledged: number[] = [];
  let killedConnected = 0;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const port = await clientPort(server);
    for (let attempt = 0; attempt < 8; attempt++) {
      await using client = spawnClient(server, submitArgs);
      if (!(await connected(client, port))) continue;
      await randomDelayMs(attempt === 0 ? 1 : 400);
      if (!client.exited) killedConnected++;
      await client.stop("SIGKILL");
      const status = await client.status();
      if (status.code === 0) acknowledged.push(Number(client.stdout().trim()));
    }
    assert.ok(killedConnected > 0, "no submit was killed while connected");
    await assertServerHealthy(server);

    const jobs = await server.hqOk(["--output-mode", "json", "job", "list", "--all"]);
    const listed: JobListJson[] = JSON.parse(jobs);
    for (const id of acknowledged) assert.ok(listed.some((job) => job.id === id), `job ${id}`);
    for (const job of listed) {
      assert.equal(job.task_count, entries.length, `job ${job.id} is complete`);
    }
    const next = await submitJob(server, ["--array", "1-3", "true"], { cwd: cwd.path });
    assert.ok(listed.every((job) => job.id < next), `job id ${next} is new`);
    const after = JSON.parse(await server.hqOk(["--output-mode", "json", "job", "list", "--all"]));
    assert.equal(after.length, listed.length + 1);
    // A clean stop, so that the restart below reads a journal without a torn tail.
    const stop = await hqWithin(server, ["server", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
  }

  // The journal holds the same jobs: nothing half-received was journaled.
  await using restarted = await TestServer.start({ serverDir, args: ["--journal", journal] });
  const restored: JobListJson[] = JSON.parse(
    await restarted.hqOk(["--output-mode", "json", "job", "list", "--all"]),
  );
  for (const id of acknowledged) assert.ok(restored.some((job) => job.id === id), `job ${id}`);
  for (const job of restored) {
    if (job.name === "true" && job.task_count === 3) continue;
    assert.equal(job.task_count, entries.length, `restored job ${job.id} is complete`);
  }
});
