/**
 * `hq journal export` and `hq journal report` (journal spec §1.5–§1.7) on journal files written
 * here with the journal writer: no server involved.
 */
import assert from "node:assert/strict";
import type { TaskTemplate } from "../common/job_types.ts";
import { encodeJournalRecord, type JournalEvent } from "../common/journal/journal_events.ts";
import {
  JOURNAL_HEADER_BYTES,
  JournalWriter,
  RECORD_HEADER_BYTES,
} from "../common/journal/journal_file.ts";
import type { WorkerConfiguration } from "../common/protocol.ts";
import { joinPath } from "../common/paths.ts";
import { hq, type HqResult, tempDir } from "./harness.ts";
import { testTaskTemplate, testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";

const INFO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO /;
const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;
const START_MS = Date.UTC(2025, 2, 1, 10, 0, 0);

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

function workerConfig(): WorkerConfiguration {
  return testWorkerConfiguration(4, {
    hostname: "node1",
    listenAddress: "node1:1234",
    workDir: "/tmp/work",
    pid: 1000,
  });
}

function template(): TaskTemplate {
  return testTaskTemplate("/home/user", { cwd: "%{SUBMIT_DIR}" });
}

/** A server run: a worker, a job of two tasks (one fails), a cancelled open job, the stop. */
function serverRun(): JournalEvent[] {
  return [
    { type: "server-start", serverUid: "uid123" },
    { type: "worker-connected", workerId: 1, configuration: workerConfig() },
    {
      type: "job-created",
      jobId: 1,
      name: "array",
      maxFails: null,
      attached: false,
      submit: { template: template(), ids: [[0, 1, 1]], entries: null },
    },
    { type: "task-started", jobId: 1, taskId: 0, instanceId: 0, workerIds: [1], variant: 0 },
    { type: "task-started", jobId: 1, taskId: 1, instanceId: 0, workerIds: [1], variant: 0 },
    { type: "task-finished", jobId: 1, taskId: 0 },
    { type: "task-failed", jobId: 1, taskId: 1, error: "Program terminated with exit code 1." },
    { type: "job-completed", jobId: 1 },
    { type: "job-open", jobId: 2, name: "open", maxFails: 3 },
    {
      type: "job-created",
      jobId: 2,
      name: "open",
      maxFails: 3,
      attached: true,
      submit: { template: template(), ids: [[0, 0, 1]], entries: null },
    },
    { type: "job-cancel", jobId: 2, reason: null },
    { type: "tasks-canceled", tasks: [[2, 0]] },
    { type: "job-close", jobId: 2 },
    { type: "job-completed", jobId: 2 },
    { type: "worker-lost", workerId: 1, reason: "stopped" },
    { type: "server-stop" },
  ];
}

/** Writes a journal of `events`, one second apart; returns the payload of each record. */
async function writeJournal(path: string, events: JournalEvent[]): Promise<Uint8Array[]> {
  const writer = await JournalWriter.open(path);
  const payloads = events.map((event, index) =>
    encodeJournalRecord(START_MS + index * 1000, event)
  );
  for (const payload of payloads) writer.append(payload);
  await writer.close();
  return payloads;
}

async function appendBytes(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.writeFile(path, bytes, { append: true });
}

function assertOneErrorLine(result: HqResult, pattern: RegExp): void {
  assert.equal(result.code, 1, `exit code\n${result.stderr}`);
  assert.match(result.stderr, /^[^\n]+\n$/, "one line on stderr");
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
}

/** The exported lines of stdout, parsed; fails on a line that is not one JSON object. */
function parseExport(stdout: string): Array<{ time: string; event: Record<string, unknown> }> {
  return lines(stdout).map((line) => {
    const value = JSON.parse(line);
    assert.deepEqual(Object.keys(value), ["time", "event"], line);
    return value;
  });
}

Deno.test("journal export prints one JSON line per event with the spec's types and keys", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  await writeJournal(path, serverRun());
  const result = await hq(["journal", "export", path]);
  assert.equal(result.code, 0, result.stderr);

  const exported = parseExport(result.stdout);
  assert.deepEqual(exported.map((line) => line.event.type), [
    "server-start",
    "worker-connected",
    "job-created",
    "task-started",
    "task-started",
    "task-finished",
    "task-failed",
    "job-completed",
    "job-open",
    "job-created",
    "job-cancel",
    "task-canceled",
    "job-close",
    "job-completed",
    "worker-lost",
    "server-stop",
  ]);
  for (const [index, line] of exported.entries()) {
    assert.match(line.time, RFC3339_MS);
    assert.equal(Date.parse(line.time), START_MS + index * 1000);
  }
  const keys = exported.map((line) => Object.keys(line.event).sort().join(","));
  assert.deepEqual(keys, [
    "server_uid,type",
    "configuration,id,type",
    "closed_job,job,job_desc,submit_desc,type",
    "instance,job,task,type,worker",
    "instance,job,task,type,worker",
    "job,task,type",
    "error,job,task,type",
    "job,type",
    "job_id,max_fails,name,type",
    "closed_job,job,job_desc,submit_desc,type",
    "job_id,reason,type",
    "tasks,type",
    "job_id,type",
    "job,type",
    "id,reason,type",
    "type",
  ]);
  assert.equal(exported[0].event.server_uid, "uid123");
  assert.deepEqual(exported[2].event.job_desc, { name: "array", max_fails: null });
  assert.equal(exported[2].event.closed_job, true);
  assert.equal(exported[9].event.closed_job, false);
  const submitDesc = exported[2].event.submit_desc as Record<string, Record<string, unknown>>;
  assert.deepEqual(submitDesc.task_desc.ids, { ranges: [{ start: 0, count: 2, step: 1 }] });
  assert.deepEqual(exported[11].event.tasks, [{ job_id: 2, job_task_id: 0 }]);
  assert.equal(exported[14].event.reason, "Stopped");

  assert.deepEqual(lines(result.stderr).length, 1, result.stderr);
  assert.match(result.stderr, INFO_LINE);
  assert.match(result.stderr, / INFO Outputted 16 events\n$/);
});

