/**
 * What the event journal (`hq server start --journal`, journal spec §1) costs, and how fast a
 * server comes back from one. Real `hq server start` and `hq worker start --zero-worker --cpus 2`
 * children, requests from an in-process `HqClient`, as in `zero_worker.ts`.
 *
 * (a) A 1,000,000-task array on one zero worker with the journal off and on, each on a fresh
 *     server, in alternating order over a few rounds (off, on | on, off | …); the figures are
 *     medians, and the per-round ratio's spread shows the noise. Also the server's CPU per task
 *     and its peak RSS with and without the journal (events are buffered between flushes).
 * (b) Journal bytes per task of that run (after a `journal-flush`).
 * (c) Restore of that journal (the job completed, so restore replays every record and drops the
 *     job): time from spawning a new server on it until it answers `server info`, next to a server
 *     without a journal, and the restore time the server logs.
 * (d) Restore of a journal whose 1,000,000-task job is half done (its worker stopped halfway, the
 *     server stopped cleanly): the same times, the job's counts before and after, and the rest of
 *     the job run by a new zero worker.
 *
 *   deno run -A bench/journal.ts [--quick] [--rounds N] [--profile DIR]
 *
 * `--profile DIR` runs every server under `deno run --cpu-prof --cpu-prof-dir=DIR/<run>`;
 * `deno run -A bench/cpu_profile_top.ts DIR/<run>` summarises a profile.
 */
import { HqClient } from "../client/mod.ts";
import type { TaskCounts } from "../common/job_types.ts";
import { type BenchRow, formatNumber, formatTable } from "./_bench_row.ts";
import { type LiveServer, startLiveServer } from "./_live_server.ts";
import { median } from "./_stats.ts";
import {
  cpuSeconds,
  hwmMb,
  listJobs,
  sleep,
  startZeroWorkers,
  stopWorkers,
  submitJob,
  waitForWorkers,
  waitJob,
} from "./_zero_workers.ts";

/** The server logs this once it replayed a journal (server/server_journal.ts). */
const RESTORED_LOG = /Restored (\d+) job\(s\) from (\d+) journal events in (\d+) ms/;
/** A clean stop flushes up to a flush period of buffered events; a profile is written at exit. */
const STOP_TIMEOUT_MS = 120_000;
/** A restore of millions of events may take a while (the target is 5 s). */
const START_TIMEOUT_MS = 120_000;

export interface JournalBenchOptions {
  /** 100,000 tasks instead of 1,000,000 (about 40 s instead of about 5 min). */
  quick?: boolean;
  /** Rounds of (a), each one run with and one without the journal. @default {3} */
  rounds?: number;
  /** Run every server under `--cpu-prof`, writing into a subdirectory of this per server run. */
  profileDir?: string;
}

interface ArrayRun {
  journal: boolean;
  seconds: number;
  readyMs: number;
  serverCpuS: number;
  peakMb: number;
  /** Bytes the run added to the journal, after a flush; 0 without a journal. */
  journalBytes: number;
}

