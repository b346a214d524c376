import assert from "node:assert/strict";
import {
  crc32,
  InvalidJournalError,
  JOURNAL_FORMAT_VERSION,
  JOURNAL_HEADER_BYTES,
  JOURNAL_MAGIC,
  JournalCorruptedError,
  JournalReader,
  JournalReadError,
  JournalWriteError,
  JournalWriter,
  MAX_RECORD_BYTES,
  readJournal,
  readJournalFile,
  RECORD_HEADER_BYTES,
  rewriteJournal,
} from "./journal_file.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const encoder = new TextEncoder();

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hq-journal-file-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A payload of `length` bytes that differs for each `seed`. */
function payload(seed: number, length = 1 + (seed * 37) % 200): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Writes a journal holding `payloads` and returns its bytes. */
async function journalBytes(dir: string, payloads: Uint8Array[]): Promise<Uint8Array> {
  const path = `${dir}/build.journal`;
  const writer = await JournalWriter.open(path);
  for (const p of payloads) writer.append(p);
  await writer.close();
  const bytes = await Deno.readFile(path);
  await Deno.remove(path);
  return bytes;
}

/** Byte offset of each record's header in a journal of `payloads`, then the end offset. */
function recordOffsets(payloads: Uint8Array[]): number[] {
  const offsets = [JOURNAL_HEADER_BYTES];
  for (const p of payloads) {
    offsets.push(offsets[offsets.length - 1] + RECORD_HEADER_BYTES + p.length);
  }
  return offsets;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** Replaces a method of `Deno.FsFile.prototype` until the returned function is called. */
function stubFsFile<K extends "write" | "syncData">(
  method: K,
  replacement: Deno.FsFile[K],
): () => void {
  const original = Deno.FsFile.prototype[method];
  Deno.FsFile.prototype[method] = replacement;
  return () => {
    Deno.FsFile.prototype[method] = original;
  };
}

// ---------------------------------------------------------------------------------------------
// Format

Deno.test("crc32 matches the IEEE check value", () => {
  assert.equal(crc32(encoder.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  // Lengths around the 8-byte stride of the fast loop.
  const data = payload(5, 70);
  assert.equal(crc32(data.subarray(0, 17)), crc32(Uint8Array.from(data.subarray(0, 17))));
  assert.equal(crc32(encoder.encode("The quick brown fox jumps over the lazy dog")), 0x414fa339);
});

Deno.test("JournalWriter starts a new file with the magic and the format version", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/new.journal`;
    const writer = await JournalWriter.open(path);
    assert.equal(writer.fileSize, JOURNAL_HEADER_BYTES);
    await writer.close();
    const bytes = await Deno.readFile(path);
    assert.deepEqual(bytes.subarray(0, 8), encoder.encode("HQJRNL\0\0"));
    assert.deepEqual(bytes.subarray(0, 8), JOURNAL_MAGIC);
    assert.deepEqual([...bytes.subarray(8)], [JOURNAL_FORMAT_VERSION, 0, 0, 0]);
    assert.deepEqual(readJournal(bytes, path), {
      payloads: [],
      validEnd: JOURNAL_HEADER_BYTES,
      tornBytes: 0,
    });
  });
});

Deno.test("a record is its length, the CRC-32 of length and payload, and its payload, little-endian", async () => {
  await withTempDir(async (dir) => {
    const bytes = await journalBytes(dir, [encoder.encode("123456789")]);
    const crc = crc32(concat(new Uint8Array([9, 0, 0, 0]), encoder.encode("123456789")));
    assert.deepEqual(
      [...bytes.subarray(JOURNAL_HEADER_BYTES, JOURNAL_HEADER_BYTES + RECORD_HEADER_BYTES)],
      [9, 0, 0, 0, crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24],
    );
  });
});

Deno.test("readJournalFile returns every record written and flushed, in order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/round.journal`;
    const payloads = Array.from({ length: 20_000 }, (_, i) => payload(i));
    payloads.push(payload(1, 300_000), payload(2, 1));
    const writer = await JournalWriter.open(path);
    for (const [i, p] of payloads.entries()) {
      writer.append(p);
      if (i % 5000 === 0) await writer.flush();
    }
    await writer.close();

    const contents = await readJournalFile(path);
    const size = (await Deno.stat(path)).size;
    assert.equal(writer.fileSize, size);
    assert.equal(contents.validEnd, size);
    assert.equal(contents.tornBytes, 0);
    assert.equal(contents.payloads.length, payloads.length);
    for (const [i, p] of payloads.entries()) assert.deepEqual(contents.payloads[i], p);
  });
});

