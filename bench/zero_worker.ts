/**
 * Per-task overhead without processes (issue 7): workers started with the hidden
 * `hq worker start --zero-worker --cpus 2` go through the whole task protocol (resources
 * allocated, start and finish reported) but spawn nothing, so every figure is the cost of hq
 * itself. One real `hq server start` in a child process and real `hq worker start` children;
 * the requests come from an in-process `HqClient`, timed from the submit request until
 * `job-wait` returns.
 *
 * Rows: a 1,000,000-task array on 1 and on 8 zero workers; 100,000 one-task submits through one
 * connection on 1 zero worker; the latency of one small task on an idle cluster (API and
 * `hq submit --wait`) next to a bare `deno run` of an empty file; the server's RSS idle, after the
 * 1,000,000 tasks and after `job forget`; `hq job list --all` with 10,000 jobs present.
 *
 *   deno run -A bench/zero_worker.ts [--quick]
 */
import { HqClient } from "../client/mod.ts";
import type { IdSelector } from "../common/protocol.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { median } from "./_stats.ts";
import {
  hwmMb,
  MAIN_TS,
  rssMb,
  sleep,
  startZeroWorkers,
  stopWorkers,
  submitJob as submitOne,
  waitForWorkers,
} from "./_zero_workers.ts";

const EMPTY_TS = new URL("./_startup/empty.ts", import.meta.url).pathname;
const ALL: IdSelector = { type: "all" };
const SUBMIT_CHUNK = 1_000;
const LATENCY_WARMUP = 3;
const JOB_LIST_ROUNDS = 3;
/** How long the server gets to collect garbage before an RSS reading. */
const SETTLE_MS = 3_000;

export interface ZeroWorkerOptions {
  /** Smaller counts (100,000-task array, 10,000 submits, 1,000 jobs listed), under a minute. */
  quick?: boolean;
}

