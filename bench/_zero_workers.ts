/**
 * Helpers of the benchmarks that drive a live server with `hq worker start --zero-worker`
 * children (workers that go through the whole task protocol but spawn nothing) and submit
 * through an in-process `HqClient`: the same steps as `zero_worker.ts`, shared by `journal.ts`
 * and `load.ts`.
 */
import type { HqClient } from "../client/mod.ts";
import type { ClientRequest } from "../common/protocol.ts";
import type { JobSummaryView } from "../common/job_types.ts";
import { testTaskTemplate } from "../server/scheduler/_test_fixtures.ts";

export const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

/** `count` zero workers of 2 CPUs each, logs dropped. */
export function startZeroWorkers(
  serverDir: string,
  workDir: string,
  count: number,
): Deno.ChildProcess[] {
  return Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        MAIN_TS,
        "worker",
        "start",
        "--zero-worker",
        "--cpus",
        "2",
        "--work-dir",
        `${workDir}/work`,
        "--server-dir",
        serverDir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
}

export async function stopWorkers(workers: Deno.ChildProcess[]): Promise<void> {
  await Promise.all(workers.map(async (worker) => {
    try {
      worker.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await worker.status;
  }));
}

/** Polls until `count` workers are running (at least, or exactly once others went offline). */
export async function waitForWorkers(
  client: HqClient,
  count: number,
  mode: "at-least" | "exactly" = "at-least",
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const running = (await client.workerList("running")).length;
    if (mode === "exactly" ? running === count : running >= count) return;
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} running workers, the server has ${running}`);
    }
    await sleep(50);
  }
}

/** A submit of `true` tasks (no outputs) with these ids, as a new job. */
export function submitRequest(dir: string, ids: Array<[number, number, number]>): ClientRequest {
  return {
    type: "submit",
    jobId: null,
    name: "bench",
    maxFails: null,
    autoIdCount: null,
    submit: { template: testTaskTemplate(dir), ids, entries: null },
  };
}

/** Submits a new job and returns its id. */
export async function submitJob(
  client: HqClient,
  dir: string,
  ids: Array<[number, number, number]>,
): Promise<number> {
  const response = await client.request(submitRequest(dir, ids));
  if (response.type !== "job-created") throw new Error(`submit failed: ${response.type}`);
  return response.jobId;
}

/** Waits until the job is completed. */
export async function waitJob(client: HqClient, jobId: number): Promise<void> {
  await client.request({
    type: "job-wait",
    selector: { type: "ids", ranges: [[jobId, jobId, 1]] },
    withoutClose: false,
  });
}

/** Every job's summary (what `hq job list --all` gets). */
export async function listJobs(client: HqClient): Promise<JobSummaryView[]> {
  const response = await client.request({ type: "job-list" });
  if (response.type !== "jobs") throw new Error(`job list failed: ${response.type}`);
  return response.jobs;
}

function procStatusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  return kb / 1024;
}

export const rssMb = (pid: number): number => procStatusMb(pid, "VmRSS");
/** The process's peak RSS so far. */
export const hwmMb = (pid: number): number => procStatusMb(pid, "VmHWM");

/** User + system CPU seconds the process used so far (from `/proc/<pid>/stat`). */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