Deno.test("JournalReader streams payloads as views into the bytes it was given", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3)];
    const bytes = await journalBytes(dir, payloads);
    const reader = new JournalReader(bytes, "j");
    const first = reader.nextRecord()!;
    assert.equal(first.buffer, bytes.buffer);
    assert.equal(reader.recordCount, 1);
    assert.equal(reader.done, false);
    assert.deepEqual([...reader], payloads.slice(1));
    assert.equal(reader.done, true);
    assert.equal(reader.recordCount, 3);
    assert.equal(reader.validEnd, bytes.length);
    assert.equal(reader.nextRecord(), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Header errors

Deno.test("readJournal rejects an empty file", () => {
  assert.throws(
    () => readJournal(new Uint8Array(0), "/x/journal"),
    (error) =>
      error instanceof InvalidJournalError && error.message === `Journal "/x/journal" is empty`,
  );
});

Deno.test("readJournal rejects a file with another magic as an invalid journal format", () => {
  for (
    const bytes of [
      encoder.encode('{"type":"json"}\n'),
      encoder.encode("XQ"),
      encoder.encode("HQJRNL\0X1234"),
    ]
  ) {
    assert.throws(
      () => readJournal(bytes, "j"),
      (error) =>
        error instanceof InvalidJournalError &&
        error.message === `Invalid journal format: "j" is not an hq journal`,
    );
  }
});

Deno.test("readJournal rejects a file cut inside its header", () => {
  assert.throws(
    () => readJournal(concat(JOURNAL_MAGIC, new Uint8Array([1, 0])), "j"),
    (error) =>
      error instanceof InvalidJournalError &&
      error.message === `Invalid journal format: "j" ends inside its header`,
  );
});

Deno.test("readJournal names both versions when the format version differs", () => {
  // Version 1 (a checksum of the payload only) included: its files are refused, not misread.
  for (const version of [1, 7]) {
    const bytes = concat(JOURNAL_MAGIC, new Uint8Array([version, 0, 0, 0]));
    assert.throws(
      () => readJournal(bytes, "/x/journal"),
      (error) =>
        error instanceof InvalidJournalError &&
        error.message ===
          `Journal "/x/journal" has format version ${version}, this hq reads version 2`,
    );
  }
});

Deno.test("readJournalFile reports a missing file as a JournalReadError", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      readJournalFile(`${dir}/missing`),
      (error) =>
        error instanceof JournalReadError &&
        error.message.startsWith(`Cannot read journal "${dir}/missing": `),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Torn tail

Deno.test("readJournal treats the last record cut at any byte as a torn tail", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3, 50)];
    const bytes = await journalBytes(dir, payloads);
    const lastStart = recordOffsets(payloads)[2];
    for (let cut = lastStart; cut < bytes.length; cut++) {
      const contents = readJournal(bytes.subarray(0, cut), "j");
      assert.equal(contents.payloads.length, 2, `cut at ${cut}`);
      assert.equal(contents.validEnd, lastStart, `cut at ${cut}`);
      assert.equal(contents.tornBytes, cut - lastStart, `cut at ${cut}`);
    }
    assert.equal(readJournal(bytes, "j").payloads.length, 3);
  });
});

