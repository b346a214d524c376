/**
 * Workers inside batch jobs (server-worker spec §6): one suite, run against real Slurm (`sbatch`,
 * and `srun` inside `sbatch`) and against the PBS stand-in. A worker started in a job reports the
 * manager and job id, takes the job id as its group and the job's remaining wall time as its time
 * limit, and is CONNECTION LOST once the job is cancelled.
 */
import assert from "node:assert/strict";
import { type BatchSystem, JOB_WALLTIME_SEC, Pbs, Slurm } from "./_batch.ts";
import { hqCommand, tempDir, TestServer, waitUntil } from "./harness.ts";

const SYSTEMS: Array<{ label: string; create: () => Promise<BatchSystem> }> = [
  { label: "a Slurm job (sbatch)", create: () => Slurm.create() },
  { label: "an srun step of a Slurm job", create: () => Slurm.create({ viaSrun: true }) },
  { label: "a PBS job (qsub)", create: () => Pbs.create() },
];

/** The one-node Slurm may be busy with other suites' jobs, so a job can wait a while to start. */
const JOB_START_TIMEOUT_MS = 60_000;

/** Cells of every `| … |` line of a cli table. */
function tableRows(stdout: string): string[][] {
  return stdout.split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

/** Adds the job's output and state to a failure, which otherwise only says "timed out". */
async function explainingJob<T>(
  batch: BatchSystem,
  jobId: string,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n${await batch.describe(jobId)}\njob output:\n${
        batch.output(jobId)
      }`,
      { cause: error },
    );
  }
}

for (const { label, create } of SYSTEMS) {
  Deno.test(`a worker in ${label} reports its allocation and remaining time, and is CONNECTION LOST when the job is cancelled`, async () => {
    await using batch = await create();
    await using server = await TestServer.start();
    // A work dir of the test's, so that no `hq-worker…` directory is left in /tmp.
    await using workDir = await tempDir();
    const jobId = await batch.submit(hqCommand([
      ...["worker", "start", "--server-dir", server.dir, "--cpus", "1"],
      ...["--work-dir", workDir.path],
    ]));

    const [worker] = await explainingJob(batch, jobId, () =>
      waitUntil(async () => {
        const workers = JSON.parse(
          await server.hqOk(["worker", "info", "all", "--output-mode", "json"]),
        );
        return workers.length > 0 ? workers : undefined;
      }, { timeoutMs: JOB_START_TIMEOUT_MS, intervalMs: 250, what: "the worker to register" }));
    assert.equal(worker.id, 1);
    assert.equal(worker.ended, null);
    assert.deepEqual(worker.allocation, { id: jobId, manager: batch.jsonManager });
    assert.equal(worker.configuration.group, jobId);
    // The time limit counts from registration; the job's remaining time from its start.
    const runTimeSec = await batch.runTimeSec(jobId);
    const sinceRegistrationSec = (Date.now() - Date.parse(worker.started)) / 1000;
    const timeLimitSec = worker.configuration.time_limit;
    assert.equal(typeof timeLimitSec, "number");
    assert.ok(timeLimitSec <= JOB_WALLTIME_SEC, `time limit ${timeLimitSec} s`);
    const workerLeftSec = timeLimitSec - sinceRegistrationSec;
    const jobLeftSec = JOB_WALLTIME_SEC - runTimeSec;
    assert.ok(
      Math.abs(workerLeftSec - jobLeftSec) <= 10,
      `the worker has ${workerLeftSec} s left, the job ${jobLeftSec} s`,
    );

    const [, row] = tableRows(await server.hqOk(["worker", "list"]));
    assert.deepEqual(
      [row[0], row[1], row[4], row[5]],
      ["1", "RUNNING", batch.cliManager, jobId],
    );
    const info = new Map(
      tableRows(await server.hqOk(["worker", "info", "1"]))
        .filter(([name]) => name !== "")
        .map(([name, value]) => [name, value] as const),
    );
    assert.equal(info.get("Manager"), batch.cliManager);
    assert.equal(info.get("Manager Job ID"), jobId);
    assert.equal(info.get("Group"), jobId);
    assert.match(info.get("Time Limit")!, /^\d+m( \d+s)?$/);

    await batch.cancel(jobId);
    await explainingJob(batch, jobId, () => server.waitForWorkerState(1, "CONNECTION LOST"));
  });
}
