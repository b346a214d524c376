/**
 * End-to-end tests of the journal on a real server (journal spec §1): restore after a clean
 * restart, `server info`'s journal path, replay with and without a journal, stream, flush, prune,
 * and a journal corrupted in the middle. Crash scenarios live in tests/faults/.
 */
import assert from "node:assert/strict";
import { encodeJournalRecord, type JournalEvent } from "../common/journal/journal_events.ts";
import { JournalWriter } from "../common/journal/journal_file.ts";
import { testTaskTemplate } from "../server/scheduler/_test_fixtures.ts";
import { hq, HqProcess, submitJob, tempDir, TestServer, waitForJob, waitUntil } from "./harness.ts";

interface ExportLine {
  time: string;
  event: Record<string, unknown> & { type?: string };
}

function lines(stdout: string): ExportLine[] {
  return stdout.trimEnd().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Polls `job list --all` (quiet: `<id> <STATE>` lines) until job `id` is in `state`. */
async function waitForState(server: TestServer, id: number, state: string): Promise<void> {
  await waitUntil(async () => {
    const listed = await server.hqOk(["--output-mode", "quiet", "job", "list", "--all"]);
    return listed.split("\n").includes(`${id} ${state}`);
  }, { what: `job ${id} to be ${state}` });
}

function types(stdout: string): string[] {
  return lines(stdout).map((line) => line.event.type ?? "(none)");
}

Deno.test("a server restarted on its journal keeps unfinished jobs, drops completed ones, continues ids and its uid", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  let uid: string;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const info = JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"]));
    assert.equal(info.journal_path, journal);
    uid = info.server_uid;
    const worker = server.startWorker(["--cpus", "1"]);
    await server.waitForWorkerState(1, "RUNNING");
    const done = await submitJob(server, ["--name", "done", "true"], { cwd: dir.path });
    await waitForJob(server, done);
    await worker.stop();
    await submitJob(server, ["--name", "pending", "--array", "1-3", "true"], { cwd: dir.path });
    await server.hqOk(["job", "open", "--name", "opened"]);
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }
  await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
  const info = JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"]));
  assert.equal(info.server_uid, uid, "the restored server keeps its uid");
  const jobs = JSON.parse(await server.hqOk(["--output-mode", "json", "job", "list", "--all"]));
  assert.deepEqual(
    jobs.map((
      job: { id: number; name: string; is_open: boolean },
    ) => [job.id, job.name, job.is_open]),
    [[2, "pending", false], [3, "opened", true]],
    "the completed job 1 is dropped",
  );
  const next = await submitJob(server, ["true"], { cwd: dir.path });
  assert.equal(next, 4, "job ids continue");
  server.startWorker(["--cpus", "2"]);
  // HyperQueue's quirk: the first worker after a restore is the highest journaled id + 2.
  await server.waitForWorkerState(3, "RUNNING");
  await waitForJob(server, 2);
});