Deno.test("readJournal treats a bad checksum on the last record as a torn tail", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3, 50)];
    const bytes = await journalBytes(dir, payloads);
    const lastStart = recordOffsets(payloads)[2];
    // Every byte of the checksum and the payload, one at a time.
    for (let at = lastStart + 4; at < bytes.length; at++) {
      const damaged = bytes.slice();
      damaged[at] ^= 0x40;
      const contents = readJournal(damaged, "j");
      assert.equal(contents.validEnd, lastStart, `damage at ${at}`);
      assert.equal(contents.tornBytes, bytes.length - lastStart, `damage at ${at}`);
      assert.deepEqual(contents.payloads, payloads.slice(0, 2));
    }
  });
});

Deno.test("readJournal treats an absurd length in the last record header as a torn tail", async () => {
  await withTempDir(async (dir) => {
    const bytes = await journalBytes(dir, [payload(1)]);
    const tail = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    const contents = readJournal(concat(bytes, tail), "j");
    assert.equal(contents.validEnd, bytes.length);
    assert.equal(contents.tornBytes, 8);
  });
});

Deno.test("readJournal treats zeros after the last record as a torn tail", async () => {
  // Some file systems extend the file before its data lands; a crash then leaves zeros.
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2)];
    const bytes = await journalBytes(dir, payloads);
    for (const zeros of [1, 8, 9, 4096]) {
      const contents = readJournal(concat(bytes, new Uint8Array(zeros)), "j");
      assert.deepEqual(contents, { payloads, validEnd: bytes.length, tornBytes: zeros });
    }
    // A half-written record followed by zeros is torn as well.
    const half = bytes.slice();
    const secondStart = recordOffsets(payloads)[1];
    half.fill(0, secondStart + RECORD_HEADER_BYTES + 1);
    const contents = readJournal(concat(half, new Uint8Array(100)), "j");
    assert.equal(contents.validEnd, secondStart);
    assert.equal(contents.payloads.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Corruption

function assertCorruptedAt(
  bytes: Uint8Array,
  offset: number,
  detail: string,
  validAt: number,
): void {
  assert.throws(
    () => readJournal(bytes, "/x/journal"),
    (error) =>
      error instanceof JournalCorruptedError &&
      error.message ===
        `Journal "/x/journal" appears corrupted at byte ${offset}${detail} (a valid record follows at byte ${validAt})`,
  );
}

Deno.test("readJournal reports a bad checksum in the middle with the record's offset", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3), payload(4)];
    const bytes = await journalBytes(dir, payloads);
    const offsets = recordOffsets(payloads);
    for (const record of [0, 1, 2]) {
      for (const at of [offsets[record] + 4, offsets[record + 1] - 1]) {
        const damaged = bytes.slice();
        damaged[at] ^= 1;
        assertCorruptedAt(damaged, offsets[record], ": checksum mismatch", offsets[record + 1]);
      }
    }
  });
});

Deno.test("readJournal reports an absurd record length in the middle as corruption", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3)];
    const bytes = await journalBytes(dir, payloads);
    const offset = recordOffsets(payloads)[1];
    const damaged = bytes.slice();
    new DataView(damaged.buffer).setUint32(offset, MAX_RECORD_BYTES + 1, true);
    const next = recordOffsets(payloads)[2];
    assertCorruptedAt(
      damaged,
      offset,
      `: record length ${MAX_RECORD_BYTES + 1} is too large`,
      next,
    );
    new DataView(damaged.buffer).setUint32(offset, 0, true);
    assertCorruptedAt(damaged, offset, ": empty record", next);
  });
});

