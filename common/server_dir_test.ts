import assert from "node:assert/strict";
import {
  type AccessRecord,
  serializeAccessRecord,
  splitAccessRecord,
  VersionMismatchError,
  writeAccessRecord,
} from "./access_record.ts";
import { ServerDirError } from "./errors.ts";
import {
  accessFilePath,
  createInstanceDir,
  CURRENT_LINK_NAME,
  defaultServerDir,
  linkCurrent,
  loadClientEndpoint,
  loadWorkerEndpoint,
  resolveActiveDir,
  serverDirHint,
  unlinkCurrent,
} from "./server_dir.ts";
import { HQ_VERSION } from "./version.ts";

async function withTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  // realPath: on some systems the temp dir sits behind a symlink, and resolveActiveDir resolves it.
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "hq-server-dir-test-" }));
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function record(): AccessRecord {
  return {
    version: HQ_VERSION,
    serverUid: "abc123",
    client: { host: "login1", port: 1234, secretKey: new Uint8Array(32).fill(7) },
    worker: { host: "login1", port: 5678, secretKey: null },
  };
}

async function childNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

function modeOf(info: Deno.FileInfo): number {
  return info.mode! & 0o777;
}

// --- numbered instance directories ---

Deno.test("createInstanceDir numbers instance directories 001, 002, …", async () => {
  await withTempDir(async (root) => {
    assert.equal(await createInstanceDir(root), `${root}/001`);
    assert.equal(await createInstanceDir(root), `${root}/002`);
    assert.equal(await createInstanceDir(root), `${root}/003`);
    assert.deepEqual(await childNames(root), ["001", "002", "003"]);
  });
});

Deno.test("createInstanceDir continues after the highest number, not the count", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/007`);
    await Deno.mkdir(`${root}/3`);
    assert.equal(await createInstanceDir(root), `${root}/008`);
  });
});

Deno.test("createInstanceDir ignores non-numeric names and plain files", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/002`);
    await Deno.mkdir(`${root}/abc`);
    await Deno.mkdir(`${root}/500x`);
    await Deno.mkdir(`${root}/-9`);
    await Deno.writeTextFile(`${root}/900`, "a file, not an instance");
    assert.equal(await createInstanceDir(root), `${root}/003`);
  });
});

