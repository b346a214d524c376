/**
 * Automatic allocation end to end (journal-alloc spec §2): a real server whose queue submits real
 * batch jobs to the one-node Slurm of shared/slurm and to the PBS stand-in of shared/pbs; the
 * workers in those jobs connect, run the waiting tasks, go idle and end their allocations.
 */
import assert from "node:assert/strict";
import { PBS_STAND_IN_DIR, pbsTestEnv, qdelAll } from "./_batch.ts";
import { hq, hqAt, submitJob, tempDir, TestServer, waitForJob, waitUntil } from "./harness.ts";

async function slurmUp(): Promise<boolean> {
  try {
    const out = await new Deno.Command("sinfo", { args: ["-h", "-o", "%t"], stderr: "null" })
      .output();
    return out.success && /idle|mix|alloc/.test(new TextDecoder().decode(out.stdout));
  } catch {
    return false;
  }
}
const SLURM = await slurmUp();

/** Quick timers for tests (§2.9's environment overrides). */
const FAST_TIMERS = {
  HQ_AUTOALLOC_SCHEDULE_TICK_INTERVAL_MS: "200",
  HQ_AUTOALLOC_MAX_SCHEDULE_DELAY_MS: "1000",
  HQ_AUTOALLOC_REFRESH_INTERVAL_MS: "2000",
};

/** An allocation's job can wait behind other suites' jobs on the small test cluster. */
const ALLOCATION_TIMEOUT_MS = 90_000;

interface AllocationJson {
  id: string;
  status: string;
  target_worker_count: number;
  workdir: string;
  queued_at: string | null;
  started_at: string | null;
  ended_at: string | null;
}

async function allocations(server: TestServer, queueId: number): Promise<AllocationJson[]> {
  return JSON.parse(
    await server.hqOk(["alloc", "info", String(queueId), "--output-mode", "json"]),
  );
}