Deno.test("readJournal reports a length pointing past the end in the middle as corruption", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3), payload(4, 5_000)];
    const bytes = await journalBytes(dir, payloads);
    const offsets = recordOffsets(payloads);
    for (const record of [0, 1, 2]) {
      const damaged = bytes.slice();
      // A flipped high bit of the length: the record now seems to run past the end of the file.
      damaged[offsets[record] + 2] ^= 0x40;
      assertCorruptedAt(
        damaged,
        offsets[record],
        `: record length ${
          new DataView(damaged.buffer).getUint32(offsets[record], true)
        } runs past the end of the file`,
        offsets[record + 1],
      );
      // Asked to, the reader keeps the records before the damage and cuts the rest.
      const reader = new JournalReader(damaged, "j", { truncateCorrupted: true });
      assert.deepEqual([...reader], payloads.slice(0, record));
      assert.equal(reader.corruptedAt, offsets[record]);
      assert.equal(reader.validEnd, offsets[record]);
    }
  });
});

Deno.test("readJournal finds no valid record in random bytes after the last one: a torn tail", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2)];
    const bytes = await journalBytes(dir, payloads);
    const garbage = new Uint8Array(1 << 20);
    for (let at = 0; at < garbage.length; at += 65536) {
      crypto.getRandomValues(garbage.subarray(at, at + 65536));
    }
    const contents = readJournal(concat(bytes, garbage), "j");
    assert.deepEqual(contents.payloads, payloads);
    assert.equal(contents.tornBytes, garbage.length);
  });
});

Deno.test("JournalReader returns the records before a corrupted one, then throws", async () => {
  await withTempDir(async (dir) => {
    const payloads = [payload(1), payload(2), payload(3)];
    const bytes = await journalBytes(dir, payloads);
    bytes[recordOffsets(payloads)[1] + RECORD_HEADER_BYTES] ^= 0xff;
    const reader = new JournalReader(bytes, "j");
    assert.deepEqual(reader.nextRecord(), payloads[0]);
    assert.throws(() => reader.nextRecord(), JournalCorruptedError);
  });
});

// ---------------------------------------------------------------------------------------------
// Writer

Deno.test("JournalWriter truncates a torn tail at validEnd and appends after it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const first = await JournalWriter.open(path);
    for (const p of [payload(1), payload(2)]) first.append(p);
    await first.close();
    // A crash in the middle of the third record.
    const complete = await Deno.readFile(path);
    const torn = concat(complete, new Uint8Array([60, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3]));
    await Deno.writeFile(path, torn);

    const before = await readJournalFile(path);
    assert.equal(before.validEnd, complete.length);
    assert.equal(before.tornBytes, 11);
    const second = await JournalWriter.open(path, { validEnd: before.validEnd });
    assert.equal(second.fileSize, complete.length);
    second.append(payload(3));
    second.append(payload(4));
    await second.close();

    const after = await readJournalFile(path);
    assert.deepEqual(after.payloads, [payload(1), payload(2), payload(3), payload(4)]);
    assert.equal(after.tornBytes, 0);
  });
});

Deno.test("JournalWriter appends at the end of an existing journal without validEnd", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    for (const seed of [1, 2, 3]) {
      const writer = await JournalWriter.open(path);
      writer.append(payload(seed));
      await writer.close();
    }
    assert.deepEqual((await readJournalFile(path)).payloads, [payload(1), payload(2), payload(3)]);
  });
});

Deno.test("JournalWriter writes a header into an existing empty file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    await Deno.writeFile(path, new Uint8Array(0));
    const writer = await JournalWriter.open(path, { validEnd: 0 });
    writer.append(payload(1));
    await writer.close();
    assert.deepEqual((await readJournalFile(path)).payloads, [payload(1)]);
  });
});

Deno.test("JournalWriter refuses to append to a file that is not a journal", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    await Deno.writeTextFile(path, "hello world\n");
    await assert.rejects(JournalWriter.open(path), InvalidJournalError);
    assert.equal(await Deno.readTextFile(path), "hello world\n");
  });
});

Deno.test("JournalWriter rejects a validEnd outside the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    await (await JournalWriter.open(path)).close();
    await assert.rejects(JournalWriter.open(path, { validEnd: 5 }), RangeError);
    await assert.rejects(JournalWriter.open(path, { validEnd: 100 }), RangeError);
  });
});

