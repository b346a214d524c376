/**
 * Fault injection: the journal's file system fills up (a 256 KiB tmpfs). The server must log the
 * failure, refuse modifying requests with an error that names the journal instead of
 * acknowledging what it cannot persist, and keep answering read-only requests. Once there is room
 * again, a restart on the same journal restores every acknowledged job.
 */
import assert from "node:assert/strict";
import { hqAt, HqProcess, type HqResult, tempDir, TestServer, waitUntil } from "../harness.ts";
import { canMountTmpfs, type JobListJson, mountTmpfs } from "./_fault_harness.ts";

const canMount = await canMountTmpfs();
const NO_TMPFS = "cannot mount a tmpfs here (needs root on Linux): disk-full tests skipped";
if (!canMount) console.warn(NO_TMPFS);

/** About 48 KB of entries, so that a handful of submits fill 256 KiB. */
const ENTRIES = Array.from({ length: 4_000 }, (_, i) => `entry-${String(i).padStart(7, "0")}`);

interface Filled {
  acknowledged: number[];
  refused: HqResult;
}

/** Submits `--each-line` jobs until one is refused; fails after 30 acknowledged ones. */
async function submitUntilRefused(server: TestServer, cwd: string): Promise<Filled> {
  const entriesFile = `${cwd}/entries.txt`;
  await Deno.writeTextFile(entriesFile, ENTRIES.join("\n") + "\n");
  const acknowledged: number[] = [];
  for (let i = 0; i < 30; i++) {
    const result = await hqAt(server, [
      "--output-mode",
      "quiet",
      "submit",
      "--each-line",
      entriesFile,
      "--stdout",
      "none",
      "--stderr",
      "none",
      "true",
    ], { cwd });
    if (result.code !== 0) return { acknowledged, refused: result };
    acknowledged.push(Number(result.stdout.trim()));
  }
  throw new Error(`30 submits of ~48 KB each were acknowledged on a 256 KiB file system`);
}

async function listedIds(server: TestServer): Promise<number[]> {
  const jobs: JobListJson[] = JSON.parse(
    await server.hqOk(["--output-mode", "json", "job", "list", "--all"]),
  );
  return jobs.map((job) => job.id);
}

Deno.test({
  name:
    "a full disk under the journal: modifying requests are refused naming the journal, reads still answer, a restart with room restores every acknowledged job",
  ignore: !canMount,
  async fn() {
    await using cwd = await tempDir("hq-fault-full-");
    await using disk = await mountTmpfs(256);
    assert.ok(disk !== null);
    const journal = `${disk.path}/journal.bin`;
    const serverDir = `${cwd.path}/server`;
    const serverArgs = ["--journal", journal, "--journal-flush-period", "1h"];

    let acknowledged: number[];
    {
      await using server = await TestServer.start({ serverDir, args: serverArgs });
      const filled = await submitUntilRefused(server, cwd.path);
      acknowledged = filled.acknowledged;
      assert.ok(acknowledged.length > 0, "the first submits fit");
      assert.equal(filled.refused.code, 1, JSON.stringify(filled.refused));
      assert.match(filled.refused.stderr, /journal/i);
      assert.match(filled.refused.stderr, /No space left on device/);
      assert.doesNotMatch(filled.refused.stdout, /\d/, "no job id is printed");
      assert.match(server.process.stderr(), /ERROR .*journal.*No space left on device/);
      // What the refused submit had written is cut off at the next try, which may then fit:
      // take that room too until a small submit is refused as well.
      for (let i = 0;; i++) {
        assert.ok(i < 10, "a full disk keeps taking submits");
        await fillUp(disk.path);
        const small = await hqAt(server, ["--output-mode", "quiet", "submit", "true"], {
          cwd: cwd.path,
        });
        if (small.code !== 0) break;
        acknowledged.push(Number(small.stdout.trim()));
      }

      // A request whose record does not fit is refused, in every output mode. Each try first
      // cuts off what the refused one before had written (fill that room too); a record small
      // enough for the room left in the file's last block is taken (cancel, open).
      const big = ["submit", "--each-line", `${cwd.path}/entries.txt`, "true"];
      await fillUp(disk.path);
      const submit = await hqAt(server, big, { cwd: cwd.path });
      assert.equal(submit.code, 1);
      assert.match(submit.stderr, /journal/i);
      await fillUp(disk.path);
      const json = await hqAt(server, ["--output-mode", "json", ...big], { cwd: cwd.path });
      assert.equal(json.code, 1);
      assert.match(JSON.parse(json.stdout).error, /journal/i);
      await fillUp(disk.path);
      const cancel = await server.hq(["job", "cancel", String(acknowledged[0])]);
      if (cancel.code !== 0) assert.match(cancel.stderr, /journal/i);

      // Read-only requests still answer.
      const info = JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"]));
      assert.equal(info.journal_path, journal);
      const listed = await listedIds(server);
      for (const id of acknowledged) assert.ok(listed.includes(id), `job ${id} is listed`);
      const details = JSON.parse(
        await server.hqOk(["--output-mode", "json", "job", "info", String(acknowledged[0])]),
      );
      assert.equal(details[0].info.task_count, ENTRIES.length);
      assert.equal(
        (await server.hqOk(["--output-mode", "quiet", "job", "list", "--all"])).split("\n")[0],
        `${acknowledged[0]} ${cancel.code === 0 ? "CANCELED" : "WAITING"}`,
        "a refused cancel changed nothing",
      );

      // Stopping cannot write `server-stop` either; the server still ends.
      const status = await server.process.stop("SIGTERM");
      assert.equal(status.signal, null, server.process.stderr());
    }

    await disk.resize(8 * 1024);
    await using restarted = await TestServer.start({ serverDir, args: serverArgs });
    const restored = await listedIds(restarted);
    for (const id of acknowledged) assert.ok(restored.includes(id), `job ${id} is restored`);
    const next = await hqAt(restarted, ["--output-mode", "quiet", "submit", "true"], {
      cwd: cwd.path,
    });
    assert.equal(next.code, 0, next.stderr);
    assert.ok(Number(next.stdout.trim()) > Math.max(...acknowledged));
  },
});

