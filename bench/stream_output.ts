/**
 * Output streaming against one file per task (issue 14): N tasks that each print 1 KiB
 * (`head -c 1024 <file>`) as one array on one real `hq worker start --cpus 2`, from the submit
 * request until `job wait` returns, with stdout streamed (`--stream`) and with stdout in a file
 * per task (`--stdout <dir>/%{TASK_ID}.out`); stderr `none` in both. Same server, worker and run;
 * the two modes alternate over the rounds. Also counts the files each mode left.
 *
 *   deno run -A bench/stream_output.ts [--tasks 10000] [--rounds 1] [--only stream|files]
 *     [--output-dir DIR] [--cpu-prof-dir DIR]   (profiles of the worker and the server, see bench/cpu_profile_top.ts)
 */
import { HqClient } from "../client/mod.ts";
import type { TaskTemplate } from "../common/job_types.ts";
import { testTaskTemplate } from "../server/scheduler/_test_fixtures.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { median } from "./_stats.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

export interface StreamOutputOptions {
  /** Tasks per job. @default {10000} */
  tasks?: number;
  /** Rounds; each runs both modes once, in alternating order. @default {1} */
  rounds?: number;
  /** Profile the worker and the server (`--cpu-prof`) into this directory. */
  cpuProfDir?: string;
  /** Run only this mode (for a profile of one). */
  only?: "stream" | "files";
  /**
   * Where the stream directories and the per-task files go (a file system whose file creation
   * costs more than the local /tmp, say). @default {a temporary directory}
   */
  outputDir?: string;
}

export async function benchStreamOutput(options: StreamOutputOptions = {}): Promise<BenchRow[]> {
  const tasks = options.tasks ?? 10_000;
  const rounds = options.rounds ?? 1;
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-stream-" });
  const out = options.outputDir
    ? await Deno.makeTempDir({ dir: options.outputDir, prefix: "hq-bench-stream-" })
    : dir;
  const denoFlags = options.cpuProfDir
    ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`]
    : [];
  await using server = await startLiveServer({ denoFlags });
  const worker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...denoFlags,
      MAIN_TS,
      "worker",
      "start",
      "--cpus",
      "2",
      "--work-dir",
      `${dir}/work`,
    ]
      .concat(["--server-dir", server.serverDir]),
    stdout: "null",
    stderr: "null",
  }).spawn();
  const client = await HqClient.connect({ serverDir: server.serverDir });
  try {
    await Deno.writeFile(`${dir}/kib`, new Uint8Array(1024).fill(0x61));
    while ((await client.workerList("running")).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const base = testTaskTemplate(dir, { args: ["head", "-c", "1024", `${dir}/kib`] });
    const modes = {
      stream: (round: number): TaskTemplate => ({
        ...base,
        stream: { dir: `${out}/stream-${round}`, stdout: true, stderr: false },
      }),
      files: (round: number): TaskTemplate => ({
        ...base,
        stdout: `${out}/files-${round}/%{TASK_ID}.out`,
      }),
    };
    const seconds: Record<keyof typeof modes, number[]> = { stream: [], files: [] };
    const workerCpu: Record<keyof typeof modes, number[]> = { stream: [], files: [] };
    const fileCounts: Record<keyof typeof modes, number> = { stream: 0, files: 0 };
    // One small job first: the worker's first spawn and stream file are not part of a figure.
    await runJob(client, modes.stream(-1), 20);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0
        ? (["files", "stream"] as const)
        : (["stream", "files"] as const);
      for (const mode of order) {
        if (options.only && mode !== options.only) continue;
        const cpuBefore = await cpuSeconds(worker.pid);
        seconds[mode].push(await runJob(client, modes[mode](round), tasks));
        workerCpu[mode].push(await cpuSeconds(worker.pid) - cpuBefore);
        fileCounts[mode] = await countFiles(
          `${out}/${mode === "stream" ? "stream" : "files"}-${round}`,
        );
      }
    }
    const streamSeconds = median(seconds.stream);
    const filesSeconds = median(seconds.files);
    return [
      {
        name: `stream_output/${tasks}-tasks-1KiB-wall`,
        figure: streamSeconds,
        unit: "s",
        reference: filesSeconds,
        referenceLabel: "one file per task",
        ratio: filesSeconds / streamSeconds,
        target: ">= 1.5x",
      },
      {
        name: `stream_output/worker-cpu-per-task`,
        figure: median(workerCpu.stream) / tasks * 1e6,
        unit: "µs",
        reference: median(workerCpu.files) / tasks * 1e6,
        referenceLabel: "one file per task",
        ratio: median(workerCpu.stream) / median(workerCpu.files),
        target: "",
      },
      {
        name: `stream_output/${tasks}-tasks-files-created`,
        figure: fileCounts.stream,
        unit: "files",
        reference: fileCounts.files,
        referenceLabel: "one file per task",
        ratio: null,
        target: "1 per worker",
      },
    ];
  } finally {
    client.close();
    worker.kill("SIGTERM");
    await worker.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (out !== dir) await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/** Seconds from the submit request until `job wait` returns. */
async function runJob(client: HqClient, template: TaskTemplate, tasks: number): Promise<number> {
  const started = performance.now();
  const response = await client.request({
    type: "submit",
    jobId: null,
    name: "bench",
    maxFails: null,
    autoIdCount: null,
    submit: { template, ids: [[1, tasks, 1]], entries: null },
  });
  if (response.type !== "job-created") throw new Error("submit failed");
  await client.request({
    type: "job-wait",
    selector: { type: "ids", ranges: [[response.jobId, response.jobId, 1]] },
    withoutClose: false,
  });
  return (performance.now() - started) / 1000;
}

/** The process's own CPU time (user + system, not its children's), in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5), here 11 and 12 (after pid, comm, state).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function countFiles(dir: string): Promise<number> {
  let count = 0;
  for await (const _ of Deno.readDir(dir)) count++;
  return count;
}

if (import.meta.main) {
  const flag = (name: string) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : undefined;
  };
  const text = (name: string) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Deno.args[at + 1] : undefined;
  };
  const rows = await benchStreamOutput({
    tasks: flag("--tasks"),
    rounds: flag("--rounds"),
    cpuProfDir: text("--cpu-prof-dir"),
    only: text("--only") as "stream" | "files" | undefined,
    outputDir: text("--output-dir"),
  });
  console.log(formatTable(rows));
}
