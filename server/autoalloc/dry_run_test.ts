import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { joinPath } from "../../common/paths.ts";
import { PBS_STAND_IN_DIR } from "../../tests/_batch.ts";
import { tempDir, waitUntil } from "../../tests/harness.ts";
import type { AllocationManager, ManagerPollResult } from "./allocation_manager.ts";
import { dryRun, DryRunError } from "./dry_run.ts";
import { ManagerCommandError, runManagerCommand } from "./manager_command.ts";
import { PbsManager } from "./pbs_manager.ts";
import { SlurmManager } from "./slurm_manager.ts";
import { queueParams } from "../../common/_test_queue_params.ts";

async function entries(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names;
}

function pbsEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${PBS_STAND_IN_DIR}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    MOCKPBS_DIR: stateDir,
    ...extra,
  };
}

const noPbs = await Deno.stat(joinPath(PBS_STAND_IN_DIR, "qsub")).then(() => false, () => true);

Deno.test({
  name: "dryRun on PBS submits a held job of max-workers-per-alloc nodes, deletes it and its dir",
  ignore: noPbs,
  fn: async () => {
    await using state = await tempDir("hq-dry-run-pbs-");
    await using temp = await tempDir("hq-dry-run-tmp-");
    const env = pbsEnv(state.path);
    const params = queueParams({ manager: "pbs", maxWorkersPerAlloc: 3 });
    const id = await dryRun(params, {
      hqPath: "/opt/hq",
      serverDir: "/srv",
      manager: new PbsManager({ env }),
      tempParent: temp.path,
    });
    const job = JSON.parse(
      await runManagerCommand("qstat", ["-f", id, "-F", "json", "-x"], { cwd: "/", env }),
    ).Jobs[id];
    // Deleted before it ever ran (held): no start time, no exit status.
    deepEqual(
      [job.job_state, job.Resource_List.select, job.Job_Name, job.stime, job.Exit_status],
      ["F", "3", "hq-0-1", undefined, undefined],
    );
    deepEqual(await entries(temp.path), []);
  },
});

Deno.test({
  name: "dryRun: a failed submission names the error and keeps the script for the user",
  ignore: noPbs,
  fn: async () => {
    await using state = await tempDir("hq-dry-run-pbs-");
    await using temp = await tempDir("hq-dry-run-tmp-");
    const params = queueParams({ manager: "pbs", name: "cpu", additionalArgs: ["-q", "qexp"] });
    const manager = new PbsManager({ env: pbsEnv(state.path, { MOCKPBS_FAIL: "1" }) });
    const error = await dryRun(params, {
      hqPath: "/opt/hq",
      serverDir: "/srv",
      manager,
      tempParent: temp.path,
    }).then(() => null, (error) => error);
    ok(error instanceof DryRunError, String(error));
    const [dryRunDir] = await entries(temp.path);
    const scriptPath = `${temp.path}/${dryRunDir}/0-cpu/001/hq-submit.sh`;
    equal(
      error.message,
      "Could not submit allocation: Exit code: 1\n" +
        "Stderr: qsub: Job rejected by all possible destinations (MOCKPBS_FAIL is set)\n" +
        `Stdout: \nYou can find the submitted script at ${scriptPath}`,
    );
    const script = await Deno.readTextFile(scriptPath);
    ok(script.includes("#PBS -N cpu-1\n"), script);
    ok(script.includes("\n#PBS -q qexp\n#PBS -h\n\n/opt/hq worker start"), script);
  },
});

class CancelFailsManager implements AllocationManager {
  readonly name = "slurm";
  submitScript = () => "#!/bin/bash";
  submit = () => Promise.resolve("7");
  poll = () => Promise.resolve(new Map<string, ManagerPollResult>());
  cancel = () => Promise.reject(new ManagerCommandError("Exit code: 1\nStderr: nope\nStdout: "));
}

Deno.test("dryRun: a failed cancel names the allocation, and the temporary dir still goes", async () => {
  await using temp = await tempDir("hq-dry-run-tmp-");
  await rejects(
    dryRun(queueParams(), {
      hqPath: "/opt/hq",
      serverDir: "/srv",
      manager: new CancelFailsManager(),
      tempParent: temp.path,
    }),
    {
      name: "DryRunError",
      message: "Could not cancel allocation 7: Exit code: 1\nStderr: nope\nStdout: ",
    },
  );
  deepEqual(await entries(temp.path), []);
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
    return false;
  }
}

const noSlurm = !(await slurmUp());
if (noSlurm) {
  console.warn(
    "Slurm dry-run test skipped: `sinfo` shows no idle/mix/alloc node (start the local cluster with shared/slurm/slurm-up.sh as root)",
  );
}

Deno.test({
  name: "dryRun on Slurm submits a real job and cancels it at once",
  ignore: noSlurm,
  fn: async () => {
    await using temp = await tempDir("hq-dry-run-tmp-");
    await using bin = await tempDir("hq-dry-run-bin-");
    // Should the job start before scancel reaches it, it must still be running then.
    const hqPath = joinPath(bin.path, "hq");
    await Deno.writeTextFile(hqPath, "#!/bin/bash\nsleep 60\n", { mode: 0o755 });
    const manager = new SlurmManager();
    const id = await dryRun(queueParams({ timeLimitMs: 60_000 }), {
      hqPath,
      serverDir: "/srv",
      manager,
      tempParent: temp.path,
    });
    try {
      // A job that started before scancel reached it takes a moment to be CANCELLED.
      const status = await waitUntil(async () => {
        const polled = (await manager.poll([id], "/")).get(id);
        return polled?.kind === "finished" && polled;
      }, { timeoutMs: 20_000, intervalMs: 200, what: `job ${id} to end` });
      ok(status.failed, JSON.stringify(status));
      deepEqual(await entries(temp.path), []);
    } finally {
      await manager.cancel(id, "/").catch(() => {});
    }
  },
});
