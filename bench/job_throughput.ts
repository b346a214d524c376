/**
 * Jobs end to end (issue: jobs and tasks): N `/bin/true` tasks as one array on one real worker
 * with 2 CPUs, from submit until `job wait` returns, next to a C `posix_spawn` loop and GNU
 * `parallel -j2` starting the same N processes, 2 in flight, in the same run. Also the server's
 * RSS after a 1,000,000-task array is submitted (no workers), and the wall time of that
 * `hq submit`.
 *
 *   deno run -A bench/job_throughput.ts [--tasks 20000]
 */
import { HqClient } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { compileLoop, runC } from "./task_spawn.ts";
import { testTaskTemplate } from "../server/scheduler/_test_fixtures.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

export async function benchJobThroughput(options: { tasks?: number } = {}): Promise<BenchRow[]> {
  const tasks = options.tasks ?? 5_000;
  const rows: BenchRow[] = [];
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-jobs-" });
  try {
    const binary = await compileLoop(dir);
    const cSeconds = await runC(binary, tasks, "same");
    const parallelSeconds = await gnuParallel(tasks);
    const hqSeconds = await hqArray(tasks, dir);
    const rate = (seconds: number) => tasks / seconds;
    rows.push({
      name: `job_throughput/${tasks}-true-on-2-cpus`,
      figure: rate(hqSeconds),
      unit: "tasks/s",
      reference: rate(cSeconds),
      referenceLabel: "C posix_spawn loop",
      ratio: cSeconds / hqSeconds,
      target: ">= 0.7x",
    });
    if (parallelSeconds !== null) {
      rows.push({
        name: `job_throughput/${tasks}-true-vs-gnu-parallel`,
        figure: rate(hqSeconds),
        unit: "tasks/s",
        reference: rate(parallelSeconds),
        referenceLabel: "GNU parallel -j2",
        ratio: parallelSeconds / hqSeconds,
        target: ">= 3x",
      });
    }
    rows.push(...await millionArray(dir));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return rows;
}

/** Seconds from submit to the end of `job wait` for an array of `/bin/true`. */
async function hqArray(tasks: number, dir: string): Promise<number> {
  await using server = await startLiveServer();
  const worker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // HQ_BENCH_WORKER_PROF=DIR profiles the worker (bench/cpu_profile_top.ts DIR summarises it).
      ...(Deno.env.get("HQ_BENCH_WORKER_PROF")
        ? ["--cpu-prof", `--cpu-prof-dir=${Deno.env.get("HQ_BENCH_WORKER_PROF")}`]
        : []),
      MAIN_TS,
      "worker",
      "start",
      "--cpus",
      "2",
      "--work-dir",
      `${dir}/work`,
      "--server-dir",
      server.serverDir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const client = await HqClient.connect({ serverDir: server.serverDir });
    try {
      while ((await client.workerList("running")).length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const started = performance.now();
      const response = await client.request({
        type: "submit",
        jobId: null,
        name: "bench",
        maxFails: null,
        autoIdCount: null,
        submit: {
          template: testTaskTemplate(dir, { args: ["/bin/true"] }),
          ids: [[1, tasks, 1]],
          entries: null,
        },
      });
      if (response.type !== "job-created") throw new Error("submit failed");
      await client.request({
        type: "job-wait",
        selector: { type: "ids", ranges: [[response.jobId, response.jobId, 1]] },
        withoutClose: false,
      });
      return (performance.now() - started) / 1000;
    } finally {
      client.close();
    }
  } finally {
    worker.kill("SIGTERM");
    await worker.status;
  }
}

/** GNU parallel's wall time, installed from Debian when missing; null if unavailable. */
async function gnuParallel(tasks: number): Promise<number | null> {
  if (!(await available("parallel"))) {
    await new Deno.Command("apt-get", {
      args: ["install", "-y", "parallel"],
      stdout: "null",
      stderr: "null",
    })
      .output().catch(() => {});
    if (!(await available("parallel"))) return null;
  }
  const input = Array.from({ length: tasks }, (_, i) => String(i)).join("\n") + "\n";
  const child = new Deno.Command("parallel", {
    args: ["-j2", "--will-cite", "/bin/true"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const started = performance.now();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  await child.status;
  return (performance.now() - started) / 1000;
}

async function available(program: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** RSS of an idle server, then after a 1,000,000-task `hq submit` (no workers), and its time. */
async function millionArray(dir: string): Promise<BenchRow[]> {
  await using server = await startLiveServer();
  const idleMb = rssMb(server.pid);
  const started = performance.now();
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN_TS,
      "--server-dir",
      server.serverDir,
      "submit",
      "--array",
      "1-1000000",
      "--stdout",
      "none",
      "--stderr",
      "none",
      "--",
      "/bin/true",
    ],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).output();
  const submitSeconds = (performance.now() - started) / 1000;
  if (!success) throw new Error("hq submit of the 1,000,000-task array failed");
  const loadedMb = rssMb(server.pid);
  return [{
    name: "job_throughput/1m-array-server-rss-growth",
    figure: loadedMb - idleMb,
    unit: "MB",
    reference: idleMb,
    referenceLabel: "idle server RSS",
    ratio: null,
    target: "< 100 MB",
  }, {
    name: "job_throughput/1m-array-hq-submit",
    figure: submitSeconds,
    unit: "s",
    reference: null,
    referenceLabel: "",
    ratio: null,
    target: "< 1 s",
  }];
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
  return kb / 1024;
}

if (import.meta.main) {
  const index = Deno.args.indexOf("--tasks");
  const tasks = index >= 0 ? Number(Deno.args[index + 1]) : undefined;
  console.log(formatTable(await benchJobThroughput({ tasks })));
}
