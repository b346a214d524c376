import assert from "node:assert/strict";
import {
  type AccessRecord,
  generateSecretKey,
  generateServerUid,
  parseAccessRecord,
  readAccessRecord,
  serializeAccessRecord,
  splitAccessRecord,
  VersionMismatchError,
  writeAccessRecord,
} from "./access_record.ts";
import { ServerDirError } from "./errors.ts";
import { HQ_VERSION } from "./version.ts";

const KEY_A = Uint8Array.from({ length: 32 }, (_, i) => i);
const KEY_A_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

function fullRecord(): AccessRecord {
  return {
    version: HQ_VERSION,
    serverUid: "Xq7mB2",
    client: { host: "login1", port: 36417, secretKey: KEY_A },
    worker: { host: "login2", port: 43109, secretKey: KEY_B },
  };
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hq-access-record-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertLoadError(error: unknown, path: string, cause: RegExp): true {
  assert.ok(error instanceof ServerDirError, `expected ServerDirError, got ${error}`);
  assert.equal(error.message, `Cannot load access record from "${path}"`);
  assert.ok(error.cause instanceof Error, "the error has a cause");
  assert.match(error.cause.message, cause);
  return true;
}

Deno.test("serializeAccessRecord writes the fields in the spec's order with a 2-space indent", () => {
  assert.equal(
    serializeAccessRecord({
      version: "v0.26.2",
      serverUid: "Xq7mB2",
      client: { host: "login1", port: 36417, secretKey: KEY_A },
      worker: { host: "login1", port: 43109, secretKey: null },
    }),
    `{
  "version": "v0.26.2",
  "server_uid": "Xq7mB2",
  "client": {
    "host": "login1",
    "port": 36417,
    "secret_key": "${KEY_A_HEX}"
  },
  "worker": {
    "host": "login1",
    "port": 43109,
    "secret_key": null
  }
}`,
  );
});

Deno.test("parseAccessRecord reads back what serializeAccessRecord wrote", () => {
  const record = fullRecord();
  assert.deepEqual(parseAccessRecord(serializeAccessRecord(record), "access.json"), record);
});

Deno.test("parseAccessRecord keeps a null key as null", () => {
  const record = fullRecord();
  record.client!.secretKey = null;
  const parsed = parseAccessRecord(serializeAccessRecord(record), "access.json");
  assert.equal(parsed.client!.secretKey, null);
  assert.deepEqual(parsed.worker!.secretKey, KEY_B);
});

Deno.test("parseAccessRecord treats a missing secret_key as null", () => {
  const parsed = parseAccessRecord(
    JSON.stringify({ version: HQ_VERSION, client: { host: "h", port: 1 } }),
    "access.json",
  );
  assert.deepEqual(parsed.client, { host: "h", port: 1, secretKey: null });
});

Deno.test("parseAccessRecord accepts an uppercase hex key", () => {
  const parsed = parseAccessRecord(
    JSON.stringify({
      version: HQ_VERSION,
      client: { host: "h", port: 1, secret_key: KEY_A_HEX.toUpperCase() },
    }),
    "access.json",
  );
  assert.deepEqual(parsed.client!.secretKey, KEY_A);
});

Deno.test("splitAccessRecord keeps only the version and one side", () => {
  const record = fullRecord();
  const clientFile = JSON.parse(serializeAccessRecord(splitAccessRecord(record, "client")));
  assert.deepEqual(Object.keys(clientFile), ["version", "client"]);
  assert.equal(clientFile.client.port, 36417);
  const workerFile = JSON.parse(serializeAccessRecord(splitAccessRecord(record, "worker")));
  assert.deepEqual(Object.keys(workerFile), ["version", "worker"]);
  assert.equal(workerFile.worker.host, "login2");
});

Deno.test("parseAccessRecord reads a split file without server_uid or the other side", () => {
  const text = serializeAccessRecord(splitAccessRecord(fullRecord(), "worker"));
  const parsed = parseAccessRecord(text, "worker.json");
  assert.equal(parsed.version, HQ_VERSION);
  assert.equal(parsed.serverUid, undefined);
  assert.equal(parsed.client, undefined);
  assert.deepEqual(parsed.worker, fullRecord().worker);
});

Deno.test("generateSecretKey returns 32 fresh random bytes", () => {
  const a = generateSecretKey();
  const b = generateSecretKey();
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
});

Deno.test("generateServerUid returns six alphanumeric characters", () => {
  for (let i = 0; i < 50; i++) assert.match(generateServerUid(), /^[A-Za-z0-9]{6}$/);
});

Deno.test("parseAccessRecord reports malformed files with the path and a cause", () => {
  const path = "/some/dir/access.json";
  const cases: Array<[string, RegExp]> = [
    ["not json", /JSON/],
    ["[1, 2]", /missing field `version`/],
    ["42", /not a JSON object/],
    ["null", /not a JSON object/],
    [`{"client": {"host": "h", "port": 1}}`, /missing field `version`/],
    [`{"version": 1}`, /missing field `version`/],
    [`{"version": "v", "server_uid": 7}`, /`server_uid` is not a string/],
    [`{"version": "v", "client": "h:1"}`, /field `client`: not an object/],
    [`{"version": "v", "client": {"port": 1}}`, /field `client`: missing field `host`/],
    [`{"version": "v", "worker": {"host": "h", "port": 70000}}`, /`port` is not a port number/],
    [`{"version": "v", "worker": {"host": "h", "port": "1"}}`, /`port` is not a port number/],
    [`{"version": "v", "worker": {"host": "h", "port": 1.5}}`, /`port` is not a port number/],
    [
      `{"version": "v", "client": {"host": "h", "port": 1, "secret_key": "abc"}}`,
      /`secret_key` is not 64 hexadecimal characters/,
    ],
    [
      `{"version": "v", "client": {"host": "h", "port": 1, "secret_key": "${"zz".repeat(32)}"}}`,
      /`secret_key` is not 64 hexadecimal characters/,
    ],
  ];
  for (const [text, cause] of cases) {
    assert.throws(
      () => parseAccessRecord(text, path),
      (error) => assertLoadError(error, path, cause),
    );
  }
});

Deno.test("writeAccessRecord creates the file with mode 0400", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await writeAccessRecord(path, fullRecord());
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o400);
    assert.equal(await Deno.readTextFile(path), serializeAccessRecord(fullRecord()));
  });
});

