/**
 * End-to-end tests of `hq worker deploy-ssh` (server-worker spec §4.7) against a real OpenSSH
 * server on 127.0.0.1 (tests/_sshd.ts): workers started over ssh join a real server, failing hosts
 * are named with their exit codes, SIGINT closes the ssh sessions and the workers in them, and
 * the hostfile/usage errors. The remote workers find the server through `HQ_SERVER_DIR`, set by
 * sshd for the session (global options are not forwarded), as a shared home would on a cluster.
 */
import assert from "node:assert/strict";
import { joinPath } from "../common/paths.ts";
import { hq, HqProcess, tempDir, TestServer, waitUntil } from "./harness.ts";
import { closedPort, descendantsOf, isAlive, sshdUnavailable, TestSshd } from "./_sshd.ts";

const skipReason = sshdUnavailable();
if (skipReason !== undefined) {
  console.warn(`deploy_ssh_test.ts: skipping the tests with sshd: ${skipReason}`);
}

/**
 * `hq --server-dir <logDir>/local-root worker deploy-ssh <args>` in the background, with the
 * sshd's `ssh` first on PATH. The local root (where the hq launcher script goes) is not the
 * server's: the remote workers find theirs through the session's HQ_SERVER_DIR.
 */
function startDeploy(
  sshd: TestSshd,
  logDir: string,
  args: string[],
): HqProcess & AsyncDisposable {
  const root = joinPath(logDir, "local-root");
  const process = new HqProcess(["--server-dir", root, "worker", "deploy-ssh", ...args], {
    logDir,
    env: { PATH: sshd.path },
  });
  // A test that fails half-way still closes its ssh sessions the way a user would.
  const dispose = () => process.exited ? Promise.resolve() : process.stop("SIGINT").then(() => {});
  return Object.assign(process, { [Symbol.asyncDispose]: dispose });
}

async function exitOf(process: HqProcess, timeoutMs = 30_000): Promise<Deno.CommandStatus> {
  await waitUntil(() => process.exited, { timeoutMs, what: "hq worker deploy-ssh to exit" });
  return await process.status();
}

async function runningWorkers(server: TestServer): Promise<number> {
  return [...(await server.workerStates()).values()].filter((state) => state === "RUNNING")
    .length;
}

Deno.test({
  name:
    "deploy-ssh starts `hq worker start` with the given arguments on every host of the hostfile",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using server = await TestServer.start();
    await using dir = await tempDir();
    await using sshd = await TestSshd.start({
      env: { HQ_SERVER_DIR: server.dir, TMPDIR: dir.path },
    });
    const hostfile = joinPath(dir.path, "hosts");
    // The first host uses the client config's port, the second names it.
    await Deno.writeTextFile(hostfile, `127.0.0.1\n\n   127.0.0.1:${sshd.port}  \n`);
    await using deploy = startDeploy(sshd, dir.path, [
      hostfile,
      "--cpus",
      "[0,1]",
      "--group",
      "over ssh",
    ]);

    await waitUntil(async () => {
      if (deploy.exited) throw new Error(`deploy-ssh exited early:\n${deploy.stderr()}`);
      return await runningWorkers(server) === 2;
    }, { timeoutMs: 30_000, intervalMs: 200, what: "two workers over ssh" });
    const workers = JSON.parse(await server.hqOk(["worker", "list", "--output-mode", "json"]));
    assert.equal(workers.length, 2);
    for (const worker of workers) {
      // Both arguments needed quoting for the remote shell: a space and a glob.
      assert.equal(worker.configuration.group, "over ssh");
      const cpus = worker.configuration.resources.resources.find(
        (resource: { name: string }) => resource.name === "cpus",
      );
      assert.deepEqual(cpus.values, ["0", "1"]);
    }

    // Workers that end normally end their ssh with 0: deploy-ssh ends with 0 and no error.
    await server.hqOk(["worker", "stop", "all"]);
    const status = await exitOf(deploy);
    const stderr = deploy.stderr();
    assert.equal(status.code, 0, stderr);
    assert.equal(deploy.stdout(), "");
    assert.match(stderr, /INFO Worker on 127\.0\.0\.1 ended\n/);
    assert.match(stderr, new RegExp(`INFO Worker on 127\\.0\\.0\\.1:${sshd.port} ended\\n`));
    assert.doesNotMatch(stderr, /ERROR|Some workers/);
    // Under `deno run`, the remote hosts ran a launcher script written into the local root.
    assert.ok(Deno.statSync(joinPath(dir.path, "local-root", "hq")).isFile);
  },
});

