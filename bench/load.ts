/**
 * Many clients at once against one server with the journal on: C concurrent clients, each its
 * own `HqClient` connection, each submitting J one-task jobs one after another with a `job list`
 * (every job's summary, as `hq job list` asks for) after every `listEvery`-th submit, while 4
 * `hq worker start --zero-worker --cpus 2` children run the tasks. Then checks that every job
 * completed exactly once: the job list shows C × J jobs, all FINISHED with one finished task, and
 * the journal (`hq journal export`) holds exactly one `task-finished` per job.
 *
 * The clients run in several child processes (this file with `--client-process`), a few
 * connections each: one process would decode every client's `job list` (up to C × J summaries
 * each) on one thread, and its queue would inflate the latencies it measures. Each child connects
 * its clients, says `ready`, starts on `go` from the parent and reports its latencies as one JSON
 * line.
 *
 *   deno run -A bench/load.ts [--quick] [--clients C] [--jobs J] [--processes P]
 *                             [--list-every N] [--no-journal] [--profile DIR]
 */
import { HqClient } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { mean, percentile } from "./_stats.ts";
import {
  listJobs,
  MAIN_TS,
  startZeroWorkers,
  stopWorkers,
  submitJob,
  waitForWorkers,
} from "./_zero_workers.ts";

const SELF = new URL(import.meta.url).pathname;
const WORKERS = 4;
const SYNC_LABEL = "append + fdatasync";

export interface LoadBenchOptions {
  /** 10 clients × 50 jobs in 2 processes instead of 50 × 200 in 5. */
  quick?: boolean;
  clients?: number;
  /** One-task jobs each client submits. */
  jobsPerClient?: number;
  /** Client processes; the clients are spread evenly over them. */
  processes?: number;
  /**
   * A `job list` after every this many submits of a client. @default {10}: after every submit,
   * the 10,000 lists of up to 10,000 jobs each take the full run about 8 minutes.
   */
  listEvery?: number;
  /** Run the server with `--journal`; off, as a reference, skips the journal's check. */
  journal?: boolean;
  /** Run the server under `--cpu-prof`, writing into this directory. */
  profileDir?: string;
}

/** What one client process reports. */
interface ClientReport {
  submitMs: number[];
  listMs: number[];
  /** Jobs in each `job list` answer. */
  listSizes: number[];
  jobIds: number[];
}