Deno.test("createInstanceDir uses four digits after 999", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/999`);
    assert.equal(await createInstanceDir(root), `${root}/1000`);
    assert.equal(await createInstanceDir(root), `${root}/1001`);
  });
});

Deno.test("createInstanceDir creates a missing root and the instance with mode 0700", async () => {
  await withTempDir(async (dir) => {
    const root = `${dir}/nested/server-dir`;
    const instance = await createInstanceDir(root);
    assert.equal(instance, `${root}/001`);
    assert.equal(modeOf(await Deno.stat(instance)), 0o700);
    assert.equal(modeOf(await Deno.stat(root)), 0o700);
  });
});

Deno.test("createInstanceDir gives concurrent starts distinct directories", async () => {
  await withTempDir(async (root) => {
    const created = await Promise.all([
      createInstanceDir(root),
      createInstanceDir(root),
      createInstanceDir(root),
    ]);
    assert.equal(new Set(created).size, 3);
    assert.deepEqual(await childNames(root), ["001", "002", "003"]);
  });
});

Deno.test("createInstanceDir reports a root that cannot be created", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const root = `${dir}/file/server-dir`;
    await assert.rejects(createInstanceDir(root), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(error.message, `Cannot create server directory "${root}"`);
      assert.ok(error.cause instanceof Error);
      return true;
    });
  });
});

// --- hq-current ---

Deno.test("linkCurrent points hq-current at the instance's absolute path", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    assert.equal(await Deno.readLink(`${root}/${CURRENT_LINK_NAME}`), instance);
    assert.deepEqual(await childNames(root), ["001", CURRENT_LINK_NAME]);
  });
});

Deno.test("linkCurrent replaces an existing link", async () => {
  await withTempDir(async (root) => {
    const first = await createInstanceDir(root);
    const second = await createInstanceDir(root);
    await linkCurrent(root, first);
    await linkCurrent(root, second);
    assert.equal(await Deno.readLink(`${root}/${CURRENT_LINK_NAME}`), second);
    assert.deepEqual(await childNames(root), ["001", "002", CURRENT_LINK_NAME]);
  });
});

Deno.test("linkCurrent replaces a dangling link", async () => {
  await withTempDir(async (root) => {
    await Deno.symlink(`${root}/gone`, `${root}/${CURRENT_LINK_NAME}`);
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    assert.equal(await Deno.readLink(`${root}/${CURRENT_LINK_NAME}`), instance);
    assert.equal(await resolveActiveDir(root), instance);
  });
});

Deno.test("unlinkCurrent removes hq-current when it points at the instance", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    await unlinkCurrent(root, instance);
    assert.deepEqual(await childNames(root), ["001"]);
  });
});

Deno.test("unlinkCurrent leaves a link that belongs to another instance", async () => {
  await withTempDir(async (root) => {
    const mine = await createInstanceDir(root);
    const theirs = await createInstanceDir(root);
    await linkCurrent(root, theirs);
    await unlinkCurrent(root, mine);
    assert.equal(await Deno.readLink(`${root}/${CURRENT_LINK_NAME}`), theirs);
  });
});

Deno.test("unlinkCurrent does nothing when there is no link", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await unlinkCurrent(root, instance);
    await unlinkCurrent(`${root}/missing`, instance);
    assert.deepEqual(await childNames(root), ["001"]);
  });
});

// --- resolving the active directory (§2.2) ---

Deno.test("resolveActiveDir follows hq-current to the live instance", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    assert.equal(await resolveActiveDir(root), instance);
    assert.equal(await accessFilePath(root), `${instance}/access.json`);
  });
});

Deno.test("resolveActiveDir uses the root itself when there is no hq-current", async () => {
  await withTempDir(async (root) => {
    assert.equal(await resolveActiveDir(root), root);
    assert.equal(await accessFilePath(root), `${root}/access.json`);
  });
});

Deno.test("resolveActiveDir falls back to the root when hq-current dangles", async () => {
  await withTempDir(async (root) => {
    await Deno.symlink(`${root}/gone`, `${root}/${CURRENT_LINK_NAME}`);
    assert.equal(await resolveActiveDir(root), root);
  });
});

Deno.test("resolveActiveDir falls back to the root when hq-current is not a directory", async () => {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(`${root}/file`, "");
    await Deno.symlink(`${root}/file`, `${root}/${CURRENT_LINK_NAME}`);
    assert.equal(await resolveActiveDir(root), root);
  });
});

Deno.test("resolveActiveDir rejects a root that is a file or missing", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    for (const root of [`${dir}/file`, `${dir}/missing`]) {
      assert.throws(() => resolveActiveDir(root), (error: unknown) => {
        assert.ok(error instanceof ServerDirError);
        assert.equal(error.message, "Invalid server directory");
        assert.ok(error.cause instanceof Error);
        assert.equal(error.cause.message, `Error: "${root}" is not a directory`);
        return true;
      });
    }
  });
});

// --- loading the client endpoint ---

Deno.test("loadClientEndpoint reads the client endpoint of the live instance", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await writeAccessRecord(`${instance}/access.json`, record());
    await linkCurrent(root, instance);
    assert.deepEqual(await loadClientEndpoint(root), record().client);
  });
});

Deno.test("loadClientEndpoint reads an access file copied into a plain directory", async () => {
  await withTempDir(async (root) => {
    const clientOnly = splitAccessRecord(record(), "client");
    await Deno.writeTextFile(`${root}/access.json`, serializeAccessRecord(clientOnly));
    assert.deepEqual(await loadClientEndpoint(root), record().client);
  });
});

Deno.test("loadClientEndpoint says no instance runs when access.json is missing", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    assert.throws(() => loadClientEndpoint(root), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(
        error.message,
        `No running instance of HQ found at "${instance}".\n` +
          `Try to start the server: \`hq server start --server-dir ${root}\` ` +
          "or use a different server directory.",
      );
      return true;
    });
  });
});

