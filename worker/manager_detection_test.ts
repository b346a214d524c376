import assert from "node:assert/strict";
import {
  detectManager,
  parsePbsWalltime,
  parseSlurmTime,
  pbsRemainingMs,
  slurmRemainingMs,
} from "./manager_detection.ts";

Deno.test("parseSlurmTime reads D-HH:MM:SS, HH:MM:SS, MM:SS and SS", () => {
  assert.equal(parseSlurmTime("1-02:03:04"), ((24 + 2) * 3600 + 3 * 60 + 4) * 1000);
  assert.equal(parseSlurmTime("00:10:00"), 600_000);
  assert.equal(parseSlurmTime("10:30"), 630_000);
  assert.equal(parseSlurmTime("45"), 45_000);
  assert.equal(parseSlurmTime("2-05"), (2 * 86400 + 5 * 3600) * 1000);
  assert.throws(() => parseSlurmTime("UNLIMITED"));
});

Deno.test("parsePbsWalltime reads [[H:]M:]S", () => {
  assert.equal(parsePbsWalltime("01:00:00"), 3_600_000);
  assert.equal(parsePbsWalltime("90"), 90_000);
  assert.equal(parsePbsWalltime("1:30"), 90_000);
  assert.throws(() => parsePbsWalltime("1:2:3:4"));
});

Deno.test("slurmRemainingMs subtracts RunTime from TimeLimit of scontrol's output", async () => {
  const output = "JobId=42 JobName=wrap\n   RunTime=00:01:40 TimeLimit=00:10:00 TimeMin=N/A\n";
  assert.equal(await slurmRemainingMs("42", () => Promise.resolve(output)), 500_000);
  await assert.rejects(
    slurmRemainingMs("42", () => Promise.resolve("RunTime=00:00:01 TimeLimit=UNLIMITED")),
  );
});

Deno.test("pbsRemainingMs subtracts used walltime from the limit of qstat's JSON", async () => {
  const json = JSON.stringify({
    Jobs: {
      "7.pbs": {
        Resource_List: { walltime: "00:10:00" },
        resources_used: { walltime: "00:00:30" },
      },
    },
  });
  assert.equal(await pbsRemainingMs("7.pbs", () => Promise.resolve(json)), 570_000);
  const noUsage = JSON.stringify({ Jobs: { "7.pbs": { Resource_List: { walltime: "60" } } } });
  assert.equal(await pbsRemainingMs("7.pbs", () => Promise.resolve(noUsage)), 60_000);
});

Deno.test("detectManager prefers PBS, then Slurm, and honours --manager", async () => {
  const run = () => Promise.reject(new Error("no batch system here"));
  assert.deepEqual(await detectManager("detect", { env: {}, run }), {
    manager: null,
    remainingMs: null,
  });
  const slurm = await detectManager("detect", { env: { SLURM_JOBID: "9" }, run });
  assert.deepEqual(slurm, { manager: { manager: "Slurm", allocationId: "9" }, remainingMs: null });
  const pbs = await detectManager("detect", {
    env: { PBS_ENVIRONMENT: "PBS_BATCH", PBS_JOBID: "3.x", SLURM_JOB_ID: "9" },
    run,
  });
  assert.equal(pbs.manager?.manager, "PBS");
  assert.equal((await detectManager("none", { env: { SLURM_JOB_ID: "9" }, run })).manager, null);
  await assert.rejects(
    detectManager("pbs", { env: {}, run }),
    /PBS_ENVIRONMENT not found. The process is not running under PBS/,
  );
  await assert.rejects(
    detectManager("slurm", { env: {}, run }),
    /SLURM_JOB_ID\/SLURM_JOBID not found. The process is not running under SLURM/,
  );
  await assert.rejects(
    detectManager("detect", { env: { PBS_ENVIRONMENT: "PBS_BATCH" }, run }),
    /PBS_JOBID/,
  );
});