Deno.test({
  name: "deploy-ssh names every host whose worker failed with its exit code and exits 1",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using server = await TestServer.start();
    await using dir = await tempDir();
    await using sshd = await TestSshd.start({
      env: { HQ_SERVER_DIR: server.dir, TMPDIR: dir.path },
      extraPorts: [
        // A host where hq worker start fails for real: its server directory holds no server.
        { env: { HQ_SERVER_DIR: joinPath(dir.path, "no-server-here") } },
        // Our worker only ever exits 0 or 1 (spec §5.6): a host whose sessions end with 42 stands
        // in for a worker that ended with any other code.
        { forceCommand: "exit 42" },
      ],
    });
    const [noServerPort, exit42Port] = sshd.extraPorts;
    const refusedPort = await closedPort();
    const hostfile = joinPath(dir.path, "hosts");
    await Deno.writeTextFile(
      hostfile,
      [
        "127.0.0.1",
        `127.0.0.1:${noServerPort}`,
        `127.0.0.1:${exit42Port}`,
        // ssh itself fails: 255.
        `127.0.0.1:${refusedPort}`,
      ].join("\n"),
    );
    // The good worker ends by itself once idle, so that every ssh ends.
    await using deploy = startDeploy(sshd, dir.path, [hostfile, "--idle-timeout", "1s"]);

    const status = await exitOf(deploy);
    const stderr = deploy.stderr();
    assert.equal(status.code, 1, stderr);
    assert.equal(deploy.stdout(), "");
    const errors = stderr.split("\n").filter((line) => / ERROR /.test(line))
      .map((line) => line.replace(/^\S+ ERROR /, "")).sort();
    assert.deepEqual(
      errors,
      [
        `Worker on 127.0.0.1:${exit42Port} ended with exit code 42`,
        `Worker on 127.0.0.1:${noServerPort} ended with exit code 1`,
        `Worker on 127.0.0.1:${refusedPort} ended with exit code 255`,
      ].sort(),
    );
    assert.match(stderr, /INFO Worker on 127\.0\.0\.1 ended\n/);
    assert.match(stderr, /\nSome workers have ended with an error\n$/);
    assert.equal((await server.workerStates()).get(1), "IDLE TIMEOUT");
  },
});

Deno.test({
  name: "deploy-ssh passes the workers' output through with --show-output only",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using dir = await tempDir();
    const missing = joinPath(dir.path, "no-server-here");
    await using sshd = await TestSshd.start({ env: { HQ_SERVER_DIR: missing, TMPDIR: dir.path } });
    const hostfile = joinPath(dir.path, "hosts");
    await Deno.writeTextFile(hostfile, "127.0.0.1\n");

    await using quiet = startDeploy(sshd, dir.path, [hostfile]);
    assert.equal((await exitOf(quiet)).code, 1);
    assert.equal(quiet.stdout(), "");

    await using shown = startDeploy(sshd, dir.path, ["--show-output", hostfile]);
    assert.equal((await exitOf(shown)).code, 1);
    // The remote worker's own error (stderr and stdout share the remote terminal).
    assert.match(shown.stdout(), new RegExp(`no-server-here`));
    assert.doesNotMatch(shown.stderr(), /--show-output/);
    assert.match(quiet.stderr(), /Run with --show-output/);
  },
});