Deno.test("writeAccessRecord refuses to overwrite an existing file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await writeAccessRecord(path, fullRecord());
    await assert.rejects(
      writeAccessRecord(path, { ...fullRecord(), serverUid: "other1" }),
      (error: unknown) => {
        assert.ok(error instanceof ServerDirError);
        assert.equal(error.message, `Cannot write access file "${path}": the file already exists`);
        return true;
      },
    );
    assert.equal((await readAccessRecord(path)).serverUid, "Xq7mB2");
  });
});

Deno.test("writeAccessRecord reports a missing directory with the OS error as cause", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/missing/access.json`;
    await assert.rejects(writeAccessRecord(path, fullRecord()), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(error.message, `Cannot write access file "${path}"`);
      assert.ok(error.cause instanceof Deno.errors.NotFound);
      return true;
    });
  });
});

Deno.test("readAccessRecord reads a record written by writeAccessRecord", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await writeAccessRecord(path, fullRecord());
    assert.deepEqual(await readAccessRecord(path), fullRecord());
  });
});

Deno.test("readAccessRecord rejects a record of another version with the spec's message", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await writeAccessRecord(path, { ...fullRecord(), version: "v0.25.0" });
    await assert.rejects(readAccessRecord(path), (error: unknown) => {
      assert.ok(error instanceof VersionMismatchError);
      assert.equal(
        error.message,
        "Hyperqueue version mismatch detected.\n" +
          `Access record contains version v0.25.0, but the current version is ${HQ_VERSION}.`,
      );
      return true;
    });
  });
});

Deno.test("readAccessRecord reports a missing file with the path and the OS error", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await assert.rejects(readAccessRecord(path), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(error.message, `Cannot load access record from "${path}"`);
      assert.ok(error.cause instanceof Deno.errors.NotFound);
      return true;
    });
  });
});

Deno.test("readAccessRecord reports a malformed file with the path and a cause", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/access.json`;
    await Deno.writeTextFile(path, "{ truncated");
    await assert.rejects(readAccessRecord(path), (error) => assertLoadError(error, path, /JSON/));
  });
});
