import assert from "node:assert/strict";
import { hq, hqOk, HqProcess, tempDir, TestServer, waitUntil } from "./harness.ts";

Deno.test("server info prints the spec's JSON keys with both ports", async () => {
  await using server = await TestServer.start();
  const info = JSON.parse(
    await hqOk(["server", "info", "--output-mode", "json", "--server-dir", server.dir]),
  );
  assert.deepEqual(Object.keys(info), [
    "client_host",
    "client_port",
    "journal_path",
    "pid",
    "server_dir",
    "server_uid",
    "start_date",
    "version",
    "worker_host",
    "worker_port",
  ]);
  assert.equal(info.client_host, "127.0.0.1");
  assert.equal(info.worker_host, "127.0.0.1");
  assert.ok(Number.isInteger(info.client_port) && info.client_port > 0);
  assert.ok(Number.isInteger(info.worker_port) && info.worker_port > 0);
  assert.notEqual(info.client_port, info.worker_port);
  assert.equal(info.pid, server.process.pid);
  assert.equal(info.server_dir, null);
  assert.equal(info.journal_path, null);
  assert.match(info.server_uid, /^[A-Za-z0-9]{6}$/);
  assert.match(info.start_date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
});

Deno.test("server start creates a 0700 instance dir, a 0400 access file and hq-current", async () => {
  await using server = await TestServer.start();
  const instance = `${server.dir}/001`;
  assert.equal((await Deno.stat(instance)).mode! & 0o777, 0o700);
  assert.equal((await Deno.stat(`${instance}/access.json`)).mode! & 0o777, 0o400);
  assert.equal(await Deno.readLink(`${server.dir}/hq-current`), instance);
  const record = JSON.parse(await Deno.readTextFile(`${instance}/access.json`));
  assert.deepEqual(Object.keys(record), ["version", "server_uid", "client", "worker"]);
  assert.match(record.client.secret_key, /^[0-9a-f]{64}$/);
  assert.match(record.worker.secret_key, /^[0-9a-f]{64}$/);
  assert.notEqual(record.client.secret_key, record.worker.secret_key);
});

Deno.test("server start prints the server directory first, in every output mode", async () => {
  await using dir = await tempDir();
  await using server = await TestServer.start({ serverDir: dir.path });
  await waitUntil(() => server.process.stdout().includes("Journal path"));
  const table = server.process.stdout();
  assert.match(table.split("\n")[1], new RegExp(`^\\| Server directory \\| ${dir.path} +\\|$`));
  assert.match(server.process.stderr(), /INFO HyperQueue v\d/);

  await using jsonDir = await tempDir();
  await using jsonServer = await TestServer.start({
    serverDir: jsonDir.path,
    args: ["--output-mode", "json"],
  });
  const json = await waitUntil(() => {
    try {
      return JSON.parse(jsonServer.process.stdout());
    } catch {
      return undefined;
    }
  });
  assert.equal(json.server_dir, jsonDir.path);

  await using quietDir = await tempDir();
  await using quietServer = await TestServer.start({
    serverDir: quietDir.path,
    args: ["--output-mode=quiet"],
  });
  await waitUntil(() => quietServer.process.stdout() !== "");
  assert.equal(quietServer.process.stdout(), `${quietDir.path}\n`);
});

Deno.test("server stop ends the server, removes hq-current and exits 0", async () => {
  await using server = await TestServer.start();
  const result = await server.hq(["server", "stop"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  await assert.rejects(Deno.lstat(`${server.dir}/hq-current`), Deno.errors.NotFound);
  const status = await server.process.status();
  assert.equal(status.code, 0);
  assert.ok(await Deno.stat(`${server.dir}/001/access.json`), "the instance dir is kept");
  const after = await server.hq(["server", "info"]);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /No running instance of HQ found at/);
});

Deno.test("server stop prints {} in JSON mode", async () => {
  await using server = await TestServer.start();
  const result = await server.hq(["server", "stop", "--output-mode", "json"]);
  assert.equal(result.code, 0);
  assert.deepEqual(JSON.parse(result.stdout), {});
});

Deno.test("SIGINT and SIGTERM stop the server gracefully", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await using server = await TestServer.start();
    server.process.kill(signal);
    assert.equal((await server.process.status()).code, 0);
    await assert.rejects(Deno.lstat(`${server.dir}/hq-current`), Deno.errors.NotFound);
  }
});

Deno.test("two servers with two directories run side by side", async () => {
  await using first = await TestServer.start();
  await using second = await TestServer.start();
  const a = JSON.parse(
    await hqOk(["server", "info", "--output-mode=json", "--server-dir", first.dir]),
  );
  const b = JSON.parse(
    await hqOk(["server", "info", "--output-mode=json", "--server-dir", second.dir]),
  );
  assert.equal(a.pid, first.process.pid);
  assert.equal(b.pid, second.process.pid);
  assert.notEqual(a.server_uid, b.server_uid);
});

Deno.test("a second start on a live directory is refused", async () => {
  await using server = await TestServer.start();
  const result = await hq(["server", "start", "--server-dir", server.dir, "--host", "127.0.0.1"]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    new RegExp(
      `Server at ${server.dir} is already online, please stop it first using \`hq server stop --server-dir ${server.dir}\``,
    ),
  );
  assert.equal((await server.hq(["server", "info"])).code, 0, "the first server still answers");
});

