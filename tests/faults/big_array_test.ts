/**
 * Big arrays (issue 15, fault 3): an array past the per-job limit is refused up front with the
 * limit in the message, and a cancelled array stays cancelled across a SIGKILL of the server, as
 * the cancel is one journal record whatever the task count.
 */
import assert from "node:assert/strict";
import { tempDir } from "../harness.ts";
import { FaultServer, type JobListJson } from "./_fault_harness.ts";

Deno.test("a 100,000,000-task array is refused with the limit; a cancelled array stays cancelled after a crash", async () => {
  await using work = await tempDir("hq-fault-big-array-");
  const options = {
    serverDir: `${work.path}/server`,
    logDir: work.path,
    journalPath: `${work.path}/journal.bin`,
    // Only what is flushed before a reply is on disk at the crash.
    args: ["--journal-flush-period", "1h"],
  };
  const submit = (
    array: string,
  ) => ["--output-mode", "quiet", "submit", "--array", array, "--", "true"];
  {
    await using server = await FaultServer.start(options);
    const refused = await server.hq(submit("0-99999999"));
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /A job can hold at most 4,000,000 tasks, this submit has 100,000,000/,
    );
    assert.equal((await server.hqOk(submit("0-199999"))).trim(), "1");
    await server.hqOk(["job", "cancel", "1"]);
    await server.kill();
  }
  await using restarted = await FaultServer.start(options);
  const jobs = await restarted.hqJson<JobListJson[]>(["job", "list", "--all"]);
  for (const job of jobs) assert.equal(job.task_stats.waiting ?? 0, 0, JSON.stringify(job));
});
