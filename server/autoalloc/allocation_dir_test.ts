import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { joinPath } from "../../common/paths.ts";
import { tempDir } from "../../tests/harness.ts";
import {
  createAllocationDir,
  JOB_ID_FILE,
  pruneFailedDirs,
  queueDirPath,
  submitAllocation,
} from "./allocation_dir.ts";
import {
  type AllocationManager,
  AllocationSubmitError,
  type ManagerPollResult,
} from "./allocation_manager.ts";
import { queueParams } from "../../common/_test_queue_params.ts";
import { slurmSubmitScript } from "./submit_script.ts";

Deno.test("createAllocationDir makes <root>/<queue>[-<name>]/<NNN>, each attempt new", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  const autoalloc = joinPath(root.path, "autoalloc");
  equal(
    await createAllocationDir(autoalloc, { queueId: 1, name: null, attempt: 1 }),
    `${autoalloc}/1/001`,
  );
  equal(
    await createAllocationDir(autoalloc, { queueId: 2, name: "gpu", attempt: 12 }),
    `${autoalloc}/2-gpu/012`,
  );
  equal(
    await createAllocationDir(autoalloc, { queueId: 1, name: null, attempt: 1000 }),
    `${autoalloc}/1/1000`,
  );
  await rejects(
    createAllocationDir(autoalloc, { queueId: 1, name: null, attempt: 1 }),
    Deno.errors.AlreadyExists,
  );
  equal(queueDirPath(autoalloc, 2, "gpu"), `${autoalloc}/2-gpu`);
});

Deno.test("pruneFailedDirs keeps the 20 most recent failed attempts and every submitted one", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  const queueDir = joinPath(root.path, "1");
  for (let attempt = 1; attempt <= 30; attempt++) {
    const dir = await createAllocationDir(root.path, { queueId: 1, name: null, attempt });
    await Deno.writeTextFile(joinPath(dir, "hq-submit.sh"), "#!/bin/bash");
    if (attempt % 5 === 0) await Deno.writeTextFile(joinPath(dir, JOB_ID_FILE), `${attempt}`);
  }
  await Deno.writeTextFile(joinPath(queueDir, "not-an-attempt"), "");
  // 24 failed (no jobid): the 4 oldest go.
  deepEqual(
    await pruneFailedDirs(queueDir),
    ["001", "002", "003", "004"].map((n) => `${queueDir}/${n}`),
  );
  const left = [];
  for await (const entry of Deno.readDir(queueDir)) left.push(entry.name);
  equal(left.length, 30 - 4 + 1);
  ok(left.includes("005") && left.includes("006") && left.includes("not-an-attempt"));
  deepEqual(await pruneFailedDirs(queueDir), []);
  deepEqual(await pruneFailedDirs(queueDir, 0), failedOf(queueDir, 30));
  deepEqual(await pruneFailedDirs(joinPath(root.path, "missing")), []);
});

function failedOf(queueDir: string, upTo: number): string[] {
  const failed = [];
  for (let attempt = 6; attempt <= upTo; attempt++) {
    if (attempt % 5 !== 0) failed.push(`${queueDir}/${String(attempt).padStart(3, "0")}`);
  }
  return failed;
}

/** A manager that records what it was asked and answers from a script. */
class FakeManager implements AllocationManager {
  readonly name = "slurm";
  readonly canceled: string[] = [];
  constructor(readonly onSubmit: (dir: string) => Promise<string>) {}
  submitScript = slurmSubmitScript;
  submit(dir: string): Promise<string> {
    return this.onSubmit(dir);
  }
  poll(): Promise<Map<string, ManagerPollResult>> {
    return Promise.resolve(new Map());
  }
  cancel(id: string): Promise<void> {
    this.canceled.push(id);
    return Promise.resolve();
  }
}

function submitOptions(manager: AllocationManager, autoallocRoot: string) {
  return {
    manager,
    autoallocRoot,
    queueId: 3,
    params: queueParams({ name: "big" }),
    attempt: 7,
    workerCount: 2,
    hqPath: "/opt/hq",
    serverDir: "/srv",
    rustLog: null,
  };
}

Deno.test("submitAllocation writes the script, submits it and records the job id", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  const manager = new FakeManager(() => Promise.resolve("77"));
  const { allocationId, dir } = await submitAllocation(submitOptions(manager, root.path));
  equal(allocationId, "77");
  equal(dir, `${root.path}/3-big/007`);
  equal(await Deno.readTextFile(joinPath(dir, JOB_ID_FILE)), "77");
  const script = await Deno.readTextFile(joinPath(dir, "hq-submit.sh"));
  ok(script.includes("#SBATCH --job-name=big-7\n#SBATCH --output=" + dir + "/stdout"), script);
  ok(script.includes("\nsrun --overlap --ntasks=2 --nodes=2 /opt/hq worker start"), script);
});

Deno.test("submitAllocation: a failed submission keeps the script and writes no job id", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  const manager = new FakeManager((dir) =>
    Promise.reject(
      new AllocationSubmitError("Exit code: 1\nStderr: no\nStdout: ", `${dir}/hq-submit.sh`),
    )
  );
  await rejects(submitAllocation(submitOptions(manager, root.path)), (error) => {
    ok(error instanceof AllocationSubmitError);
    equal(error.message, "Exit code: 1\nStderr: no\nStdout: ");
    equal(error.scriptPath, `${root.path}/3-big/007/hq-submit.sh`);
    return true;
  });
  await Deno.stat(`${root.path}/3-big/007/hq-submit.sh`);
  await rejects(Deno.stat(`${root.path}/3-big/007/${JOB_ID_FILE}`), Deno.errors.NotFound);
});

Deno.test("submitAllocation: a directory that cannot be made is a submit error without a script", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  await Deno.writeTextFile(joinPath(root.path, "3-big"), "a file in the way");
  const manager = new FakeManager(() => Promise.resolve("1"));
  await rejects(submitAllocation(submitOptions(manager, root.path)), (error) => {
    ok(error instanceof AllocationSubmitError);
    ok(error.message.startsWith(`Cannot create the allocation directory in "${root.path}": `));
    equal(error.scriptPath, null);
    return true;
  });
});

Deno.test("submitAllocation cancels a job whose id cannot be recorded", async () => {
  await using root = await tempDir("hq-alloc-dir-");
  const manager = new FakeManager(async (dir) => {
    await Deno.mkdir(joinPath(dir, JOB_ID_FILE)); // Writing the file will fail.
    return "55";
  });
  await rejects(submitAllocation(submitOptions(manager, root.path)), (error) => {
    ok(error instanceof AllocationSubmitError);
    ok(
      error.message.startsWith(`Cannot write the job id file "${root.path}/3-big/007/jobid": `),
      error.message,
    );
    ok(error.message.endsWith("(allocation 55 was canceled)"), error.message);
    return true;
  });
  deepEqual(manager.canceled, ["55"]);
});