export async function benchJournal(options: JournalBenchOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const tasks = quick ? 100_000 : 1_000_000;
  const rounds = options.rounds ?? 3;
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-journal-" });
  const k = tasks >= 1_000_000 ? `${tasks / 1_000_000}m` : `${tasks / 1_000}k`;
  const serverOptions = (label: string, args: string[]) => ({
    args,
    captureStderr: true,
    startTimeoutMs: START_TIMEOUT_MS,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    denoFlags: options.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}/${label}`]
      : [],
  });
  try {
    // (a), (b): alternating order, a fresh server and worker per run.
    const runs: ArrayRun[] = [];
    const completedJournal = `${dir}/completed.journal`;
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const journal of order) {
        const label = `array-${journal ? "on" : "off"}-${round + 1}`;
        const path = `${dir}/${label}.journal`;
        const args = journal ? ["--journal", path] : [];
        const run = await arrayRun(serverOptions(label, args), dir, tasks, journal ? path : null);
        runs.push(run);
        console.error(
          `  ${label}: ${formatNumber(tasks / run.seconds)} tasks/s, server ${
            formatNumber(run.serverCpuS * 1e6 / tasks)
          } µs CPU/task, peak RSS ${formatNumber(run.peakMb)} MB` +
            (journal ? `, ${formatNumber(run.journalBytes / tasks)} journal bytes/task` : ""),
        );
        // Keep the last journal for (c); the others only take disk space.
        if (journal) await Deno.rename(path, completedJournal);
      }
    }
    const off = runs.filter((run) => !run.journal);
    const on = runs.filter((run) => run.journal);
    const roundRatios = on.map((run, i) => off[i].seconds / run.seconds);
    const rate = (group: ArrayRun[]) => median(group.map((run) => tasks / run.seconds));
    const cpuUs = (group: ArrayRun[]) => median(group.map((run) => run.serverCpuS * 1e6 / tasks));
    const peak = (group: ArrayRun[]) => median(group.map((run) => run.peakMb));
    const bytesPerTask = median(on.map((run) => run.journalBytes / tasks));
    const plainReadyMs = median(off.map((run) => run.readyMs));
    const journalMb = (await Deno.stat(completedJournal)).size / 2 ** 20;

    // (c) Restore of the completed job's journal.
    const completed = await restoreRun(serverOptions("restore-completed", []), completedJournal);
    if (completed.jobs !== 0) {
      throw new Error(`a completed job was restored: job list shows ${completed.jobs} jobs`);
    }
    await Deno.remove(completedJournal);

    // (d) Restore of a half-done job.
    const half = await halfDoneRun(
      (label, args) => serverOptions(label, args),
      dir,
      tasks,
      `${dir}/half.journal`,
    );

    const row = (
      name: string,
      figure: number,
      unit: string,
      reference: number | null = null,
      referenceLabel = "",
      ratio: number | null = null,
      target = "",
    ): BenchRow => ({
      name: `journal/${name}`,
      figure,
      unit,
      reference,
      referenceLabel,
      ratio,
      target,
    });
    const ready = "server without journal";
    return [
      row(`${k}-array-journal-off`, rate(off), "tasks/s"),
      row(
        `${k}-array-journal-on`,
        rate(on),
        "tasks/s",
        rate(off),
        "journal off",
        median(roundRatios),
        ">= 0.87x (<= 15% overhead)",
      ),
      row(`${k}-array-on-off-ratio-min`, Math.min(...roundRatios), "x", null, "", null),
      row(`${k}-array-on-off-ratio-max`, Math.max(...roundRatios), "x", null, "", null),
      row(
        `${k}-array-server-cpu-per-task`,
        cpuUs(on),
        "µs/task",
        cpuUs(off),
        "journal off",
        cpuUs(on) / cpuUs(off),
      ),
      row(
        `${k}-array-server-peak-rss`,
        peak(on),
        "MB",
        peak(off),
        "journal off",
        peak(on) / peak(off),
      ),
      row("bytes-per-task", bytesPerTask, "bytes"),
      row(`${k}-completed-journal-size`, journalMb, "MiB"),
      row(
        `restore-${k}-completed-ready`,
        completed.readyMs,
        "ms",
        plainReadyMs,
        ready,
        completed.readyMs / plainReadyMs,
        "< 5 s",
      ),
      row(`restore-${k}-completed-logged`, completed.loggedMs, "ms"),
      row(`restore-${k}-completed-events`, completed.events, "events"),
      row(`restore-${k}-completed-peak-rss`, completed.peakMb, "MB"),
      row(
        `restore-${k}-half-done-ready`,
        half.readyMs,
        "ms",
        plainReadyMs,
        ready,
        half.readyMs / plainReadyMs,
        "< 5 s",
      ),
      row(`restore-${k}-half-done-logged`, half.loggedMs, "ms"),
      row(`restore-${k}-half-done-events`, half.events, "events"),
      row(`restore-${k}-half-done-peak-rss`, half.peakMb, "MB"),
      row(`restore-${k}-half-done-journal-size`, half.journalMb, "MiB"),
      row(
        `restore-${k}-half-done-finished-tasks`,
        half.after.finished,
        "tasks",
        half.before.finished,
        "before the stop",
        half.after.finished / half.before.finished,
        "1.00x",
      ),
      row(
        `restore-${k}-half-done-waiting-tasks`,
        half.after.waiting,
        "tasks",
        half.before.waiting + half.before.running,
        "before the stop",
        half.after.waiting / (half.before.waiting + half.before.running),
        "1.00x",
      ),
      row(
        `restore-${k}-half-done-rest`,
        half.restRate,
        "tasks/s",
        rate(off),
        "whole array, journal off",
        half.restRate / rate(off),
      ),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

type ServerOptions = Parameters<typeof startLiveServer>[0];

/** One array of `tasks` tasks on a fresh server with one fresh zero worker. */
async function arrayRun(
  serverOptions: ServerOptions,
  dir: string,
  tasks: number,
  journalPath: string | null,
): Promise<ArrayRun> {
  await using server = await startLiveServer(serverOptions);
  const workers = startZeroWorkers(server.serverDir, dir, 1);
  const client = await HqClient.connect({ serverDir: server.serverDir });
  try {
    await waitForWorkers(client, 1);
    const sizeBefore = await flushedSize(client, journalPath);
    const cpuBefore = cpuSeconds(server.pid);
    const started = performance.now();
    await waitJob(client, await submitJob(client, dir, [[1, tasks, 1]]));
    const seconds = (performance.now() - started) / 1000;
    const serverCpuS = cpuSeconds(server.pid) - cpuBefore;
    const peakMb = hwmMb(server.pid);
    const journalBytes = (await flushedSize(client, journalPath)) - sizeBefore;
    return {
      journal: journalPath !== null,
      seconds,
      readyMs: server.readyMs,
      serverCpuS,
      peakMb,
      journalBytes,
    };
  } finally {
    client.close();
    await stopWorkers(workers);
    await stopOrThrow(server);
  }
}

/** The journal's size once the server flushed it; 0 without a journal. */
async function flushedSize(client: HqClient, journalPath: string | null): Promise<number> {
  if (journalPath === null) return 0;
  await client.request({ type: "journal-flush" });
  return (await Deno.stat(journalPath)).size;
}

/** A clean stop: the journal's last records are flushed at exit, and a profile written. */
async function stopOrThrow(server: LiveServer): Promise<void> {
  const status = await server.stop();
  if (!status.success) {
    const log = server.stderrPath ? await Deno.readTextFile(server.stderrPath).catch(() => "") : "";
    throw new Error(`hq server exited with ${status.code} (signal ${status.signal}):\n${log}`);
  }
}

interface RestoreRun {
  readyMs: number;
  /** The restored server's peak RSS, read once it answered. */
  peakMb: number;
  loggedMs: number;
  events: number;
  jobs: number;
}

/** Starts a server on `journalPath` and reads how long its restore took; then stops it. */
async function restoreRun(serverOptions: ServerOptions, journalPath: string): Promise<RestoreRun> {
  await using server = await startLiveServer({
    ...serverOptions,
    args: [...serverOptions?.args ?? [], "--journal", journalPath],
  });
  const client = await HqClient.connect({ serverDir: server.serverDir });
  try {
    const jobs = (await listJobs(client)).length;
    const peakMb = hwmMb(server.pid);
    return { readyMs: server.readyMs, peakMb, ...await restoredLog(server), jobs };
  } finally {
    client.close();
    await stopOrThrow(server);
  }
}

async function restoredLog(server: LiveServer): Promise<{ loggedMs: number; events: number }> {
  // The log reaches the file through this process's pipe, maybe a little after the answer.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const log = await Deno.readTextFile(server.stderrPath!);
    const match = RESTORED_LOG.exec(log);
    if (match) return { loggedMs: Number(match[3]), events: Number(match[2]) };
    if (Date.now() > deadline) throw new Error(`the server did not log a restore:\n${log}`);
    await sleep(20);
  }
}

interface HalfDoneRun extends RestoreRun {
  before: TaskCounts;
  after: TaskCounts;
  journalMb: number;
  /** Tasks/s of the rest of the job on a new zero worker after the restore. */
  restRate: number;
}

/**
 * Submits the array with the journal on, stops its worker once half the tasks finished, reads
 * the job's counts, stops the server cleanly; restarts on the same journal, compares the counts,
 * then lets a new worker finish the job.
 */
async function halfDoneRun(
  serverOptions: (label: string, args: string[]) => ServerOptions,
  dir: string,
  tasks: number,
  journalPath: string,
): Promise<HalfDoneRun> {
  let before: TaskCounts;
  let jobId: number;
  {
    await using server = await startLiveServer(
      serverOptions("half-done-run", ["--journal", journalPath]),
    );
    const workers = startZeroWorkers(server.serverDir, dir, 1);
    const client = await HqClient.connect({ serverDir: server.serverDir });
    try {
      await waitForWorkers(client, 1);
      jobId = await submitJob(client, dir, [[1, tasks, 1]]);
      for (;;) {
        const job = (await listJobs(client)).find((job) => job.id === jobId)!;
        if (job.counts.finished >= tasks / 2) break;
        await sleep(20);
      }
      await stopWorkers(workers);
      await waitForWorkers(client, 0, "exactly");
      before = (await listJobs(client)).find((job) => job.id === jobId)!.counts;
    } finally {
      client.close();
      await stopWorkers(workers);
      await stopOrThrow(server);
    }
  }
  const journalMb = (await Deno.stat(journalPath)).size / 2 ** 20;
  await using server = await startLiveServer(
    serverOptions("half-done-restore", ["--journal", journalPath]),
  );
  const client = await HqClient.connect({ serverDir: server.serverDir });
  const workers: Deno.ChildProcess[] = [];
  try {
    const jobs = await listJobs(client);
    const job = jobs.find((job) => job.id === jobId);
    if (!job || jobs.length !== 1) {
      throw new Error(
        `expected job ${jobId} alone after the restore, job list shows ${jobs.map((j) => j.id)}`,
      );
    }
    const after = job.counts;
    const restored = {
      readyMs: server.readyMs,
      peakMb: hwmMb(server.pid),
      ...await restoredLog(server),
      jobs: jobs.length,
    };
    workers.push(...startZeroWorkers(server.serverDir, dir, 1));
    await waitForWorkers(client, 1);
    const started = performance.now();
    await waitJob(client, jobId);
    const restRate = (tasks - after.finished) / ((performance.now() - started) / 1000);
    const done = (await listJobs(client)).find((job) => job.id === jobId)!;
    if (done.counts.finished !== tasks) {
      throw new Error(`after the restore the job ended with ${JSON.stringify(done.counts)}`);
    }
    return { ...restored, before, after, journalMb, restRate };
  } finally {
    client.close();
    await stopWorkers(workers);
    await stopOrThrow(server);
  }
}

if (import.meta.main) {
  const value = (flag: string) => {
    const at = Deno.args.indexOf(flag);
    return at >= 0 ? Deno.args[at + 1] : undefined;
  };
  const rounds = value("--rounds");
  console.log(formatTable(
    await benchJournal({
      quick: Deno.args.includes("--quick"),
      rounds: rounds === undefined ? undefined : Number(rounds),
      profileDir: value("--profile"),
    }),
  ));
}
