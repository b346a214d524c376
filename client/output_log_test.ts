import assert from "node:assert/strict";
import {
  encodeHeader,
  formatStreamSize,
  RECORD_CHUNK,
  RECORD_HEAD_BYTES,
  RECORD_START,
  writeRecordHead,
} from "../common/stream_log.ts";
import { HqError } from "../common/errors.ts";
import { exportTasks, OutputLog, showLines, type StreamInstance } from "./output_log.ts";

const text = new TextEncoder();

/** A stream file's bytes: a header and records `[kind, job, task, instance, channel, data]`. */
function streamFile(
  uid: string,
  records: Array<[number, number, number, number, 0 | 1, string]>,
): Uint8Array {
  const parts = [encodeHeader({ serverUid: uid, workerId: 1 })];
  records.forEach(([kind, jobId, taskId, instanceId, channel, data], i) => {
    const bytes = text.encode(data);
    const record = new Uint8Array(RECORD_HEAD_BYTES + bytes.length);
    const head = { kind: kind as 0 | 1, channel, jobId, taskId, instanceId, timeMs: 1000 + i };
    writeRecordHead(new DataView(record.buffer), 0, head, bytes.length);
    record.set(bytes, RECORD_HEAD_BYTES);
    parts.push(record);
  });
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** One channel's chunks of the instances, each copied. */
async function channelBytes(
  log: OutputLog,
  instances: StreamInstance[],
  channel: 0 | 1,
): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const part of log.channelData(instances, channel)) parts.push(part.slice());
  return parts;
}

const S = RECORD_START;
const C = RECORD_CHUNK;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hq-output-log-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("OutputLog keeps each task's last instance and counts the older ones as superseded", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/a.hqs`,
      streamFile("uid1", [
        [S, 1, 2, 0, 0, ""],
        [C, 1, 2, 0, 0, "old"],
        [S, 1, 1, 0, 0, ""],
        [C, 1, 1, 0, 1, "e1"],
        [C, 1, 1, 0, 0, "o1"],
        [C, 1, 1, 0, 0, ""],
      ]),
    );
    await Deno.writeFile(
      `${dir}/b.hqs`,
      streamFile("uid1", [[S, 1, 2, 1, 0, ""], [C, 1, 2, 1, 0, "new"], [S, 3, 0, 0, 0, ""]]),
    );
    const log = await OutputLog.read(dir);
    assert.deepEqual(log.jobIds(), [1, 3]);
    const summary = log.summary();
    assert.deepEqual(
      { ...summary, path: undefined },
      {
        path: undefined,
        files: 2,
        jobs: 2,
        tasks: 3,
        streams: 4,
        opened: 2,
        superseded: 1,
        stdoutBytes: 5,
        stderrBytes: 2,
        supersededStdoutBytes: 3,
        supersededStderrBytes: 0,
      },
    );
    const tasks = log.tasksOf(1);
    assert.equal(new TextDecoder().decode((await channelBytes(log, tasks, 0))[1]), "new");
    assert.deepEqual(await exportTasks(log, tasks), [
      { finished: true, id: 1, stdout: "o1" },
      { finished: false, id: 2, stdout: "new" },
    ]);
    assert.throws(() => log.tasksOf(2), new HqError("Job 2 not found"));
    assert.throws(() => log.tasksOf(1, [7]), new HqError("Task 7 not found"));
    log.close();
  });
});

Deno.test("OutputLog leaves out a record cut short at the end of a file being written", async () => {
  await withDir(async (dir) => {
    const bytes = streamFile("u", [[S, 1, 0, 0, 0, ""], [C, 1, 0, 0, 0, "whole"], [
      C,
      1,
      0,
      0,
      0,
      "cut short",
    ]]);
    await Deno.writeFile(`${dir}/x.hqs`, bytes.subarray(0, bytes.length - 3));
    const log = await OutputLog.read(dir);
    const [task] = log.tasksOf(1);
    assert.equal(new TextDecoder().decode((await channelBytes(log, [task], 0))[0]), "whole");
    assert.equal((await channelBytes(log, [task], 0)).length, 1);
    log.close();
  });
});

Deno.test("OutputLog refuses streams of several servers unless one uid is chosen", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.hqs`, streamFile("aaaaaa", [[S, 1, 0, 0, 0, ""]]));
    await Deno.writeFile(`${dir}/b.hqs`, streamFile("bbbbbb", [[S, 2, 0, 0, 0, ""]]));
    await Deno.writeTextFile(`${dir}/c.hqs`, "not a stream file");
    await assert.rejects(
      OutputLog.read(dir),
      new HqError(
        "Found streams from multiple server instances:\naaaaaa\nbbbbbb\nUse --server-uid=... to specify server uid",
      ),
    );
    assert.deepEqual((await OutputLog.read(dir, "bbbbbb")).jobIds(), [2]);
  });
});