export async function benchLoad(options: LoadBenchOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const clients = options.clients ?? (quick ? 10 : 50);
  const jobsPerClient = options.jobsPerClient ?? (quick ? 50 : 200);
  const processes = Math.min(clients, options.processes ?? (quick ? 2 : 5));
  const listEvery = options.listEvery ?? 10;
  const totalJobs = clients * jobsPerClient;
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-load-" });
  const journalPath = options.journal ?? true ? `${dir}/load.journal` : null;
  const workers: Deno.ChildProcess[] = [];
  try {
    // What one flush of a small submit record costs on this disk, at best.
    const syncMs = await appendSyncMs(`${dir}/sync-probe`);
    await using server = await startLiveServer({
      args: journalPath ? ["--journal", journalPath] : [],
      captureStderr: true,
      stopTimeoutMs: 60_000,
      denoFlags: options.profileDir
        ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}/load`]
        : [],
    });
    workers.push(...startZeroWorkers(server.serverDir, dir, WORKERS));
    const client = await HqClient.connect({ serverDir: server.serverDir });
    try {
      await waitForWorkers(client, WORKERS);
      const children = Array.from({ length: processes }, (_, p) => {
        // Clients spread evenly: the first `clients % processes` processes get one more.
        const count = Math.floor(clients / processes) + (p < clients % processes ? 1 : 0);
        return new ClientProcess(server.serverDir, dir, count, jobsPerClient, listEvery);
      });
      await Promise.all(children.map((child) => child.ready));
      const started = performance.now();
      for (const child of children) await child.go();
      const reports = await Promise.all(children.map((child) => child.report));
      const requestsS = (performance.now() - started) / 1000;
      await client.request({ type: "job-wait", selector: { type: "all" }, withoutClose: false });
      const allDoneS = (performance.now() - started) / 1000;

      const submitMs = reports.flatMap((r) => r.submitMs);
      const listMs = reports.flatMap((r) => r.listMs);
      const listSizes = reports.flatMap((r) => r.listSizes);
      const check = await verify(client, journalPath, reports, totalJobs);
      const requests = submitMs.length + listMs.length;
      const name = `load/${clients}x${jobsPerClient}${journalPath ? "" : "-no-journal"}`;
      const row = (
        what: string,
        figure: number,
        unit: string,
        reference: number | null = null,
        referenceLabel = "",
        target = "",
      ): BenchRow => ({
        name: `${name}-${what}`,
        figure,
        unit,
        reference,
        referenceLabel,
        // The flush probe is context for the submit latency, not a baseline to divide by.
        ratio: reference === null || referenceLabel === SYNC_LABEL ? null : figure / reference,
        target,
      });
      return [
        row("requests", requests / requestsS, "requests/s"),
        row("jobs", totalJobs / allDoneS, "jobs/s"),
        row("submit-p50", percentile(submitMs, 50), "ms", syncMs, SYNC_LABEL),
        row("submit-p99", percentile(submitMs, 99), "ms"),
        row("job-list-p50", percentile(listMs, 50), "ms"),
        row("job-list-p99", percentile(listMs, 99), "ms"),
        row("job-list-mean-size", mean(listSizes), "jobs"),
        row("listed-finished-once", check.listedOnce, "jobs", totalJobs, "submitted", "1.00x"),
      ].concat(
        check.journalOnce === null ? [] : [
          row("journal-finished-once", check.journalOnce, "jobs", totalJobs, "submitted", "1.00x"),
        ],
      );
    } finally {
      client.close();
    }
  } finally {
    await stopWorkers(workers);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Jobs listed FINISHED with exactly one task, finished; jobs with exactly one `task-finished` in
 * the journal. Throws when the job ids the clients got are not `totalJobs` distinct ids, or the
 * listed or journaled jobs are not those.
 */
async function verify(
  client: HqClient,
  journalPath: string | null,
  reports: ClientReport[],
  totalJobs: number,
): Promise<{ listedOnce: number; journalOnce: number | null }> {
  const submitted = new Set(reports.flatMap((r) => r.jobIds));
  if (submitted.size !== totalJobs) {
    throw new Error(`the clients got ${submitted.size} distinct job ids for ${totalJobs} submits`);
  }
  const jobs = await listJobs(client);
  const unknown = jobs.filter((job) => !submitted.has(job.id));
  if (jobs.length !== totalJobs || unknown.length > 0) {
    throw new Error(`job list shows ${jobs.length} jobs, ${unknown.length} not submitted here`);
  }
  const listedOnce =
    jobs.filter((job) =>
      job.state === "finished" && job.taskCount === 1 && job.counts.finished === 1
    ).length;
  if (journalPath === null) return { listedOnce, journalOnce: null };

  await client.request({ type: "journal-flush" });
  const finished = new Map<number, number>();
  const created = new Set<number>();
  const exported = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, "journal", "export", journalPath],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!exported.success) {
    throw new Error(`hq journal export failed: ${new TextDecoder().decode(exported.stderr)}`);
  }
  for (const line of new TextDecoder().decode(exported.stdout).split("\n")) {
    if (!line.startsWith('{"time"')) continue;
    const event = JSON.parse(line).event;
    if (event.type === "task-finished") finished.set(event.job, (finished.get(event.job) ?? 0) + 1);
    if (event.type === "job-created") created.add(event.job);
  }
  if (created.size !== totalJobs || [...created].some((id) => !submitted.has(id))) {
    throw new Error(`the journal created ${created.size} jobs, ${totalJobs} were submitted`);
  }
  const journalOnce = [...submitted].filter((id) => finished.get(id) === 1).length;
  const twice = [...finished.values()].filter((n) => n > 1).length;
  if (twice > 0) console.error(`  ${twice} jobs finished more than once in the journal`);
  return { listedOnce, journalOnce };
}

/** Median time of appending 100 bytes to a file and `fdatasync`ing it (a journal flush). */
async function appendSyncMs(path: string): Promise<number> {
  using file = await Deno.open(path, { write: true, create: true, append: true });
  const bytes = new Uint8Array(100);
  const samples: number[] = [];
  for (let i = 0; i < 100; i++) {
    const started = performance.now();
    await file.write(bytes);
    await file.syncData();
    samples.push(performance.now() - started);
  }
  return percentile(samples, 50);
}

/** A child process running some of the clients. */
class ClientProcess {
  readonly ready: Promise<void>;
  readonly report: Promise<ClientReport>;
  readonly #child: Deno.ChildProcess;

  constructor(
    serverDir: string,
    dir: string,
    clients: number,
    jobs: number,
    listEvery: number,
  ) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", SELF, "--client-process", serverDir, dir]
        .concat(String(clients), String(jobs), String(listEvery)),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = readLines(this.#child.stdout);
    const next = async () => {
      const { value, done } = await lines.next();
      if (done) {
        const status = await this.#child.status;
        throw new Error(`a client process ended early with ${status.code}`);
      }
      return value;
    };
    this.ready = next().then((line) => {
      if (line !== "ready") throw new Error(`a client process said "${line}"`);
    });
    this.report = this.ready.then(next).then(async (line) => {
      await this.#child.status;
      return JSON.parse(line) as ClientReport;
    });
    this.report.catch(() => {}); // Awaited by the caller; avoids an unhandled rejection first.
  }

  async go(): Promise<void> {
    const writer = this.#child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
    }
  }
  if (pending) yield pending;
}

/** The child's side: connects its clients, waits for `go`, runs them and prints its report. */
async function clientProcess(
  serverDir: string,
  dir: string,
  clients: number,
  jobs: number,
  listEvery: number,
): Promise<void> {
  const connections = await Promise.all(
    Array.from({ length: clients }, () => HqClient.connect({ serverDir })),
  );
  const report: ClientReport = { submitMs: [], listMs: [], listSizes: [], jobIds: [] };
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  out("ready");
  const lines = readLines(Deno.stdin.readable);
  if ((await lines.next()).value !== "go") throw new Error("the parent did not say go");
  await Promise.all(connections.map(async (client) => {
    for (let i = 1; i <= jobs; i++) {
      let started = performance.now();
      report.jobIds.push(await submitJob(client, dir, [[0, 0, 1]]));
      report.submitMs.push(performance.now() - started);
      if (i % listEvery !== 0) continue;
      started = performance.now();
      const listed = await listJobs(client);
      report.listMs.push(performance.now() - started);
      report.listSizes.push(listed.length);
    }
  }));
  for (const client of connections) client.close();
  out(JSON.stringify(report));
}

if (import.meta.main) {
  const args = Deno.args;
  if (args[0] === "--client-process") {
    const [serverDir, dir, clients, jobs, listEvery] = args.slice(1);
    await clientProcess(serverDir, dir, Number(clients), Number(jobs), Number(listEvery));
  } else {
    const value = (flag: string) => {
      const at = args.indexOf(flag);
      return at >= 0 ? Number(args[at + 1]) : undefined;
    };
    const profileAt = args.indexOf("--profile");
    const rows = await benchLoad({
      quick: args.includes("--quick"),
      clients: value("--clients"),
      jobsPerClient: value("--jobs"),
      processes: value("--processes"),
      listEvery: value("--list-every"),
      journal: !args.includes("--no-journal"),
      profileDir: profileAt >= 0 ? args[profileAt + 1] : undefined,
    });
    console.log(formatTable(rows));
  }
}