export async function benchZeroWorker(options: ZeroWorkerOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const arrayTasks = quick ? 100_000 : 1_000_000;
  const submits = quick ? 10_000 : 100_000;
  const listedJobs = quick ? 1_000 : 10_000;
  const latencyRounds = quick ? 10 : 20;
  const rows: BenchRow[] = [];
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-zero-" });
  await using server = await startLiveServer();
  const workers: Deno.ChildProcess[] = [];
  const client = await HqClient.connect({ serverDir: server.serverDir });
  try {
    const pid = (await client.serverInfo()).pid;
    workers.push(...startZeroWorkers(server.serverDir, dir, 1));
    await waitForWorkers(client, 1);

    // 3. Latency on an idle cluster, first while the server holds nothing.
    rows.push(...await latency(client, server.serverDir, dir, latencyRounds));
    await forgetAll(client);
    await sleep(SETTLE_MS);
    const idleMb = rssMb(pid);

    // 1. One big array on one zero worker, then the server's memory with it and without it.
    const oneWorkerS = await timedArray(client, dir, arrayTasks);
    const loadedMb = rssMb(pid);
    const peakMb = hwmMb(pid);
    await forgetAll(client);
    await sleep(SETTLE_MS);
    const forgottenMb = rssMb(pid);

    // The same array on eight zero workers.
    workers.push(...startZeroWorkers(server.serverDir, dir, 7));
    await waitForWorkers(client, 8);
    const eightWorkersS = await timedArray(client, dir, arrayTasks);
    await forgetAll(client);
    await stopWorkers(workers.splice(1));
    await waitForWorkers(client, 1, "exactly");

    // 2. One-task submits through this one connection, on one zero worker.
    const submitsS = await timedSubmits(client, dir, submits);
    await forgetAll(client);

    // 5. `hq job list` with jobs present.
    await submitMany(client, dir, listedJobs);
    await client.request({ type: "job-wait", selector: ALL, withoutClose: false });
    const list = await jobList(server.serverDir, listedJobs);

    const k = (n: number) => n >= 1_000_000 ? `${n / 1_000_000}m` : `${n / 1_000}k`;
    const perS = (n: number, s: number) => n / s;
    const usPer = (n: number, s: number) => s * 1e6 / n;
    rows.push(
      {
        name: `zero_worker/${k(arrayTasks)}-array-1-worker`,
        figure: perS(arrayTasks, oneWorkerS),
        unit: "tasks/s",
        reference: null,
        referenceLabel: "",
        ratio: null,
        target: ">= 20,000 tasks/s",
      },
      {
        name: `zero_worker/${k(arrayTasks)}-array-1-worker-per-task`,
        figure: usPer(arrayTasks, oneWorkerS),
        unit: "µs/task",
        reference: null,
        referenceLabel: "",
        ratio: null,
        target: "<= 50 µs",
      },
      {
        name: `zero_worker/${k(arrayTasks)}-array-8-workers`,
        figure: perS(arrayTasks, eightWorkersS),
        unit: "tasks/s",
        reference: perS(arrayTasks, oneWorkerS),
        referenceLabel: "1 worker",
        ratio: oneWorkerS / eightWorkersS,
        target: ">= 20,000 tasks/s",
      },
      {
        name: `zero_worker/${k(arrayTasks)}-array-8-workers-per-task`,
        figure: usPer(arrayTasks, eightWorkersS),
        unit: "µs/task",
        reference: usPer(arrayTasks, oneWorkerS),
        referenceLabel: "1 worker",
        ratio: eightWorkersS / oneWorkerS,
        target: "<= 50 µs",
      },
      {
        name: `zero_worker/${k(submits)}-submits-1-worker`,
        figure: perS(submits, submitsS),
        unit: "tasks/s",
        reference: perS(arrayTasks, oneWorkerS),
        referenceLabel: "one array",
        ratio: oneWorkerS / arrayTasks / (submitsS / submits),
        target: ">= 10,000 tasks/s",
      },
      {
        name: `zero_worker/${k(submits)}-submits-1-worker-per-task`,
        figure: usPer(submits, submitsS),
        unit: "µs/task",
        reference: usPer(arrayTasks, oneWorkerS),
        referenceLabel: "one array",
        ratio: (submitsS / submits) / (oneWorkerS / arrayTasks),
        target: "<= 100 µs",
      },
      {
        name: "zero_worker/server-rss-idle",
        figure: idleMb,
        unit: "MB",
        reference: null,
        referenceLabel: "",
        ratio: null,
        target: "",
      },
      {
        name: `zero_worker/server-rss-after-${k(arrayTasks)}-finished`,
        figure: loadedMb,
        unit: "MB",
        reference: idleMb,
        referenceLabel: "idle",
        ratio: loadedMb / idleMb,
        target: "<= 250 MB",
      },
      {
        name: `zero_worker/server-rss-peak-during-${k(arrayTasks)}`,
        figure: peakMb,
        unit: "MB",
        reference: idleMb,
        referenceLabel: "idle",
        ratio: peakMb / idleMb,
        target: "",
      },
      {
        name: "zero_worker/server-rss-after-forget",
        figure: forgottenMb,
        unit: "MB",
        reference: idleMb,
        referenceLabel: "idle",
        ratio: forgottenMb / idleMb,
        target: "<= idle + 50 MB",
      },
      ...list,
    );
    return rows;
  } finally {
    client.close();
    await stopWorkers(workers);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Seconds from submitting one array of `tasks` tasks until `job-wait` returns. */
async function timedArray(client: HqClient, dir: string, tasks: number): Promise<number> {
  const started = performance.now();
  const jobId = await submitOne(client, dir, [[1, tasks, 1]]);
  await client.request({
    type: "job-wait",
    selector: { type: "ids", ranges: [[jobId, jobId, 1]] },
    withoutClose: false,
  });
  return (performance.now() - started) / 1000;
}

/** `count` one-task submits, SUBMIT_CHUNK of them in flight at a time. */
async function submitMany(client: HqClient, dir: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += SUBMIT_CHUNK) {
    const n = Math.min(SUBMIT_CHUNK, count - done);
    await Promise.all(Array.from({ length: n }, () => submitOne(client, dir, [[0, 0, 1]])));
  }
}

/** Seconds from the first of `count` one-task submits until `job-wait` on all jobs returns. */
async function timedSubmits(client: HqClient, dir: string, count: number): Promise<number> {
  const started = performance.now();
  await submitMany(client, dir, count);
  await client.request({ type: "job-wait", selector: ALL, withoutClose: false });
  return (performance.now() - started) / 1000;
}

async function forgetAll(client: HqClient): Promise<void> {
  await client.request({
    type: "job-forget",
    selector: ALL,
    states: ["finished", "failed", "aborted", "canceled"],
  });
}

/**
 * One small task on an idle cluster: submit → wait through the API, `hq submit --wait` as a
 * process, and a bare `deno run` of an empty file, in rotating order each round.
 */
async function latency(
  client: HqClient,
  serverDir: string,
  dir: string,
  rounds: number,
): Promise<BenchRow[]> {
  const api = async () => {
    const started = performance.now();
    const jobId = await submitOne(client, dir, [[0, 0, 1]]);
    await client.request({
      type: "job-wait",
      selector: { type: "ids", ranges: [[jobId, jobId, 1]] },
      withoutClose: false,
    });
    return performance.now() - started;
  };
  const cli = async () =>
    (await timedProcess([
      MAIN_TS,
      "--server-dir",
      serverDir,
      "submit",
      "--stdout",
      "none",
      "--stderr",
      "none",
      "--wait",
      "--",
      "true",
    ], dir)).ms;
  const floor = async () => (await timedProcess([EMPTY_TS], dir)).ms;
  const probes = [api, cli, floor];
  const samples = probes.map(() => [] as number[]);
  for (let round = 0; round < LATENCY_WARMUP + rounds; round++) {
    for (let i = 0; i < probes.length; i++) {
      const p = (round + i) % probes.length;
      const ms = await probes[p]();
      if (round >= LATENCY_WARMUP) samples[p].push(ms);
    }
  }
  const [apiMs, cliMs, floorMs] = samples.map(median);
  return [{
    name: "zero_worker/one-task-latency-api",
    figure: apiMs,
    unit: "ms",
    reference: floorMs,
    referenceLabel: "deno run empty file",
    ratio: null,
    target: "<= 50 ms",
  }, {
    name: "zero_worker/one-task-latency-hq-submit-wait",
    figure: cliMs,
    unit: "ms",
    reference: floorMs,
    referenceLabel: "deno run empty file",
    ratio: cliMs / floorMs,
    target: "",
  }];
}

/** Runs `deno run -A …args`, checks it succeeded, and returns its wall time and stdout. */
async function timedProcess(
  args: string[],
  cwd: string,
): Promise<{ ms: number; stdout: Uint8Array }> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new Error(`deno run -A ${args.join(" ")} exited with ${output.code}: ${stderr}`);
  }
  return { ms, stdout: output.stdout };
}