Deno.test("a restart after a stop takes the next instance number", async () => {
  await using dir = await tempDir();
  {
    await using server = await TestServer.start({ serverDir: dir.path });
    await server.hq(["server", "stop"]);
    await server.process.status();
  }
  await using _again = await TestServer.start({ serverDir: dir.path });
  assert.equal(await Deno.readLink(`${dir.path}/hq-current`), `${dir.path}/002`);
});

Deno.test("a stale directory makes clients fail within 2 s with a clear message", async () => {
  await using server = await TestServer.start();
  server.process.kill("SIGKILL");
  await server.process.status();
  const started = performance.now();
  const result = await server.hq(["server", "info"]);
  const elapsedMs = performance.now() - started;
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^Access token found but HQ server 127\.0\.0\.1:\d+ is unreachable\./,
  );
  assert.match(result.stderr, /Try to \(re\)start the server using `hq server start --server-dir /);
  assert.ok(elapsedMs < 2000, `took ${elapsedMs} ms`);

  // A new server replaces the dangling state.
  await using _again = await TestServer.start({ serverDir: server.dir });
  assert.equal(await Deno.readLink(`${server.dir}/hq-current`), `${server.dir}/002`);
});

Deno.test("a dangling hq-current is replaced on start", async () => {
  await using dir = await tempDir();
  await Deno.symlink(`${dir.path}/does-not-exist`, `${dir.path}/hq-current`);
  await Deno.mkdir(`${dir.path}/007`);
  await Deno.mkdir(`${dir.path}/notes`);
  await using _server = await TestServer.start({ serverDir: dir.path });
  assert.equal(await Deno.readLink(`${dir.path}/hq-current`), `${dir.path}/008`);
});

Deno.test("clients report a missing server directory and a directory without a server", async () => {
  await using dir = await tempDir();
  const missing = await hq(["server", "info", "--server-dir", `${dir.path}/nothing`]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^Invalid server directory\n\nCaused by:\n {4}Error: ".*nothing" is not a directory\n$/,
  );

  const empty = await hq(["server", "info", "--server-dir", dir.path]);
  assert.equal(empty.code, 1);
  assert.equal(
    empty.stderr,
    `No running instance of HQ found at "${dir.path}".\nTry to start the server: \`hq server start --server-dir ${dir.path}\` or use a different server directory.\n`,
  );
  const json = await hq(["server", "info", "--server-dir", dir.path, "--output-mode", "json"]);
  assert.equal(json.code, 1);
  assert.match(JSON.parse(json.stdout).error, /^No running instance of HQ found/);
});

Deno.test("a copied access file in a plain directory reaches the server", async () => {
  await using server = await TestServer.start();
  await using copy = await tempDir();
  await Deno.copyFile(`${server.dir}/001/access.json`, `${copy.path}/access.json`);
  const info = JSON.parse(
    await hqOk(["server", "info", "--output-mode=json", "--server-dir", copy.path]),
  );
  assert.equal(info.pid, server.process.pid);
});

Deno.test("HQ_SERVER_DIR and a relative --server-dir find the server", async () => {
  await using server = await TestServer.start();
  const viaEnv = await hq(["server", "info"], { env: { HQ_SERVER_DIR: server.dir } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const parent = server.dir.slice(0, server.dir.lastIndexOf("/"));
  const name = server.dir.slice(server.dir.lastIndexOf("/") + 1);
  const relative = await hq(["server", "info", "--server-dir", name], { cwd: parent });
  assert.equal(relative.code, 0, relative.stderr);
});

Deno.test("an access file of another version is refused with the spec's message", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/access.json`,
    JSON.stringify({
      version: "v0.1.0",
      server_uid: "abcdef",
      client: { host: "127.0.0.1", port: 1, secret_key: null },
      worker: { host: "127.0.0.1", port: 2, secret_key: null },
    }),
  );
  const result = await hq(["server", "info", "--server-dir", dir.path]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^Hyperqueue version mismatch detected\.\nAccess record contains version v0\.1\.0, but the current version is v\d+\.\d+\.\d+\.\n$/,
  );
});

Deno.test("server wait returns once a server is up, and times out with the spec's message", async () => {
  await using dir = await tempDir();
  const timedOut = await hq(["server", "wait", "--timeout", "1s", "--server-dir", dir.path]);
  assert.equal(timedOut.code, 1);
  assert.match(
    timedOut.stderr,
    new RegExp(
      `^Timeout after 1s: Could not connect to server at \`${dir.path}\`. Make sure that the server is running.`,
    ),
  );

  await using server = await TestServer.start();
  const ok = await server.hq(["server", "wait"]);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("server wait waits for a server that starts later", async () => {
  await using dir = await tempDir();
  await using logs = await tempDir();
  await using waiter = new HqProcess([
    "server",
    "wait",
    "--timeout",
    "30s",
    "--server-dir",
    dir.path,
  ], {
    logDir: logs.path,
  });
  await using _server = await TestServer.start({ serverDir: dir.path });
  const status = await waiter.status();
  assert.equal(status.code, 0, waiter.stderr());
});