// The submit that hits the full disk is refused (exit 1, no id printed), and the server has not
// created its job either: it makes a change only once its record is on disk.
Deno.test({
  name: "a submit refused because the journal cannot be written creates no job",
  ignore: !canMount,
  async fn() {
    await using cwd = await tempDir("hq-fault-full-");
    await using disk = await mountTmpfs(256);
    assert.ok(disk !== null);
    await using server = await TestServer.start({
      args: ["--journal", `${disk.path}/journal.bin`, "--journal-flush-period", "1h"],
    });
    const { acknowledged } = await submitUntilRefused(server, cwd.path);
    assert.deepEqual(await listedIds(server), acknowledged);
  },
});

/** Fills the file system at `dir` with a file `fill` until it has no room left. */
async function fillUp(dir: string): Promise<void> {
  using file = await Deno.open(`${dir}/fill`, { write: true, create: true });
  const chunk = new Uint8Array(4096);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    if (!/No space left/.test(String(error))) throw error;
  }
}

/** Runs `hq server start` with a journal that cannot be written; it must exit on its own. */
async function failedStart(serverDir: string, journal: string, logDir: string) {
  await using start = new HqProcess(
    ["server", "start", "--server-dir", serverDir, "--host", "127.0.0.1", "--journal", journal],
    { logDir },
  );
  await waitUntil(() => start.exited, { timeoutMs: 20_000, what: "hq server start to give up" });
  return { code: (await start.status()).code, stderr: start.stderr() };
}

// A failed start leaves no empty journal behind (an empty journal is refused at start, so the
// server could not start again on that path until someone deleted the file).
Deno.test({
  name:
    "a server that cannot write its new journal on a full disk refuses to start, naming the journal, and starts on it once there is room",
  ignore: !canMount,
  async fn() {
    await using cwd = await tempDir("hq-fault-full-");
    await using disk = await mountTmpfs(64);
    assert.ok(disk !== null);
    await fillUp(disk.path);
    const journal = `${disk.path}/journal.bin`;
    const serverDir = `${cwd.path}/server`;
    const start = await failedStart(serverDir, journal, cwd.path);
    assert.equal(start.code, 1, start.stderr);
    assert.match(start.stderr, /Cannot write journal ".*journal\.bin": No space left on device/);
    await Deno.remove(`${disk.path}/fill`);
    await using server = await TestServer.start({ serverDir, args: ["--journal", journal] });
    const next = await hqAt(server, ["--output-mode", "quiet", "submit", "true"], {
      cwd: cwd.path,
    });
    assert.equal(next.code, 0, next.stderr);
  },
});

// Issue 15, item 9: a failed journal write was never tried again, so once the disk was full the
// server refused every modifying request until it was restarted, even after space was freed.
Deno.test({
  name:
    "once the journal's disk has room again the server takes submits without a restart; a restart restores them, not the refused one",
  ignore: !canMount,
  async fn() {
    await using cwd = await tempDir("hq-fault-full-");
    await using disk = await mountTmpfs(256);
    assert.ok(disk !== null);
    const journal = `${disk.path}/journal.bin`;
    const serverDir = `${cwd.path}/server`;
    const serverArgs = ["--journal", journal, "--journal-flush-period", "1s"];
    let before: number[];
    let after: number;
    {
      await using server = await TestServer.start({ serverDir, args: serverArgs });
      const filled = await submitUntilRefused(server, cwd.path);
      before = filled.acknowledged;
      await disk.resize(8 * 1024);
      const next = await hqAt(server, ["--output-mode", "quiet", "submit", "true"], {
        cwd: cwd.path,
      });
      assert.equal(next.code, 0, next.stderr);
      after = Number(next.stdout.trim());
      assert.match(server.process.stderr(), /writable again/);
      assert.deepEqual(await listedIds(server), [...before, after]);
      await server.process.stop("SIGKILL");
    }
    await using restarted = await TestServer.start({ serverDir, args: serverArgs });
    assert.deepEqual(await listedIds(restarted), [...before, after]);
  },
});
