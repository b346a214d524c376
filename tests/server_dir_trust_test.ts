/**
 * Server directory trust (issue 15, fault 6): clients and workers refuse a server directory,
 * instance directory or access file that another user owns or can write, as ssh's StrictModes
 * does, since its writer could point them at their own server.
 */
import assert from "node:assert/strict";
import { hq, HqProcess, TestServer, waitUntil } from "./harness.ts";

Deno.test("clients and workers refuse a server directory others can write or another user owns", async () => {
  await using server = await TestServer.start();
  const instance = Deno.realPathSync(`${server.dir}/hq-current`);
  await Deno.chmod(server.dir, 0o777);
  try {
    const info = await server.hq(["server", "info"]);
    assert.equal(info.code, 1);
    assert.match(
      info.stderr,
      /Refusing to use the server directory ".*": it is writable by its group \(mode 0777\); fix it with `chmod go-w/,
    );
    await using worker = new HqProcess(["worker", "start", "--server-dir", server.dir], {
      logDir: server.dir,
    });
    await waitUntil(() => worker.exited, { what: "the worker to refuse the directory" });
    assert.equal((await worker.status()).code, 1);
    assert.match(worker.stderr(), /Refusing to use the server directory/);
  } finally {
    await Deno.chmod(server.dir, 0o700);
  }
  await server.hqOk(["server", "info"]);

  await Deno.chmod(`${instance}/access.json`, 0o606);
  const info = await server.hq(["server", "info"]);
  assert.match(info.stderr, /Refusing to use the access file .*writable by others/);
  await Deno.chmod(`${instance}/access.json`, 0o400);

  if (Deno.uid() === 0) {
    await Deno.chown(instance, 65534, 65534);
    const info = await server.hq(["server", "info"]);
    assert.match(info.stderr, /it belongs to uid 65534, not to you/);
    await Deno.chown(instance, 0, 0);
  }
  await server.hqOk(["server", "info"]);
});

Deno.test("without $HOME the default server directory is per-user", async () => {
  const result = await hq(["server", "info"], { env: { HOME: "" } });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`hq-server-${Deno.uid()}`));
});
