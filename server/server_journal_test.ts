import assert from "node:assert/strict";
import type { JournalEvent } from "../common/journal/journal_events.ts";
import { tempDir } from "../tests/harness.ts";
import { journalRecords } from "../tests/faults/_fault_harness.ts";
import { ServerJournal } from "./server_journal.ts";

const open = (jobId: number): JournalEvent => ({
  type: "job-open",
  jobId,
  name: "j",
  maxFails: null,
});
/** What the tests' prunes keep: every event but the opens of even job ids. */
const keepOdd = (event: JournalEvent) =>
  event.type === "job-open" && event.jobId % 2 === 0 ? null : event;

async function jobIdsIn(path: string): Promise<number[]> {
  return (await journalRecords(path)).map(({ event }) =>
    event.type === "job-open" ? event.jobId : -1
  );
}

Deno.test("ServerJournal.prune keeps every record appended and flushed while it runs", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/journal`;
  const { journal } = await ServerJournal.open(path, 3_600_000);
  for (let id = 1; id <= 2_000; id++) journal.record(open(id));
  const pruned = journal.prune(keepOdd);
  let done = false;
  pruned.then(() => (done = true), () => (done = true));
  let next = 2_001;
  while (!done) {
    // Recorded at every stage of the prune, and acknowledged (flushed) as a submit would be.
    assert.equal(journal.record(open(next++)), true);
    await journal.flush();
  }
  await pruned;
  for (let id = next; id < next + 10; id++) journal.record(open(id));
  await journal.close();
  const expected = [];
  for (let id = 1; id < next + 10; id++) if (id > 2_000 || id % 2 === 1) expected.push(id);
  assert.deepEqual(await jobIdsIn(path), expected);
});

Deno.test("ServerJournal.prune that fails leaves the old file written to; prunes run one at a time", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/journal`;
  const { journal } = await ServerJournal.open(path, 3_600_000);
  journal.record(open(1));
  journal.record(open(2));
  // The temporary file cannot be created: a directory that is not empty stands in its way.
  await Deno.mkdir(`${path}.tmp`);
  await Deno.writeTextFile(`${path}.tmp/block`, "");
  await assert.rejects(journal.prune(keepOdd));
  assert.equal(journal.failure, null);
  assert.equal(journal.record(open(3)), true);
  await journal.flush();
  assert.deepEqual(await jobIdsIn(path), [1, 2, 3]);

  await Deno.remove(`${path}.tmp`, { recursive: true });
  const mode = (await Deno.stat(path)).mode! & 0o777;
  await Promise.all([journal.prune(keepOdd), journal.prune(keepOdd), journal.prune(keepOdd)]);
  journal.record(open(5));
  await journal.close();
  assert.deepEqual(await jobIdsIn(path), [1, 3, 5]);
  assert.equal((await Deno.stat(path)).mode! & 0o777, mode);
});

// Issue 15, item 9: a start that crashed between creating the journal and syncing its header
// left an empty (or partial-header) file, which every later start refused as "empty".
Deno.test("ServerJournal.open starts anew on a journal that holds only part of its header", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/journal`;
  {
    const { journal } = await ServerJournal.open(path, 3_600_000);
    await journal.close();
  }
  const header = await Deno.readFile(path);
  for (const partial of [header.subarray(0, 5), new Uint8Array(7)]) {
    await Deno.writeFile(path, partial);
    const { journal, restored } = await ServerJournal.open(path, 3_600_000);
    assert.equal(restored, null);
    journal.record(open(1));
    await journal.close();
    assert.deepEqual(await jobIdsIn(path), [1]);
  }
  // An empty file is refused (journal spec §1.4; ours are created whole, header first), and so
  // is anything else short: it is not ours to throw away.
  await Deno.writeFile(path, new Uint8Array(0));
  await assert.rejects(ServerJournal.open(path, 3_600_000), /is empty/);
  await Deno.writeFile(path, new TextEncoder().encode("HQJRXL"));
  await assert.rejects(ServerJournal.open(path, 3_600_000), /not an hq journal/);
});

// Issue 15, item 9: the journal was read whole into memory on start, replay and prune.
Deno.test("ServerJournal never reads the journal whole: restore, replay and prune read it in chunks", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/journal`;
  {
    const { journal } = await ServerJournal.open(path, 3_600_000);
    for (let id = 1; id <= 3_000; id++) journal.record(open(id));
    await journal.close();
  }
  const readFile = Deno.readFile;
  const readFileSync = Deno.readFileSync;
  Deno.readFile = () => Promise.reject(new Error("the journal was read whole"));
  Deno.readFileSync = () => {
    throw new Error("the journal was read whole");
  };
  let journal: ServerJournal;
  try {
    const opened = await ServerJournal.open(path, 3_600_000);
    journal = opened.journal;
    assert.equal(opened.restored?.events, 3_000);
    const replayed: number[] = [];
    const stop = await journal.replay(
      (records) => {
        for (const [, event] of records) if (event.type === "job-open") replayed.push(event.jobId);
      },
      false,
      () => [],
    );
    stop();
    assert.equal(replayed.length, 3_000);
    assert.deepEqual(replayed.slice(0, 3), [1, 2, 3]);
    await journal.prune(keepOdd);
  } finally {
    Deno.readFile = readFile;
    Deno.readFileSync = readFileSync;
  }
  await journal.close();
  assert.deepEqual(
    (await jobIdsIn(path)).filter((id) => id !== -1),
    Array.from({ length: 1_500 }, (_, i) => 2 * i + 1),
  );
});