Deno.test("JournalWriter.open reports a missing directory as a JournalWriteError", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      JournalWriter.open(`${dir}/missing/j`),
      (error) =>
        error instanceof JournalWriteError &&
        error.message.startsWith(`Cannot open journal "${dir}/missing/j": `),
    );
  });
});

Deno.test("JournalWriter refuses empty and oversized payloads", async () => {
  await withTempDir(async (dir) => {
    const writer = await JournalWriter.open(`${dir}/j`);
    assert.throws(() => writer.append(new Uint8Array(0)), RangeError);
    // Only the length is looked at before the refusal, so no 256 MiB buffer is needed.
    const oversized = { length: MAX_RECORD_BYTES + 1 } as Uint8Array;
    assert.throws(() => writer.append(oversized), RangeError);
    assert.equal(writer.bufferedBytes, 0);
    await writer.close();
  });
});

Deno.test("JournalWriter buffers appends until flush", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    writer.append(payload(1, 10));
    assert.equal(writer.bufferedBytes, RECORD_HEADER_BYTES + 10);
    assert.equal((await Deno.stat(path)).size, JOURNAL_HEADER_BYTES);
    await writer.flush();
    assert.equal(writer.bufferedBytes, 0);
    assert.equal(writer.fileSize, JOURNAL_HEADER_BYTES + RECORD_HEADER_BYTES + 10);
    assert.equal((await Deno.stat(path)).size, writer.fileSize);
    await writer.close();
    assert.throws(() => writer.append(payload(2)), /is closed/);
  });
});

Deno.test("a flush called during another also writes what was appended since", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    let syncs = 0;
    const original = Deno.FsFile.prototype.syncData;
    const restore = stubFsFile("syncData", function (this: Deno.FsFile) {
      syncs++;
      return original.call(this);
    });
    try {
      writer.append(payload(1));
      const first = writer.flush();
      assert.equal(writer.flush(), first, "a flush that has not started yet is shared");
      // Let the first flush take the buffer and start writing.
      while (writer.bufferedBytes > 0) await Promise.resolve();
      writer.append(payload(2));
      const second = writer.flush();
      assert.notEqual(second, first);
      writer.append(payload(3));
      // Joins the second flush, which has not taken the buffer yet.
      const third = writer.flush();
      assert.equal(third, second);
      const settled: string[] = [];
      first.then(() => settled.push("first"));
      await second;
      settled.push("second");
      assert.deepEqual(settled, ["first", "second"]);
      assert.equal(syncs, 2);
      assert.deepEqual((await readJournalFile(path)).payloads, [
        payload(1),
        payload(2),
        payload(3),
      ]);
      await writer.flush();
      assert.equal(syncs, 2, "a flush with nothing buffered does not sync");
    } finally {
      restore();
      await writer.close();
    }
  });
});

Deno.test("JournalWriter keeps every record in order under interleaved appends and flushes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      writer.append(payload(i));
      if (i % 7 === 0) flushes.push(writer.flush());
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(flushes);
    await writer.close();
    const contents = await readJournalFile(path);
    assert.equal(contents.payloads.length, 2000);
    for (let i = 0; i < 2000; i++) assert.deepEqual(contents.payloads[i], payload(i));
  });
});

Deno.test("a failed write rejects this flush and every later one with JournalWriteError", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    writer.append(payload(1));
    await writer.flush();
    const restore = stubFsFile(
      "write",
      () => Promise.reject(new Error("No space left on device (os error 28)")),
    );
    try {
      writer.append(payload(2));
      await assert.rejects(
        writer.flush(),
        (error) =>
          error instanceof JournalWriteError &&
          error.message === `Cannot write journal "${path}": No space left on device (os error 28)`,
      );
    } finally {
      restore();
    }
    assert.ok(writer.failure instanceof JournalWriteError);
    writer.append(payload(3));
    assert.ok(writer.bufferedBytes > 0, "a failed writer keeps records for its recovery");
    await assert.rejects(writer.flush(), JournalWriteError);
    await assert.rejects(writer.close(), JournalWriteError);
    assert.deepEqual((await readJournalFile(path)).payloads, [payload(1)]);
  });
});

