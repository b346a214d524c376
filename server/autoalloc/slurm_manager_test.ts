import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { JOB_ID_FILE } from "./allocation_dir.ts";
import { AllocationSubmitError } from "./allocation_manager.ts";
import { joinPath } from "../../common/paths.ts";
import { managerContractTests, ManagerFixture } from "./_manager_contract.ts";
import {
  parseSbatchJobId,
  parseScontrolStatus,
  parseSlurmDateTime,
  SlurmManager,
} from "./slurm_manager.ts";

Deno.test("parseSbatchJobId takes the 4th word of the 'Submitted batch job' line", () => {
  equal(parseSbatchJobId("Submitted batch job 42\n"), "42");
  equal(parseSbatchJobId("site banner\n  submitted BATCH job 7 on cluster c1  \nbye"), "7");
  throws(() => parseSbatchJobId("42\n"), { message: "Missing job id in sbatch output" });
  throws(() => parseSbatchJobId("Submitted batch job\n"), {
    message: "Missing job id in sbatch output",
  });
});

function scontrol(state: string, start = "2021-09-29T09:36:56", end = "2021-09-29T10:00:01") {
  return `JobId=5 JobName=hq-1-1
   UserId=root(0) GroupId=root(0) MCS_label=N/A
   JobState=${state} Reason=None Dependency=(null)
   RunTime=00:00:01 TimeLimit=00:01:00 TimeMin=N/A
   StartTime=${start} EndTime=${end} Deadline=N/A
`;
}

Deno.test("parseScontrolStatus maps Slurm's job states", () => {
  const start = new Date(2021, 8, 29, 9, 36, 56).getTime();
  const end = new Date(2021, 8, 29, 10, 0, 1).getTime();
  for (const state of ["PENDING", "CONFIGURING"]) {
    deepEqual(parseScontrolStatus(scontrol(state)), { kind: "queued" });
  }
  for (const state of ["RUNNING", "COMPLETING"]) {
    deepEqual(parseScontrolStatus(scontrol(state)), { kind: "running" });
  }
  for (const state of ["COMPLETED", "TIMEOUT"]) {
    deepEqual(parseScontrolStatus(scontrol(state)), {
      kind: "finished",
      failed: false,
      startedMs: start,
      endedMs: end,
    });
  }
  for (const state of ["CANCELLED", "FAILED"]) {
    deepEqual(parseScontrolStatus(scontrol(state)), {
      kind: "finished",
      failed: true,
      startedMs: start,
      endedMs: end,
    });
  }
  deepEqual(parseScontrolStatus(scontrol("NODE_FAIL")), {
    kind: "error",
    message: `Unknown Slurm job status "NODE_FAIL"`,
  });
  deepEqual(parseScontrolStatus("slurm_load_jobs error: Invalid job id specified"), {
    kind: "error",
    message: "Missing JobState in scontrol output",
  });
});

Deno.test("parseScontrolStatus reads Unknown times as null and rejects malformed ones", () => {
  deepEqual(parseScontrolStatus(scontrol("CANCELLED", "Unknown", "Unknown")), {
    kind: "finished",
    failed: true,
    startedMs: null,
    endedMs: null,
  });
  deepEqual(parseScontrolStatus(scontrol("COMPLETED", "2021-09-29 09:36:56")), {
    kind: "error",
    message:
      `Cannot parse StartTime "2021-09-29" of scontrol output: expected e.g. "2021-09-29T09:36:56"`,
  });
  equal(parseSlurmDateTime("2021-02-03T04:05:06"), new Date(2021, 1, 3, 4, 5, 6).getTime());
  throws(() => parseSlurmDateTime("2021-13-03T04:05:06"));
});

async function slurmUp(): Promise<boolean> {
  try {
    const output = await new Deno.Command("sinfo", {
      args: ["-h", "-o", "%t"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success && /idle|mix|alloc/.test(new TextDecoder().decode(output.stdout));
  } catch {
    return false; // sinfo is not installed.
  }
}

const noSlurm = !(await slurmUp());
if (noSlurm) {
  console.warn(
    "Slurm tests skipped: `sinfo` shows no idle/mix/alloc node (start the local cluster with shared/slurm/slurm-up.sh as root)",
  );
}

async function slurmFixture(): Promise<ManagerFixture> {
  return new ManagerFixture(
    new SlurmManager(),
    await Deno.makeTempDir({ prefix: "hq-slurm-manager-" }),
  );
}

managerContractTests("SlurmManager", { ignore: noSlurm, fixture: slurmFixture });

Deno.test({
  name: "SlurmManager: a held allocation is queued, and canceled it finishes failed",
  ignore: noSlurm,
  fn: async () => {
    await using f = await slurmFixture();
    const { id, dir } = await f.submit("true", { params: { additionalArgs: ["--hold"] } });
    deepEqual(await f.status(id, dir), { kind: "queued" });
    await f.manager.cancel(id, dir);
    const finished = await f.waitFor(id, dir, (s) => s.kind === "finished", "the cancel");
    // Slurm stamps a job canceled while pending with the cancel time as start and end.
    ok(finished.kind === "finished" && finished.failed && finished.startedMs !== null);
  },
});

Deno.test({
  name: "SlurmManager: a rejected submission carries sbatch's exit code, stderr and the script",
  ignore: noSlurm,
  fn: async () => {
    await using f = await slurmFixture();
    const error = await f.submit("true", { params: { additionalArgs: ["--partition=nope"] } })
      .then(() => null, (error) => error);
    ok(error instanceof AllocationSubmitError, String(error));
    equal(
      error.message,
      "Exit code: 1\nStderr: sbatch: error: invalid partition specified: nope\n" +
        "sbatch: error: Batch job submission failed: Invalid partition name specified\nStdout: ",
    );
    const dir = joinPath(f.root, "autoalloc/1/001");
    equal(error.scriptPath, joinPath(dir, "hq-submit.sh"));
    await Deno.stat(error.scriptPath);
    await rejects(Deno.stat(joinPath(dir, JOB_ID_FILE)), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "SlurmManager: an unknown job id is a status error, the other ids still get theirs",
  ignore: noSlurm,
  fn: async () => {
    await using f = await slurmFixture();
    const { id, dir } = await f.submit("exit 0");
    await f.waitFor(id, dir, (s) => s.kind === "finished", "the allocation to finish");
    const results = await f.manager.poll(["999999999", id], dir);
    deepEqual(results.get("999999999"), {
      kind: "error",
      message: "Exit code: 1\nStderr: slurm_load_jobs error: Invalid job id specified\nStdout: ",
    });
    equal(results.get(id)?.kind, "finished");
  },
});