Deno.test("journal export says `event` for a single event and prints nothing for none", async () => {
  await using dir = await tempDir();
  const one = joinPath(dir.path, "one.bin");
  await writeJournal(one, [{ type: "server-start", serverUid: "u" }]);
  const oneResult = await hq(["journal", "export", one]);
  assert.equal(oneResult.code, 0, oneResult.stderr);
  assert.equal(lines(oneResult.stdout).length, 1);
  assert.match(oneResult.stderr, / INFO Outputted 1 event\n$/);

  const none = joinPath(dir.path, "none.bin");
  await writeJournal(none, []);
  const noneResult = await hq(["journal", "export", none]);
  assert.equal(noneResult.code, 0, noneResult.stderr);
  assert.equal(noneResult.stdout, "");
  assert.match(noneResult.stderr, / INFO Outputted 0 events\n$/);
});

Deno.test("journal export prints NDJSON in every output mode, and JSON mode ends with {}", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  await writeJournal(path, serverRun().slice(0, 3));
  const cli = await hq(["journal", "export", path]);
  const quiet = await hq(["journal", "export", path, "--output-mode", "quiet"]);
  const json = await hq(["--output-mode", "json", "journal", "export", path]);
  for (const result of [cli, quiet, json]) assert.equal(result.code, 0, result.stderr);
  assert.equal(lines(cli.stdout).length, 3);
  assert.equal(quiet.stdout, cli.stdout);
  assert.equal(json.stdout, `${cli.stdout}{}\n`);
  assert.match(json.stderr, / INFO Outputted 3 events\n$/);
});

Deno.test("journal export reads up to a torn tail and succeeds", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  const payloads = await writeJournal(path, serverRun().slice(0, 4));
  // A crash in the middle of writing a fifth record: its header and half its payload.
  const torn = encodeJournalRecord(START_MS + 9000, { type: "job-completed", jobId: 1 });
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, torn.length, true);
  await appendBytes(path, header);
  await appendBytes(path, torn.subarray(0, torn.length >> 1));

  const result = await hq(["journal", "export", path]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(parseExport(result.stdout).length, payloads.length);
  assert.match(result.stderr, / INFO Outputted 4 events\n$/);
});