Deno.test("loadClientEndpoint reports a worker-only access file", async () => {
  await withTempDir(async (root) => {
    const workerOnly = splitAccessRecord(record(), "worker");
    await Deno.writeTextFile(`${root}/access.json`, serializeAccessRecord(workerOnly));
    assert.throws(() => loadClientEndpoint(root), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(error.message, `Cannot load access record from "${root}/access.json"`);
      assert.match((error.cause as Error).message, /no client endpoint/);
      return true;
    });
  });
});

Deno.test("loadClientEndpoint passes on a version mismatch", async () => {
  await withTempDir(async (root) => {
    await writeAccessRecord(`${root}/access.json`, { ...record(), version: "v0.1.0" });
    assert.throws(() => loadClientEndpoint(root), VersionMismatchError);
  });
});

Deno.test("loadClientEndpoint reports an invalid server directory", async () => {
  await withTempDir((dir) => {
    assert.throws(() => loadClientEndpoint(`${dir}/missing`), (error: unknown) => {
      assert.ok(error instanceof ServerDirError);
      assert.equal(error.message, "Invalid server directory");
      return true;
    });
  });
});

// --- defaults ---

Deno.test("defaultServerDir is .hq-server in the home directory", () => {
  const home = Deno.env.get("HOME");
  if (home) assert.equal(defaultServerDir(), `${home.replace(/\/+$/, "")}/.hq-server`);
  assert.match(defaultServerDir(), /\/\.hq-server$/);
});

Deno.test("serverDirHint names the root only when it is not the default", () => {
  assert.equal(serverDirHint(defaultServerDir()), "");
  assert.equal(serverDirHint("/srv/hq"), " --server-dir /srv/hq");
});

Deno.test("defaultServerDir without a home is a per-user directory in the temp dir", () => {
  const home = Deno.env.get("HOME");
  Deno.env.delete("HOME");
  try {
    assert.match(defaultServerDir(), new RegExp(`/hq-server-${Deno.uid()}$`));
  } finally {
    if (home !== undefined) Deno.env.set("HOME", home);
  }
});

// --- trust (StrictModes) ---

Deno.test("resolveActiveDir refuses a root or an instance writable by group or others", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await linkCurrent(root, instance);
    assert.equal(resolveActiveDir(root), instance);
    await Deno.chmod(root, 0o777);
    assert.throws(
      () => resolveActiveDir(root),
      (error) =>
        error instanceof ServerDirError &&
        error.message ===
          `Refusing to use the server directory "${root}": it is writable by its group (mode 0777); fix it with \`chmod go-w "${root}"\``,
    );
    await Deno.chmod(root, 0o700);
    await Deno.chmod(instance, 0o702);
    assert.throws(() => resolveActiveDir(root), /"[^"]+\/001": it is writable by others/);
  });
});

Deno.test({
  name: "resolveActiveDir and createInstanceDir refuse directories of another user",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await withTempDir(async (root) => {
      const instance = await createInstanceDir(root);
      await linkCurrent(root, instance);
      await Deno.chown(instance, 65534, 65534);
      assert.throws(() => resolveActiveDir(root), /it belongs to uid 65534, not to you/);
      await Deno.chown(root, 65534, 65534);
      await assert.rejects(createInstanceDir(root), /it belongs to uid 65534/);
    });
  },
});

Deno.test("loadClientEndpoint refuses an access file writable by others", async () => {
  await withTempDir(async (root) => {
    const instance = await createInstanceDir(root);
    await writeAccessRecord(`${instance}/access.json`, record());
    await linkCurrent(root, instance);
    await Deno.chmod(`${instance}/access.json`, 0o646);
    assert.throws(() => loadClientEndpoint(root), /access file .* writable by others/);
    assert.throws(() => loadWorkerEndpoint(root), /access file .* writable by others/);
  });
});