/** `hq job list --all` in json and cli output modes: median wall time and output bytes. */
async function jobList(serverDir: string, jobs: number): Promise<BenchRow[]> {
  const modes = ["json", "cli"] as const;
  const wall = new Map<string, number[]>(modes.map((m) => [m, []]));
  const bytes = new Map<string, number>();
  for (let round = 0; round < JOB_LIST_ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const run = await timedProcess([
        MAIN_TS,
        "--server-dir",
        serverDir,
        "--output-mode",
        mode,
        "job",
        "list",
        "--all",
      ], serverDir);
      wall.get(mode)!.push(run.ms);
      bytes.set(mode, run.stdout.length);
      if (mode === "json") {
        const listed = (JSON.parse(new TextDecoder().decode(run.stdout)) as unknown[]).length;
        if (listed !== jobs) throw new Error(`job list showed ${listed} jobs, expected ${jobs}`);
      }
    }
  }
  const k = `${jobs / 1_000}k`;
  return modes.flatMap((mode): BenchRow[] => [{
    name: `zero_worker/job-list-${mode}-${k}-jobs`,
    figure: median(wall.get(mode)!),
    unit: "ms",
    reference: null,
    referenceLabel: "",
    ratio: null,
    target: "",
  }, {
    name: `zero_worker/job-list-${mode}-${k}-jobs-output`,
    figure: bytes.get(mode)!,
    unit: "bytes",
    reference: null,
    referenceLabel: "",
    ratio: null,
    target: "",
  }]);
}

if (import.meta.main) {
  console.log(formatTable(await benchZeroWorker({ quick: Deno.args.includes("--quick") })));
}