// Issue 15, item 9: a failed write was never tried again, even once the disk had room.
Deno.test("JournalWriter.recover cuts a partial write, writes the kept records and clears the failure", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    writer.append(payload(1));
    await writer.flush();
    // Half of the next write reaches the file, then the disk is full.
    const restore = stubFsFile("write", async function (this: Deno.FsFile, bytes: Uint8Array) {
      restore();
      await this.write(bytes.subarray(0, 5));
      throw new Error("No space left on device (os error 28)");
    });
    writer.append(payload(2));
    await assert.rejects(writer.flush(), JournalWriteError);
    writer.append(payload(3));
    writer.append(payload(4));
    // The record of payload 3 stands for a refused request: left out.
    const left = await writer.recover((p) => p.join() !== payload(3).join());
    assert.equal(left, 1);
    assert.equal(writer.failure, undefined);
    writer.append(payload(5));
    await writer.close();
    assert.deepEqual((await readJournalFile(path)).payloads, [1, 2, 4, 5].map((i) => payload(i)));
  });
});

Deno.test("a failed sync fails the writer", async () => {
  await withTempDir(async (dir) => {
    const writer = await JournalWriter.open(`${dir}/j`);
    const restore = stubFsFile(
      "syncData",
      () => Promise.reject(new Error("Input/output error (os error 5)")),
    );
    try {
      writer.append(payload(1));
      await assert.rejects(writer.flush(), /Input\/output error/);
    } finally {
      restore();
    }
    await assert.rejects(writer.flush(), JournalWriteError);
    await assert.rejects(writer.close(), JournalWriteError);
  });
});

Deno.test({
  name: "JournalWriter.open on a full device rejects with JournalWriteError",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await assert.rejects(
      JournalWriter.open("/dev/full"),
      (error) =>
        error instanceof JournalWriteError &&
        error.message === `Cannot write journal "/dev/full": No space left on device (os error 28)`,
    );
  },
});

// ---------------------------------------------------------------------------------------------
// Rewrite

Deno.test("rewriteJournal replaces the journal with the given records", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    for (let i = 0; i < 10; i++) writer.append(payload(i));
    await writer.close();
    // A leftover from a crashed rewrite must not end up in the result.
    await Deno.writeFile(
      `${path}.tmp`,
      concat(JOURNAL_MAGIC, new Uint8Array([1, 0, 0, 0]), payload(99)),
    );

    const kept = (await readJournalFile(path)).payloads.filter((_, i) => i % 3 === 0);
    await rewriteJournal(path, kept);
    assert.deepEqual((await readJournalFile(path)).payloads, [
      payload(0),
      payload(3),
      payload(6),
      payload(9),
    ]);
    await assert.rejects(Deno.stat(`${path}.tmp`), Deno.errors.NotFound);

    await rewriteJournal(path, []);
    assert.deepEqual(await readJournalFile(path), {
      payloads: [],
      validEnd: JOURNAL_HEADER_BYTES,
      tornBytes: 0,
    });
  });
});