Deno.test("journal replay and export print the spec's event lines; stream follows live events until the server stops", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  await using server = await TestServer.start({ args: ["--journal", journal] });
  server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await using stream = new HqProcess(
    ["journal", "stream", "--server-dir", server.dir],
    { logDir: dir.path },
  );
  const id = await submitJob(server, ["bash", "-c", "exit 3"], { cwd: dir.path });
  await waitForState(server, id, "FAILED");
  await waitUntil(() => types(stream.stdout()).includes("job-completed"), {
    what: "the stream to show the job's completion",
  });

  const replayed = lines(await server.hqOk(["journal", "replay"]));
  const kinds = replayed.map((line) => line.event.type);
  for (
    const kind of [
      "server-start",
      "worker-connected",
      "job-created",
      "task-started",
      "task-failed",
      "job-completed",
    ]
  ) {
    assert.ok(kinds.includes(kind), `${kind} in ${kinds.join(", ")}`);
  }
  const created = replayed.find((line) => line.event.type === "job-created")!;
  assert.match(created.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(created.event.job, id);
  assert.equal(created.event.closed_job, true);
  const failed = replayed.find((line) => line.event.type === "task-failed")!;
  assert.deepEqual(Object.keys(failed.event).sort(), ["error", "job", "task", "type"]);

  await server.hqOk(["journal", "flush"]);
  const exported = await hq(["journal", "export", journal]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(types(exported.stdout), kinds, "export reads what replay streamed");
  assert.match(exported.stderr, new RegExp(`Outputted ${kinds.length} events`));

  await server.hqOk(["server", "stop"]);
  const status = await stream.status();
  assert.equal(status.code, 0, stream.stderr());
  // As in HyperQueue, the stream ends without the `server-stop` that the file has.
  const streamed = types(stream.stdout());
  assert.ok(!streamed.includes("server-stop"), streamed.join(", "));
  assert.equal(types((await hq(["journal", "export", journal])).stdout).at(-1), "server-stop");
});

Deno.test("journal replay without a journal tells the history from memory; flush and prune are no-ops", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  const id = await submitJob(server, ["--array", "1-2", "true"], { cwd: dir.path });
  await waitForJob(server, id);
  const replayed = lines(await server.hqOk(["journal", "replay"]));
  assert.deepEqual(
    replayed.map((line) => line.event.type).filter((type) =>
      type !== "task-started" && type !== "task-finished"
    ),
    ["server-start", "worker-connected", "job-open", "job-created", "job-completed"],
  );
  assert.equal(replayed.filter((line) => line.event.type === "task-finished").length, 2);
  assert.equal(replayed.find((line) => line.event.type === "job-created")!.event.closed_job, false);
  assert.equal(await server.hqOk(["journal", "flush"]), "");
  assert.equal(await server.hqOk(["journal", "prune"]), "");
});

Deno.test("journal prune keeps live jobs and connected workers, and the pruned journal still restores without reusing ids", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    await server.hqOk(["job", "open", "--name", "live"]); // Job 1: open, so live.
    const worker = server.startWorker(["--cpus", "1"]);
    await server.waitForWorkerState(1, "RUNNING");
    const done = await submitJob(server, ["--array", "1-20", "true"], { cwd: dir.path });
    await waitForJob(server, done);
    await worker.stop();
    await server.waitForWorkerState(1, "CONNECTION LOST");
    const before = (await Deno.stat(journal)).size;
    await server.hqOk(["journal", "prune"]);
    const after = (await Deno.stat(journal)).size;
    assert.ok(after < before, `pruned ${before} -> ${after} bytes`);
    const kept = lines(await server.hqOk(["journal", "replay"]));
    assert.deepEqual(
      kept.filter((line) => line.event.job === done).map((line) => line.event.type),
      [],
      "nothing of the completed job, as in HyperQueue",
    );
    assert.ok(
      !kept.some((line) => String(line.event.type).startsWith("worker-")),
      "the offline worker's events are gone",
    );
    // The ids stay used all the same, without `export` showing where that is kept.
    const exported = await hq(["journal", "export", journal]);
    assert.deepEqual(
      lines(exported.stdout).filter((line) => line.event.type === "server-start")
        .map((line) => Object.keys(line.event).sort()),
      [["server_uid", "type"]],
    );
    assert.ok(kept.some((line) => line.event.type === "job-open" && line.event.job_id === 1));
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }
  await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
  const jobs = JSON.parse(await server.hqOk(["--output-mode", "json", "job", "list", "--all"]));
  assert.deepEqual(jobs.map((job: { id: number }) => job.id), [1]);
  assert.equal(await submitJob(server, ["true"], { cwd: dir.path }), 3, "not job 2 again");
  server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(3, "RUNNING"); // Not worker 1 again; HyperQueue's + 2.
});

Deno.test("a journal corrupted in the middle stops hq server start with the byte offset; a torn tail is cut with a warning", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    for (let i = 0; i < 3; i++) await submitJob(server, ["true"], { cwd: dir.path });
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }
  const good = await Deno.readFile(journal);

  // A torn tail: half a record appended.
  await Deno.writeFile(journal, new Uint8Array([...good, 40, 0, 0, 0, 1, 2, 3]));
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    assert.match(server.process.stderr(), /not fully written.*removed|will be removed/);
    const jobs = JSON.parse(await server.hqOk(["--output-mode", "json", "job", "list", "--all"]));
    assert.equal(jobs.length, 3);
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }

  // Corruption in the middle: flip a byte inside the first record after the header.
  const corrupted = await Deno.readFile(journal);
  corrupted[30] ^= 0xff;
  await Deno.writeFile(journal, corrupted);
  const result = await hq(["server", "start", "--server-dir", serverDir, "--journal", journal]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /appears corrupted at byte 12/);
  assert.equal((await Deno.readFile(journal)).length, corrupted.length, "the journal is untouched");
});