async function squeueNames(): Promise<string[]> {
  const out = await new Deno.Command("squeue", { args: ["-h", "-o", "%j %i %T"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((line) => line.trim() !== "");
}

/** Cancels every Slurm job whose name starts with `prefix` (cleanup after a failed test). */
async function scancelNamed(prefix: string): Promise<void> {
  for (const line of await squeueNames()) {
    const [name, id] = line.split(" ");
    if (name.startsWith(prefix)) await new Deno.Command("scancel", { args: [id] }).output();
  }
}

Deno.test({
  name: "a Slurm queue gets workers for waiting tasks, which finish, go idle and end FINISHED",
  ignore: !SLURM,
  fn: async () => {
    const name = `t${crypto.randomUUID().slice(0, 6)}`;
    await using server = await TestServer.start({ env: FAST_TIMERS });
    await using work = await tempDir();
    try {
      const added = await server.hq([
        ...["alloc", "add", "slurm", "--time-limit", "5m", "--backlog", "1"],
        ...["--idle-timeout", "5s", "--cpus", "1", "--name", name],
      ]);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stderr, /A trial allocation was submitted successfully/);
      assert.match(added.stderr, /Allocation queue 1 successfully created/);

      const jobId = await submitJob(server, [
        ...["--array", "1-4", "--cwd", work.path, "--"],
        ...["bash", "-c", "echo $HQ_TASK_ID > out-$HQ_TASK_ID"],
      ], { cwd: work.path });
      // The queue's batch job appears in squeue.
      await waitUntil(async () => (await squeueNames()).some((line) => line.startsWith(name)), {
        timeoutMs: 20_000,
        what: "the allocation in squeue",
      });
      await waitForJob(server, jobId, ALLOCATION_TIMEOUT_MS);
      const workers = JSON.parse(
        await server.hqOk(["worker", "list", "--all", "--output-mode", "json"]),
      );
      assert.ok(workers.length >= 1);
      const [allocation] = await allocations(server, 1);
      assert.deepEqual(workers[0].allocation, { manager: "Slurm", id: allocation.id });
      for (let task = 1; task <= 4; task++) {
        assert.equal(await Deno.readTextFile(`${work.path}/out-${task}`), `${task}\n`);
      }
      // Idle workers end, and so do their allocations.
      await waitUntil(async () => {
        const all = await allocations(server, 1);
        return all.length > 0 && all.every((a) => a.status === "finished") && all;
      }, { timeoutMs: 60_000, what: "every allocation to be finished" });
      const [first] = await allocations(server, 1);
      assert.ok(first.started_at !== null && first.ended_at !== null);
      assert.equal(first.target_worker_count, 1);
      // The allocation directory keeps the script and the job id (§2.5).
      assert.equal((await Deno.readTextFile(`${first.workdir}/jobid`)).trim(), first.id);
      const script = await Deno.readTextFile(`${first.workdir}/hq-submit.sh`);
      assert.match(script, /^#!\/bin\/bash\n#SBATCH --nodes=1\n/);

      // remove --force leaves none of the queue's jobs in squeue.
      const removed = await server.hq(["alloc", "remove", "1", "--force"]);
      assert.equal(removed.code, 0, removed.stderr);
      await waitUntil(
        async () =>
          !(await squeueNames()).some((line) =>
            line.startsWith(name) && !/COMPLETED|CANCELLED/.test(line)
          ),
        { timeoutMs: 20_000, what: "no job of the queue in squeue" },
      );
      assert.deepEqual(
        JSON.parse(await server.hqOk(["alloc", "list", "--output-mode", "json"])),
        [],
      );
    } finally {
      await scancelNamed(name);
    }
  },
});

/** The PBS stand-in on PATH, with its own state directory, and quick allocator timers. */
function pbsEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return pbsTestEnv(stateDir, { ...FAST_TIMERS, ...extra });
}

Deno.test("a PBS queue gets workers for waiting tasks, which finish, go idle and end FINISHED", async () => {
  await using state = await tempDir("hq-mockpbs-");
  const env = pbsEnv(state.path);
  await using server = await TestServer.start({ env });
  await using work = await tempDir();
  try {
    const added = await server.hq([
      ...["alloc", "add", "pbs", "--time-limit", "5m", "--idle-timeout", "3s", "--cpus", "1"],
    ], { env });
    assert.equal(added.code, 0, added.stderr);
    const jobId = await submitJob(server, [
      ...["--array", "1-4", "--cwd", work.path, "--"],
      ...["bash", "-c", "echo $HQ_TASK_ID > out-$HQ_TASK_ID"],
    ], { cwd: work.path });
    await waitForJob(server, jobId, ALLOCATION_TIMEOUT_MS);
    const workers = JSON.parse(
      await server.hqOk(["worker", "list", "--all", "--output-mode", "json"]),
    );
    assert.equal(workers[0].allocation.manager, "PBS");
    await waitUntil(async () => {
      const all = await allocations(server, 1);
      return all.length > 0 && all.every((a) => a.status === "finished") && all;
    }, { timeoutMs: 60_000, what: "every allocation to be finished" });
    const [first] = await allocations(server, 1);
    const script = await Deno.readTextFile(`${first.workdir}/hq-submit.sh`);
    assert.match(script, /^#!\/bin\/bash\n#PBS -l select=1\n#PBS -N hq-1-1\n/);
  } finally {
    await qdelAll(env);
  }
});

Deno.test("a failing qsub backs off, pauses the queue with the error in alloc info, and resume recovers", async () => {
  await using state = await tempDir("hq-mockpbs-");
  // qsub fails while the flag file exists (the server's environment cannot change later).
  const flag = `${state.path}/fail`;
  const wrappers = `${state.path}/bin`;
  await Deno.mkdir(wrappers);
  await Deno.writeTextFile(
    `${wrappers}/qsub`,
    `#!/bin/sh\nif [ -e "${flag}" ]; then export MOCKPBS_FAIL=1; fi\nexec "${PBS_STAND_IN_DIR}/qsub" "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(flag, "");
  const env = pbsEnv(state.path, {
    PATH: `${wrappers}:${PBS_STAND_IN_DIR}:${Deno.env.get("PATH")}`,
    HQ_AUTOALLOC_SUBMIT_DELAYS_MS: "0,100,200",
  });
  await using server = await TestServer.start({ env });
  await using work = await tempDir();
  try {
    const added = await server.hq(["alloc", "add", "pbs", "--time-limit", "5m", "--no-dry-run"], {
      env,
    });
    assert.equal(added.code, 0, added.stderr);
    await submitJob(server, ["--", "true"], { cwd: work.path });
    // Ten failed submissions in a row pause the queue (§2.11).
    const info = await waitUntil(async () => {
      const list = JSON.parse(await server.hqOk(["alloc", "list", "--output-mode", "json"]));
      return list[0]?.state === "Paused" && (await server.hq(["alloc", "info", "1"])).stderr;
    }, { timeoutMs: 30_000, what: "the queue to pause itself" });
    // Why the queue submits nothing: on stderr, so the table stays HyperQueue's.
    assert.match(info, /paused/);
    assert.match(info, /qsub: Job rejected by all possible destinations/);
    assert.match(info, /hq-submit\.sh/);
    await Deno.remove(flag);
    await server.hqOk(["alloc", "resume", "1"]);
    await waitUntil(async () => (await allocations(server, 1)).length > 0, {
      timeoutMs: 30_000,
      what: "an allocation after resume",
    });
  } finally {
    await qdelAll(env);
  }
});

Deno.test("alloc commands refuse bad input with the spec's messages and leave the server running", async () => {
  await using server = await TestServer.start();
  const cases: Array<[string[], RegExp]> = [
    [
      ["alloc", "add", "slurm", "--time-limit", "1h", "--backlog", "0"],
      /Backlog has to be at least 1/,
    ],
    [
      ["alloc", "add", "slurm", "--time-limit", "1h", "--min-utilization", "2"],
      /Minimal utilization has to be in the interval \[0\.0, 1\.0\]\./,
    ],
    [
      ["alloc", "add", "slurm", "--time-limit", "1h", "--worker-time-limit", "2h"],
      /Worker time limit cannot be larger than queue time limit/,
    ],
    [["alloc", "info", "7"], /Queue 7 not found/],
    [["alloc", "log", "12345", "stdout"], /Allocation 12345 not found/],
    [["alloc", "pause", "7"], /Queue 7 that should have been paused was not found/],
    [["alloc", "remove", "7"], /Allocation queue not found/],
  ];
  for (const [args, message] of cases) {
    const result = await server.hq(args);
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
  }
  assert.equal((await hq(["server", "info", "--server-dir", server.dir])).code, 0);
});

/** Every job the PBS stand-in ever saw (finished ones too). */
async function pbsJobs(env: Record<string, string>): Promise<string[]> {
  const out = await new Deno.Command("qselect", { args: ["-s", "QHRF"], env, stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((id) => id !== "");
}

Deno.test("a server killed with SIGKILL restores its queues from the journal and submits no duplicate allocation", async () => {
  await using state = await tempDir("hq-mockpbs-");
  await using dirs = await tempDir();
  // Jobs wait in the queue for a while: the allocation is still queued when the server dies.
  const env = pbsEnv(state.path, { MOCKPBS_QUEUE_DELAY: "4" });
  const serverDir = `${dirs.path}/server`;
  const journal = `${dirs.path}/journal`;
  try {
    {
      await using server = await TestServer.start({ serverDir, env, args: ["--journal", journal] });
      await server.hqOk([
        ...["alloc", "add", "pbs", "--time-limit", "5m", "--idle-timeout", "2s"],
        ...["--cpus", "1", "--no-dry-run"],
      ]);
      await submitJob(server, ["--array", "1-2", "--", "true"], { cwd: dirs.path });
      await waitUntil(async () => (await allocations(server, 1)).length === 1, {
        what: "the allocation to be queued",
      });
      server.process.kill("SIGKILL");
      await server.process.status();
    }
    await using server = await TestServer.start({ serverDir, env, args: ["--journal", journal] });
    const [queue] = JSON.parse(await server.hqOk(["alloc", "list", "--output-mode", "json"]));
    assert.equal(queue.id, 1);
    assert.equal(queue.state, "Active");
    // The allocation queued before the crash is followed again, and its worker finds this server.
    const [restored] = await allocations(server, 1);
    assert.equal(restored.status, "queued");
    await waitForJob(server, 1, ALLOCATION_TIMEOUT_MS);
    assert.equal((await pbsJobs(env)).length, 1, "one allocation in all");
    // Queue ids continue after the restored ones.
    const added = await server.hq(["alloc", "add", "pbs", "--time-limit", "5m", "--no-dry-run"]);
    assert.match(added.stderr, /Allocation queue 2 successfully created/);
  } finally {
    await qdelAll(env);
  }
});

Deno.test("demand: one waiting task makes one allocation; unfit tasks none, and alloc info says why; max worker count caps", async () => {
  await using state = await tempDir("hq-mockpbs-");
  // Allocations stay queued for the whole test.
  const env = pbsEnv(state.path, { MOCKPBS_QUEUE_DELAY: "600" });
  await using server = await TestServer.start({ env });
  await using work = await tempDir();
  try {
    await server.hqOk([
      ...["alloc", "add", "pbs", "--time-limit", "10m", "--backlog", "3", "--cpus", "4"],
      "--no-dry-run",
    ]);
    await submitJob(server, ["--", "true"], { cwd: work.path });
    await waitUntil(async () => (await allocations(server, 1)).length === 1, {
      what: "one allocation",
    });
    // Several more passes: the single task never makes a second allocation.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal((await allocations(server, 1)).length, 1);

    // A second queue whose workers are too small for 8-CPU tasks.
    await server.hqOk([
      ...["alloc", "add", "pbs", "--time-limit", "10m", "--cpus", "2", "--no-dry-run"],
    ]);
    await submitJob(server, ["--cpus", "8", "--", "true"], { cwd: work.path });
    const why = await waitUntil(async () => {
      const result = await server.hq(["alloc", "info", "2"]);
      return /cpus=8/.test(result.stderr) && result.stderr;
    }, { what: "queue 2 to say why it submits nothing" });
    assert.match(why, /no waiting task fits/);
    assert.equal((await allocations(server, 2)).length, 0);
    const json = JSON.parse(
      await server.hqOk(["alloc", "info", "2", "--output-mode", "json"]),
    );
    assert.deepEqual(json, []);

    // --max-worker-count caps the workers of queued and running allocations.
    await server.hqOk([
      ...["alloc", "add", "pbs", "--time-limit", "10m", "--cpus", "1", "--backlog", "5"],
      ...["--max-worker-count", "2", "--no-dry-run"],
    ]);
    await submitJob(server, ["--array", "1-20", "--", "true"], { cwd: work.path });
    await waitUntil(async () => (await allocations(server, 3)).length === 2, {
      what: "two allocations of queue 3",
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal((await allocations(server, 3)).length, 2);
    assert.match((await server.hq(["alloc", "info", "3"])).stderr, /max-worker-count/);
  } finally {
    await qdelAll(env);
  }
});

Deno.test({
  name: "alloc dry-run submits and cancels a trial allocation on Slurm",
  ignore: !SLURM,
  fn: async () => {
    await using server = await TestServer.start();
    const result = await server.hq(["alloc", "dry-run", "slurm", "--time-limit", "1h"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /A trial allocation was submitted successfully\. It was immediately canceled to avoid wasting resources\./,
    );
    // `hqAt`: the trailing arguments would swallow a `--server-dir` put after them.
    const bad = await hqAt(server, [
      ...["alloc", "dry-run", "slurm", "--time-limit", "1h", "--", "--partition=nope"],
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Could not submit allocation: /);
    assert.match(bad.stderr, /invalid partition specified/);
    assert.match(bad.stderr, /You can find the submitted script at \S+hq-submit\.sh/);
    assert.deepEqual(JSON.parse(await server.hqOk(["alloc", "list", "--output-mode", "json"])), []);
  },
});

Deno.test("alloc dry-run on PBS uses a held job; a failing dry run creates no queue", async () => {
  await using state = await tempDir("hq-mockpbs-");
  const env = pbsEnv(state.path);
  await using server = await TestServer.start({ env });
  try {
    const ok = await server.hq(["alloc", "dry-run", "pbs", "--time-limit", "1h"], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /A trial allocation was submitted successfully/);
    const failing = pbsEnv(state.path, { MOCKPBS_FAIL: "1" });
    await using failingServer = await TestServer.start({ env: failing });
    const add = await failingServer.hq(["alloc", "add", "pbs", "--time-limit", "1h"]);
    assert.equal(add.code, 1);
    assert.match(add.stderr, /Could not submit allocation: /);
    assert.match(add.stderr, /qsub: Job rejected by all possible destinations/);
    assert.match(add.stderr, /Dry-run \(test allocation submission\) has failed/);
    assert.deepEqual(
      JSON.parse(await failingServer.hqOk(["alloc", "list", "--output-mode", "json"])),
      [],
    );
  } finally {
    await qdelAll(env);
  }
});

async function slurmNodeCount(): Promise<number> {
  const out = await new Deno.Command("sinfo", { args: ["-h", "-N", "-o", "%N"], stderr: "null" })
    .output().catch(() => null);
  if (!out?.success) return 0;
  return new Set(new TextDecoder().decode(out.stdout).split("\n").filter((n) => n !== "")).size;
}
const SLURM_NODES = SLURM ? await slurmNodeCount() : 0;

Deno.test({
  name:
    "a queue with --max-workers-per-alloc 2 brings two workers in one allocation, and a --nodes 2 task runs on them",
  ignore: SLURM_NODES < 2, // SLURM_UP_NODES=2 (as .ci/run starts it)
  fn: async () => {
    const name = `m${crypto.randomUUID().slice(0, 6)}`;
    await using server = await TestServer.start({ env: FAST_TIMERS });
    await using work = await tempDir();
    try {
      await server.hqOk([
        ...["alloc", "add", "slurm", "--time-limit", "5m", "--max-workers-per-alloc", "2"],
        ...["--idle-timeout", "3s", "--cpus", "1", "--name", name, "--no-dry-run"],
      ]);
      const jobId = await submitJob(server, [
        ...["--nodes", "2", "--"],
        ...["bash", "-c", 'cat "$HQ_NODE_FILE" > nodes; echo "$HQ_HOST_FILE" > hostfile'],
      ], { cwd: work.path });
      await waitForJob(server, jobId, ALLOCATION_TIMEOUT_MS);
      const [allocation] = await allocations(server, 1);
      assert.equal(allocation.target_worker_count, 2);
      const workers = JSON.parse(
        await server.hqOk(["worker", "list", "--all", "--output-mode", "json"]),
      );
      assert.equal(workers.length, 2);
      for (const worker of workers) {
        assert.deepEqual(worker.allocation, { manager: "Slurm", id: allocation.id });
      }
      assert.equal((await Deno.readTextFile(`${work.path}/nodes`)).trim().split("\n").length, 2);
      const script = await Deno.readTextFile(`${allocation.workdir}/hq-submit.sh`);
      assert.match(script, /#SBATCH --nodes=2\n/);
      assert.match(script, /\nsrun --overlap --ntasks=2 --nodes=2 /);
      await waitUntil(async () => (await allocations(server, 1))[0].status === "finished", {
        timeoutMs: 60_000,
        what: "the allocation to finish",
      });
    } finally {
      await scancelNamed(name);
    }
  },
});

Deno.test("the journal records queues and allocations in HyperQueue's export shapes; alloc log shows an allocation's output", async () => {
  await using state = await tempDir("hq-mockpbs-");
  await using dirs = await tempDir();
  const env = pbsEnv(state.path);
  const journal = `${dirs.path}/journal`;
  await using server = await TestServer.start({ env, args: ["--journal", journal] });
  try {
    await hqAt(server, [
      ...["alloc", "add", "pbs", "--time-limit", "10m", "--idle-timeout", "2s", "--cpus", "1"],
      ...["--name", "jq", "--no-dry-run", "--", "-q", "workq"],
    ]);
    const jobId = await submitJob(server, ["--", "true"], { cwd: dirs.path });
    await waitForJob(server, jobId, ALLOCATION_TIMEOUT_MS);
    await waitUntil(async () => (await allocations(server, 1))[0]?.status === "finished", {
      timeoutMs: 30_000,
      what: "the allocation to finish",
    });
    const [allocation] = await allocations(server, 1);

    // `alloc log`: the path is logged, the file goes to stdout.
    const log = await server.hq(["alloc", "log", allocation.id, "stderr"]);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stderr, new RegExp(`${allocation.workdir}/stderr`));
    assert.match(log.stdout, /Worker \d+ registered|INFO/);
    const json = await server.hq([
      "alloc",
      "log",
      allocation.id,
      "stdout",
      "--output-mode",
      "json",
    ]);
    assert.equal(json.code, 1);
    assert.match(json.stdout, /JSON output mode doesn't support allocation output/);

    await server.hqOk(["journal", "flush"]);
    const events = (await hq(["journal", "export", journal])).stdout.trim().split("\n")
      .map((line) => JSON.parse(line).event)
      .filter((event) => String(event.type).startsWith("autoalloc-"));
    assert.deepEqual(events.map((event) => event.type), [
      "autoalloc-queue-created",
      "autoalloc-allocation-queued",
      "autoalloc-allocation-started",
      "autoalloc-allocation-finished",
    ]);
    const [created, queued, started] = events;
    assert.equal(created["queue-id"], 1);
    assert.deepEqual(created.params, {
      manager: "Pbs",
      max_workers_per_alloc: 1,
      backlog: 1,
      timelimit: { secs: 600, nanos: 0 },
      name: "jq",
      max_worker_count: null,
      min_utilization: 0,
      additional_args: ["-q", "workq"],
      worker_start_cmd: null,
      worker_stop_cmd: null,
      worker_wrap_cmd: null,
      cli_resource_descriptor: {
        resources: [{ name: "cpus", kind: { Range: { start: 0, end: 0 } } }],
        coupling: { weights: [] },
      },
      worker_args: [
        ...["--cpus", '"1"', "--on-server-lost", '"finish-running"', "--time-limit", '"10m"'],
      ],
      idle_timeout: { secs: 2, nanos: 0 },
    });
    assert.deepEqual(queued, {
      type: "autoalloc-allocation-queued",
      "queue-id": 1,
      "allocation-id": allocation.id,
      "worker-count": 1,
    });
    assert.deepEqual(started, {
      type: "autoalloc-allocation-started",
      "queue-id": 1,
      "allocation-id": allocation.id,
    });
  } finally {
    await qdelAll(env);
  }
});

Deno.test("hq server stop cancels the queued allocations", async () => {
  await using state = await tempDir("hq-mockpbs-");
  const env = pbsEnv(state.path, { MOCKPBS_QUEUE_DELAY: "600" });
  await using server = await TestServer.start({ env });
  await using work = await tempDir();
  try {
    await server.hqOk(["alloc", "add", "pbs", "--time-limit", "10m", "--no-dry-run"]);
    await submitJob(server, ["--", "true"], { cwd: work.path });
    const [allocation] = await waitUntil(async () => {
      const all = await allocations(server, 1);
      return all.length === 1 && all;
    }, { what: "an allocation" });
    await server.hqOk(["server", "stop"]);
    await server.process.status();
    const out = await new Deno.Command("qstat", {
      args: ["-f", allocation.id, "-F", "json", "-x"],
      env,
      stdout: "piped",
    }).output();
    const job = JSON.parse(new TextDecoder().decode(out.stdout)).Jobs[allocation.id];
    assert.equal(job.job_state, "F");
  } finally {
    await qdelAll(env);
  }
});