Deno.test("rewriteJournal leaves the old journal in place when it cannot write", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/j`;
    const writer = await JournalWriter.open(path);
    writer.append(payload(1));
    await writer.close();
    const restore = stubFsFile(
      "write",
      () => Promise.reject(new Error("No space left on device (os error 28)")),
    );
    try {
      await assert.rejects(rewriteJournal(path, [payload(2)]), JournalWriteError);
    } finally {
      restore();
    }
    assert.deepEqual((await readJournalFile(path)).payloads, [payload(1)]);
    await assert.rejects(Deno.stat(`${path}.tmp`), Deno.errors.NotFound);
  });
});

Deno.test("JournalWriter creates a new journal readable by its owner only", async () => {
  await withTempDir(async (dir) => {
    const writer = await JournalWriter.open(`${dir}/private.journal`);
    await writer.close();
    assert.equal((await Deno.stat(`${dir}/private.journal`)).mode! & 0o777, 0o600);
  });
});

// ---------------------------------------------------------------------------------------------
// Reading a file in chunks

/** What a reader made of a journal: its records, where they end, or the error it threw. */
function outcome(make: () => JournalReader): unknown {
  let reader: JournalReader | null = null;
  const records: string[] = [];
  try {
    reader = make();
    for (let p = reader.nextRecord(); p !== undefined; p = reader.nextRecord()) {
      records.push(`${p.length}:${crc32(p)}`);
    }
    return {
      records,
      validEnd: reader.validEnd,
      tornBytes: reader.tornBytes,
      corruptedAt: reader.corruptedAt,
      count: reader.recordCount,
    };
  } catch (error) {
    return { records, error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  } finally {
    reader?.close();
  }
}

Deno.test("JournalReader.openFile reads in chunks exactly what the bytes reader reads, damage included", async () => {
  await withTempDir(async (dir) => {
    const payloads = Array.from({ length: 60 }, (_, i) => payload(i + 1));
    payloads.splice(20, 0, payload(99, 100_000)); // Longer than the scan's small candidates.
    payloads.splice(40, 0, payload(98, 3_000)); // Longer than a chunk.
    const clean = await journalBytes(dir, payloads);
    const offsets = recordOffsets(payloads);
    const variants: Uint8Array[] = [
      clean,
      new Uint8Array(0),
      clean.slice(0, 7),
      clean.slice(0, 12),
    ];
    // Torn tails: cut anywhere in the last records, or followed by zeros or random bytes.
    for (const cut of [1, 3, 8, 9, 50, 3_000]) variants.push(clean.slice(0, clean.length - cut));
    variants.push(concat(clean, new Uint8Array(5_000)));
    variants.push(concat(clean, crypto.getRandomValues(new Uint8Array(20_000))));
    // Damage in the middle: flipped bits in lengths, checksums and payloads of several records.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff);
    for (let n = 0; n < 40; n++) {
      const damaged = clean.slice();
      const record = random() % payloads.length;
      const at = offsets[record] + (random() % (RECORD_HEADER_BYTES + payloads[record].length));
      damaged[at] ^= 1 << (random() % 8);
      variants.push(damaged);
    }
    // Lengths made huge: past the end of the file.
    for (const record of [0, 20, 41]) {
      const damaged = clean.slice();
      new DataView(damaged.buffer).setUint32(offsets[record], 1 << 24, true);
      variants.push(damaged);
    }
    const path = `${dir}/variant.journal`;
    for (const [i, bytes] of variants.entries()) {
      await Deno.writeFile(path, bytes);
      for (const truncateCorrupted of [false, true]) {
        const expected = outcome(() => new JournalReader(bytes, path, { truncateCorrupted }));
        for (const chunkBytes of [1, 64, 1_000, 1 << 20]) {
          assert.deepEqual(
            outcome(() => JournalReader.openFile(path, { truncateCorrupted, chunkBytes })),
            expected,
            `variant ${i}, chunks of ${chunkBytes}, truncateCorrupted ${truncateCorrupted}`,
          );
        }
      }
    }
  });
});

Deno.test("JournalReader.openFile: payloads stay intact after later chunks are read; a missing file is a JournalReadError", async () => {
  await withTempDir(async (dir) => {
    const payloads = Array.from({ length: 50 }, (_, i) => payload(i + 1));
    const path = `${dir}/j`;
    await Deno.writeFile(path, await journalBytes(dir, payloads));
    using reader = JournalReader.openFile(path, { chunkBytes: 100 });
    assert.deepEqual([...reader], payloads); // Views collected first, compared after.
    assert.throws(() => JournalReader.openFile(`${dir}/missing`), JournalReadError);
  });
});