Deno.test("a damaged length field in the middle stops hq server start; --journal-truncate-corrupted cuts there", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    for (let i = 0; i < 3; i++) await submitJob(server, ["true"], { cwd: dir.path });
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }
  // The length of the first record (after the 12-byte header) now runs past the end of the file:
  // once read as a torn tail, which silently dropped every job.
  const damaged = await Deno.readFile(journal);
  damaged[12 + 3] ^= 0x01;
  await Deno.writeFile(journal, damaged);
  {
    await using start = new HqProcess(
      ["server", "start", "--server-dir", serverDir, "--journal", journal],
      { logDir: dir.path },
    );
    await waitUntil(() => start.exited, { what: "hq server start to refuse the journal" });
    assert.equal((await start.status()).code, 1, start.stderr());
    assert.match(
      start.stderr(),
      /appears corrupted at byte 12: record length \d+ runs past the end/,
    );
    assert.match(start.stderr(), /--journal-truncate-corrupted/);
  }
  assert.deepEqual(await Deno.readFile(journal), damaged, "the journal is untouched");

  await using server = await TestServer.start({
    serverDir,
    args: ["--journal", journal, "--journal-truncate-corrupted"],
  });
  assert.match(
    server.process.stderr(),
    /damaged at byte 12; the \d+ bytes from there on will be removed/,
  );
  const jobs = JSON.parse(await server.hqOk(["--output-mode", "json", "job", "list", "--all"]));
  assert.equal(jobs.length, 0);
});