Deno.test("OutputLog needs at least one .hqs file", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/other.txt`, "");
    await assert.rejects(OutputLog.read(dir), new HqError("No log files found"));
  });
});

Deno.test("showLines pads ids to the widest of the log and ends every chunk with a newline", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/a.hqs`,
      streamFile("u", [[S, 1, 3, 0, 0, ""], [C, 1, 3, 0, 0, "a\n"], [S, 12, 100, 0, 0, ""], [
        C,
        12,
        100,
        0,
        1,
        "b",
      ]]),
    );
    const log = await OutputLog.read(dir);
    const lines: string[] = [];
    for await (const line of showLines(log, log.allTasks(), null)) {
      lines.push(line.prefix + new TextDecoder().decode(line.data) + (line.newline ? "\n" : ""));
    }
    log.close();
    assert.deepEqual(lines, ["01.003:0> a\n", "12.100:1> b\n"]);
  });
});

Deno.test("OutputLog reads data across its 1 MiB blocks and chunks larger than one, byte for byte", async () => {
  await withDir(async (dir) => {
    // Chunks of sizes that straddle the block boundaries, one of 3 MiB, and two interleaved
    // tasks, so that reads go back and forth in the file.
    const sizes = [1000, 300_000, 1_048_000, 3 * 1024 * 1024, 5, 700_000, 1_048_576, 77];
    const data = sizes.map((size, i) =>
      new Uint8Array(size).map((_, k) => (k * 31 + i * 7 + (k >> 8)) & 0xff)
    );
    const records: Array<[number, number, number, number, 0 | 1, string]> = [
      [S, 1, 1, 0, 0, ""],
      [S, 1, 2, 0, 0, ""],
    ];
    const parts = [streamFile("u", records)];
    data.forEach((bytes, i) => {
      const head = new Uint8Array(RECORD_HEAD_BYTES);
      writeRecordHead(new DataView(head.buffer), 0, {
        kind: C,
        channel: 0,
        jobId: 1,
        taskId: 1 + (i % 2),
        instanceId: 0,
        timeMs: 2000 + i,
      }, bytes.length);
      parts.push(head, bytes);
    });
    const file = await Deno.open(`${dir}/big.hqs`, { write: true, create: true });
    for (const part of parts) await file.write(part);
    file.close();
    const log = await OutputLog.read(dir);
    const tasks = log.tasksOf(1);
    const got = await channelBytes(log, tasks, 0);
    const expected = [...data.filter((_, i) => i % 2 === 0), ...data.filter((_, i) => i % 2 === 1)];
    assert.equal(got.length, expected.length);
    got.forEach((bytes, i) => assert.deepEqual(bytes, expected[i], `chunk ${i}`));
    assert.equal(log.summary().stdoutBytes, sizes.reduce((sum, size) => sum + size, 0));
    log.close();
  });
});

Deno.test("formatStreamSize switches units at twice the next unit", () => {
  assert.equal(formatStreamSize(2047), "2047 B");
  assert.equal(formatStreamSize(2048), "2.00 KiB");
  assert.equal(formatStreamSize(3 * 1024 * 1024), "3.00 MiB");
  assert.equal(formatStreamSize(5 * 1024 ** 3), "5.00 GiB");
});