Deno.test({
  name: "deploy-ssh closes its ssh processes and their workers on SIGINT",
  ignore: skipReason !== undefined,
  fn: async () => {
    await using server = await TestServer.start();
    await using dir = await tempDir();
    await using sshd = await TestSshd.start({
      env: { HQ_SERVER_DIR: server.dir, TMPDIR: dir.path },
    });
    const hostfile = joinPath(dir.path, "hosts");
    await Deno.writeTextFile(hostfile, `127.0.0.1\n127.0.0.1:${sshd.port}\n`);
    await using deploy = startDeploy(sshd, dir.path, [hostfile]);
    await waitUntil(async () => {
      if (deploy.exited) throw new Error(`deploy-ssh exited early:\n${deploy.stderr()}`);
      return await runningWorkers(server) === 2;
    }, { timeoutMs: 30_000, intervalMs: 200, what: "two workers over ssh" });
    const sshPids = descendantsOf(deploy.pid);
    const sessionPids = sshd.sessionPids();
    assert.equal(sshPids.length, 2);
    // The command of spec §4.7, after the wrapper's `-F <config>`.
    const launcher = joinPath(dir.path, "local-root", "hq");
    const sshCommands = sshPids.map((pid) =>
      Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").slice(3, -1)
    ).sort();
    assert.deepEqual(sshCommands, [
      ["127.0.0.1", "-t", "-t", "--", launcher, "worker", "start"],
      ["127.0.0.1", "-t", "-t", "-p", String(sshd.port), "--", launcher, "worker", "start"],
    ]);
    assert.ok(sessionPids.length >= 2, `sessions: ${sessionPids}`);

    deploy.kill("SIGINT");
    const status = await exitOf(deploy);
    assert.equal(status.code, 0, deploy.stderr());
    assert.match(deploy.stderr(), /SIGINT received, closing workers/);
    assert.doesNotMatch(deploy.stderr(), /ERROR/);
    assert.deepEqual(sshPids.filter(isAlive), []);
    // The remote sessions get a hangup when their ssh goes away, and the workers with them.
    await waitUntil(() => sessionPids.filter(isAlive).length === 0, {
      timeoutMs: 15_000,
      what: "the remote sessions and workers to end",
    });
    await waitUntil(async () => await runningWorkers(server) === 0, {
      timeoutMs: 15_000,
      what: "the server to see the workers go",
    });
    assert.deepEqual([...(await server.workerStates()).values()], [
      "CONNECTION LOST",
      "CONNECTION LOST",
    ]);
  },
});

Deno.test("deploy-ssh reports hostfile, ssh and argument errors before starting anything", async () => {
  await using dir = await tempDir();
  const at = (name: string) => joinPath(dir.path, name);
  await Deno.writeTextFile(at("bad-port"), "node1\nnode2:ssh\n");
  await Deno.writeTextFile(at("empty"), "\n   \n");
  await Deno.writeTextFile(at("hosts"), "node1\n");
  await Deno.mkdir(at("empty-path"));

  const failure = async (args: string[], env: Record<string, string> = {}) => {
    const result = await hq(["worker", "deploy-ssh", ...args], { env });
    assert.equal(result.stdout, "");
    return { code: result.code, stderr: result.stderr };
  };
  assert.deepEqual(await failure([at("bad-port")]), {
    code: 1,
    stderr: 'Cannot parse port from node2:ssh: "ssh" is not a number\n',
  });
  assert.deepEqual(await failure([at("empty")]), {
    code: 1,
    stderr: "The provided hostname is empty\n",
  });
  const missing = await failure([at("missing")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`^Cannot load hostfile from "${at("missing")}"\n`));
  assert.deepEqual(await failure([at("hosts")], { PATH: at("empty-path") }), {
    code: 1,
    stderr: "Cannot find `ssh` binary. Make sure that OpenSSH is installed.\n",
  });

  // The forwarded arguments are checked as `hq worker start` checks them: usage errors (exit 2).
  const badCpus = await failure([at("hosts"), "--cpus", "zero"]);
  assert.equal(badCpus.code, 2);
  assert.match(badCpus.stderr, /^error: invalid value 'zero' for '--cpus <CPUS>'/);
  // `--show-output` after the hostfile belongs to `hq worker start`, which does not know it.
  assert.deepEqual(await failure([at("hosts"), "--show-output"]), {
    code: 2,
    stderr: "error: unexpected argument '--show-output' found\n",
  });
  assert.deepEqual(await failure([]), {
    code: 2,
    stderr: "error: the following required arguments were not provided: <HOSTFILE>\n",
  });
});