Deno.test("hq server start refuses a file that is not a journal", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/not-a-journal`;
  await Deno.writeTextFile(journal, "hello, I am a text file\n");
  const result = await hq([
    "server",
    "start",
    "--server-dir",
    `${dir.path}/s`,
    "--journal",
    journal,
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Invalid journal format/);
  const empty = `${dir.path}/empty`;
  await Deno.writeFile(empty, new Uint8Array());
  const emptyResult = await hq([
    "server",
    "start",
    "--server-dir",
    `${dir.path}/s`,
    "--journal",
    empty,
  ]);
  assert.equal(emptyResult.code, 1);
  assert.match(emptyResult.stderr, /is empty/);
});

Deno.test("journal stream shows the live-only events without a type: an open job going idle, a task's notification", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start();
  server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await using stream = new HqProcess(
    ["journal", "stream", "--server-dir", server.dir],
    { logDir: dir.path },
  );
  await waitUntil(() => types(stream.stdout()).includes("worker-connected"), {
    what: "the stream to start",
  });
  const opened = await server.hqOk(["--output-mode", "quiet", "job", "open"]);
  const id = Number(opened.trim());
  await submitJob(server, ["--job", `${id}`, "--", "bash", "-c", '"$HQ" task notify hello'], {
    cwd: dir.path,
  });
  const idle = await waitUntil(
    () => lines(stream.stdout()).find((line) => line.event.job_id === id && !line.event.type),
    { what: "the job idle line" },
  );
  assert.deepEqual(Object.keys(idle.event), ["job_id"]);
  const notify = lines(stream.stdout()).find((line) => line.event.task_id !== undefined)!;
  assert.deepEqual(notify.event, {
    task_id: { job_id: id, job_task_id: 0 },
    worker_id: 1,
    message: [...new TextEncoder().encode("hello")],
  });
});

Deno.test("journal stream started while tasks run misses and repeats nothing: it ends as the journal file", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  await using server = await TestServer.start({ args: ["--journal", journal] });
  server.startWorker(["--zero-worker", "--cpus", "2"]);
  await server.waitForWorkerState(1, "RUNNING");
  const id = await submitJob(server, ["--array", "1-20000", "true"], { cwd: dir.path });
  await using stream = new HqProcess(
    ["journal", "stream", "--server-dir", server.dir],
    { logDir: dir.path },
  );
  await waitForJob(server, id);
  await server.hqOk(["server", "stop"]);
  assert.equal((await stream.status()).code, 0, stream.stderr());
  const exported = await hq(["journal", "export", journal]);
  assert.equal(exported.code, 0, exported.stderr);
  const streamed = stream.stdout().trimEnd().split("\n");
  const filed = exported.stdout.trimEnd().split("\n");
  // The file's last line is `server-stop`, which a stream never shows (HyperQueue's behaviour).
  assert.match(filed.pop()!, /"type":"server-stop"/);
  assert.equal(streamed.length, filed.length);
  assert.ok(streamed.every((line, i) => line === filed[i]), "the same lines in the same order");
});

Deno.test("a job whose tasks all ended before a crash, but whose completion was not on disk, is listed once more and then dropped", async () => {
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  const writer = await JournalWriter.open(journal);
  const events: JournalEvent[] = [
    { type: "server-start", serverUid: "crashed" },
    {
      type: "job-created",
      jobId: 1,
      name: "all-done",
      maxFails: null,
      attached: false,
      submit: { template: testTaskTemplate(dir.path), ids: [[0, 1, 1]], entries: null },
    },
    { type: "task-started", jobId: 1, taskId: 0, instanceId: 0, workerIds: [1], variant: 0 },
    { type: "task-finished", jobId: 1, taskId: 0 },
    { type: "task-started", jobId: 1, taskId: 1, instanceId: 0, workerIds: [1], variant: 0 },
    { type: "task-finished", jobId: 1, taskId: 1 },
  ];
  events.forEach((event, i) => writer.append(encodeJournalRecord(1_700_000_000_000 + i, event)));
  await writer.close();
  const listed = async () => {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const out = await server.hqOk(["--output-mode", "quiet", "job", "list", "--all"]);
    await server.hqOk(["server", "stop"]);
    await server.process.status();
    return out;
  };
  assert.equal(await listed(), "1 FINISHED\n");
  assert.equal(await listed(), "", "its completion was recorded at the first restart");
});

// Issue 15: instance ids used up by assignments to lost workers are journaled as our own
// `tasks-taken-back`, which HyperQueue has not: export leaves it out, prune keeps it for live jobs.
Deno.test("tasks-taken-back is not exported nor replayed, and prune keeps it for live jobs", async () => {
  const { journalRecords } = await import("./faults/_fault_harness.ts");
  await using dir = await tempDir();
  const journal = `${dir.path}/journal.bin`;
  const serverDir = `${dir.path}/server`;
  const writer = await JournalWriter.open(journal);
  const events: JournalEvent[] = [
    { type: "server-start", serverUid: "taken" },
    {
      type: "job-created",
      jobId: 1,
      name: "live",
      maxFails: null,
      attached: false,
      submit: { template: testTaskTemplate(dir.path), ids: [[0, 1, 1]], entries: null },
    },
    { type: "tasks-taken-back", tasks: [[1, 0, 3], [2, 0, 0]] },
    { type: "server-stop" },
  ];
  events.forEach((event, i) => writer.append(encodeJournalRecord(1_700_000_000_000 + i, event)));
  await writer.close();
  const exported = await hq(["journal", "export", journal]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.deepEqual(types(exported.stdout), ["server-start", "job-created", "server-stop"]);
  assert.match(exported.stderr, /Outputted 3 events/);
  {
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const replayed = await server.hqOk(["journal", "replay"]);
    assert.ok(!replayed.includes("taken-back"), replayed);
    await server.hqOk(["journal", "prune"]);
    await server.hqOk(["server", "stop"]);
    await server.process.status();
  }
  const kept = (await journalRecords(journal)).filter((r) => r.event.type === "tasks-taken-back");
  assert.deepEqual(kept.map((r) => r.event), [
    { type: "tasks-taken-back", tasks: [[1, 0, 3]] },
  ], "only the live job's part");
});