Deno.test("journal export fails on a corrupted record in the middle, naming its byte offset", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  const payloads = await writeJournal(path, serverRun().slice(0, 4));
  const secondRecordAt = JOURNAL_HEADER_BYTES + RECORD_HEADER_BYTES + payloads[0].length;
  const bytes = await Deno.readFile(path);
  bytes[secondRecordAt + RECORD_HEADER_BYTES + 2] ^= 0xff;
  await Deno.writeFile(path, bytes);

  const result = await hq(["journal", "export", path]);
  assertOneErrorLine(result, new RegExp(`appears corrupted at byte ${secondRecordAt}\\b`));
  // What came before the damage was already printed.
  assert.equal(parseExport(result.stdout).length, 1);
  assert.doesNotMatch(result.stderr, /Outputted/);

  const json = await hq(["journal", "export", path, "--output-mode", "json"]);
  assert.equal(json.code, 1);
  // One export line, then the pretty-printed error object.
  const error = JSON.parse(json.stdout.slice(json.stdout.indexOf("\n") + 1));
  assert.match(error.error, new RegExp(`appears corrupted at byte ${secondRecordAt}\\b`));
});

Deno.test("journal export fails on an intact record that is not an event", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  const writer = await JournalWriter.open(path);
  const first = encodeJournalRecord(START_MS, { type: "server-start", serverUid: "u" });
  writer.append(first);
  writer.append(new Uint8Array([0xc1, 0xc1, 0xc1])); // never valid msgpack
  writer.append(encodeJournalRecord(START_MS, { type: "server-stop" }));
  await writer.close();

  const result = await hq(["journal", "export", path]);
  const offset = JOURNAL_HEADER_BYTES + RECORD_HEADER_BYTES + first.length;
  assertOneErrorLine(result, new RegExp(`appears corrupted at byte ${offset}: `));
});

Deno.test("journal export rejects a file that is not a journal, or is missing", async () => {
  await using dir = await tempDir();
  const notJournal = joinPath(dir.path, "notes.txt");
  await Deno.writeTextFile(notJournal, "these are not the events you are looking for\n");
  assertOneErrorLine(await hq(["journal", "export", notJournal]), /^Invalid journal format/);

  const empty = joinPath(dir.path, "empty.bin");
  await Deno.writeFile(empty, new Uint8Array());
  assertOneErrorLine(await hq(["journal", "export", empty]), /is empty/);

  const missing = joinPath(dir.path, "missing.bin");
  const result = await hq(["journal", "export", missing]);
  assertOneErrorLine(result, /^Cannot read journal ".*missing\.bin"/);
  assert.equal(result.stdout, "");

  const json = await hq(["journal", "export", notJournal, "--output-mode", "json"]);
  assert.equal(json.code, 1);
  assert.match(JSON.parse(json.stdout).error, /^Invalid journal format/);
});

Deno.test("journal report writes an HTML page titled HQ Journal Report", async () => {
  await using dir = await tempDir();
  const path = joinPath(dir.path, "journal.bin");
  await writeJournal(path, serverRun());
  const output = joinPath(dir.path, "report.html");
  const result = await hq(["journal", "report", path, output]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  const html = await Deno.readTextFile(output);
  assert.match(html, /<title>HQ Journal Report<\/title>/);
  assert.match(html, /Server started/);
  assert.match(html, /Task counts/);
  assert.doesNotMatch(html, /Time filtering/);

  const filtered = joinPath(dir.path, "filtered.html");
  const filteredResult = await hq([
    "journal",
    "report",
    path,
    filtered,
    "--start-time",
    "2s",
    "--end-time",
    "00:00:10",
  ]);
  assert.equal(filteredResult.code, 0, filteredResult.stderr);
  assert.match(await Deno.readTextFile(filtered), /Time filtering/);
});

Deno.test("journal report fails on an empty journal and on one without a server start", async () => {
  await using dir = await tempDir();
  const output = joinPath(dir.path, "report.html");
  const empty = joinPath(dir.path, "empty.bin");
  await writeJournal(empty, []);
  assertOneErrorLine(await hq(["journal", "report", empty, output]), /^Empty journal$/m);

  const headless = joinPath(dir.path, "headless.bin");
  await writeJournal(headless, serverRun().slice(1));
  assertOneErrorLine(
    await hq(["journal", "report", headless, output]),
    /^Journal does not start with server start event$/m,
  );
  await assert.rejects(Deno.stat(output), Deno.errors.NotFound);

  const badTime = await hq(["journal", "report", empty, output, "--start-time", "soon"]);
  assert.equal(badTime.code, 2);
  assert.match(badTime.stderr, /Could not parse PBS walltime/);
});

Deno.test("hq journal lists its commands", async () => {
  const result = await hq(["journal", "--help"]);
  assert.equal(result.code, 0, result.stderr);
  for (const command of ["export", "replay", "stream", "prune", "flush", "report"]) {
    assert.match(result.stdout, new RegExp(`^ {2}${command} `, "m"));
  }
});
