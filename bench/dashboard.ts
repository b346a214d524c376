/**
 * `hq dashboard` with a 1,000,000-task job and 1,000 simulated workers (issue 19): page load and
 * first render in headless Chromium, and the dashboard process's memory and CPU.
 *
 * The workers and the job are simulated cheaply: a synthetic journal written with the journal
 * writer (1,000 `worker-connected` events with a few overviews each, one 1,000,000-task array of
 * which 600,000 tasks ran and finished, 100 failed, 8,000 run: about 1.2 million records) feeds a
 * real `hq dashboard replay <JOURNAL>` child, which serves the same page and API as the stream
 * form. Measured:
 *
 * - load: from spawning the dashboard until it printed its URL (the journal read and folded);
 * - RSS of the dashboard process after loading and after a minute of polling;
 * - time to interactive: from `page.goto` until the overview's cards and task chart are drawn;
 * - the workers tab with 1,000 rows, a job's detail with its task table (first window), a scroll
 *   to the middle of 1,000,000 tasks, and `/api/state`'s size and serving time;
 * - the dashboard's CPU while one page polls it (workers tab open), per second.
 *
 *   deno run -A bench/dashboard.ts [--quick] [--keep JOURNAL]
 */
import type { Browser, Page } from "puppeteer-core";
import { encodeJournalRecord, type JournalEvent } from "../common/journal/journal_events.ts";
import { JournalWriter } from "../common/journal/journal_file.ts";
import type { HwState } from "../common/protocol.ts";
import { testTaskTemplate, testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";
import { browserSkipReason, launchBrowser } from "../tests/_browser.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";
import { cpuSeconds, hwmMb, MAIN_TS, rssMb, sleep } from "./_zero_workers.ts";

export interface DashboardBenchOptions {
  /** 100 workers and 100,000 tasks instead of 1,000 and 1,000,000. */
  quick?: boolean;
  /** Write the journal here and keep it (otherwise a temporary file). */
  journalPath?: string;
  /** Page loads to take the median of. @default {3} */
  loads?: number;
}

interface Shape {
  workers: number;
  tasks: number;
  finished: number;
  failed: number;
  cpusPerWorker: number;
}

/** Writes the synthetic journal; returns its record count. */
export async function writeSyntheticJournal(path: string, shape: Shape): Promise<number> {
  const writer = await JournalWriter.open(path);
  let records = 0;
  const start = Date.UTC(2025, 0, 1, 8);
  let now = start;
  const append = (event: JournalEvent): Promise<void> | undefined => {
    writer.append(encodeJournalRecord(now, event));
    records++;
    return records % 100_000 === 0 ? writer.flush() : undefined;
  };
  await append({ type: "server-start", serverUid: "bench" });
  for (let w = 1; w <= shape.workers; w++) {
    now = start + w * 10;
    await append({
      type: "worker-connected",
      workerId: w,
      configuration: testWorkerConfiguration(shape.cpusPerWorker, {
        hostname: `cn${String(w).padStart(4, "0")}`,
        listenAddress: `cn${w}:1`,
        overviewIntervalMs: 10_000,
      }),
    });
  }
  now += 1000;
  await append({
    type: "job-created",
    jobId: 1,
    name: "million",
    maxFails: null,
    attached: false,
    submit: {
      template: testTaskTemplate("/tmp", { args: ["bash", "-c", "sleep 1"] }),
      ids: [[1, shape.tasks, 1]],
      entries: null,
    },
  });
  // Tasks run in waves of one per CPU; every wave a few overviews.
  const slots = shape.workers * shape.cpusPerWorker;
  const ran = shape.finished + shape.failed;
  const waveMs = 600_000 / Math.ceil(ran / slots);
  let taskId = 1;
  for (let wave = 0; taskId <= ran + slots && taskId <= shape.tasks; wave++) {
    const waveStart = now + wave * waveMs;
    for (let slot = 0; slot < slots && taskId <= shape.tasks; slot++, taskId++) {
      const worker = 1 + (slot % shape.workers);
      now = waveStart + (slot / slots) * waveMs * 0.1;
      await append({
        type: "task-started",
        jobId: 1,
        taskId,
        instanceId: 0,
        workerIds: [worker],
        variant: 0,
      });
      if (taskId > ran) continue; // still running at the end
      now += waveMs * 0.8;
      if (taskId % Math.max(1, Math.floor(ran / shape.failed)) === 0) {
        await append({
          type: "task-failed",
          jobId: 1,
          taskId,
          error: `Program terminated with exit code 1 (task ${taskId})`,
        });
      } else {
        await append({ type: "task-finished", jobId: 1, taskId });
      }
    }
    now = waveStart + waveMs;
    if (wave % 5 === 0) {
      for (let w = 1; w <= shape.workers; w++) {
        await append({
          type: "worker-overview",
          workerId: w,
          hwState: overview(shape.cpusPerWorker, w + wave),
        });
      }
    }
  }
  await writer.close();
  return records;
}

function overview(cpus: number, seed: number): HwState {
  return {
    cpu_usage: {
      cpu_per_core_percent_usage: Array.from({ length: cpus }, (_, i) => (seed * 7 + i * 13) % 100),
    },
    memory_usage: { total: 256 * 2 ** 30, free: (64 + (seed % 128)) * 2 ** 30 },
    network_usage: {
      rx_bytes: 0,
      tx_bytes: 0,
      rx_packets: 0,
      tx_packets: 0,
      rx_errors: 0,
      tx_errors: 0,
    },
    nvidia_gpus: null,
    amd_gpus: null,
    timestamp: 0,
  };
}

interface Dashboard extends AsyncDisposable {
  child: Deno.ChildProcess;
  url: string;
  loadMs: number;
  stderr: () => string;
}

async function startReplay(journal: string): Promise<Dashboard> {
  const spawned = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN_TS,
      "--output-mode",
      "json",
      "dashboard",
      "replay",
      journal,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk);
  })();
  const reader = child.stdout.getReader();
  let stdout = "";
  while (!stdout.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`hq dashboard replay exited: ${stderr}`);
    stdout += decoder.decode(value);
  }
  const loadMs = performance.now() - spawned;
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const url = (JSON.parse(stdout.split("\n")[0]) as { url: string }).url;
  return {
    child,
    url,
    loadMs,
    stderr: () => stderr,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGINT");
      } catch {
        // Gone already.
      }
      await child.status;
    },
  };
}

async function waitFor(page: Page, predicate: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(predicate, { timeout: timeoutMs, polling: "raf" });
}

interface PageTimes {
  interactiveMs: number;
  workersMs: number;
  jobDetailMs: number;
  scrollMs: number;
}

async function loadPage(browser: Browser, url: string, workers: number, tasks: number) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const t0 = performance.now();
  await page.goto(url, { waitUntil: "domcontentloaded" });
  await waitFor(
    page,
    `document.querySelectorAll("#cards .card").length > 0 &&
    document.querySelector("#chart-tasks canvas") !== null`,
  );
  const interactiveMs = performance.now() - t0;
  let t = performance.now();
  await page.click('nav a[data-tab="workers"]');
  await waitFor(page, `document.querySelectorAll("#workers-table tbody tr").length === ${workers}`);
  const workersMs = performance.now() - t;
  await page.click('nav a[data-tab="jobs"]');
  await waitFor(page, `document.querySelector('#jobs-table tr[data-job="1"]') !== null`);
  t = performance.now();
  await page.click('#jobs-table tr[data-job="1"]');
  await waitFor(
    page,
    `document.getElementById("task-total").textContent === "${tasks} tasks" &&
    document.querySelectorAll("#task-table tbody tr").length > 0`,
  );
  const jobDetailMs = performance.now() - t;
  const middle = Math.floor(tasks / 2);
  t = performance.now();
  await page.$eval("#task-scroller", (node, top) => {
    (node as unknown as { scrollTop: number }).scrollTop = top as number;
  }, middle * 26);
  await waitFor(
    page,
    `(document.querySelector("#task-table tbody tr:first-child td") || {}).textContent === "${
      middle + 1
    }"`,
  );
  const scrollMs = performance.now() - t;
  return { page, times: { interactiveMs, workersMs, jobDetailMs, scrollMs } as PageTimes };
}

export async function benchDashboard(options: DashboardBenchOptions = {}): Promise<BenchRow[]> {
  const skip = browserSkipReason();
  if (skip) {
    console.error(`dashboard: skipped: ${skip}`);
    return [];
  }
  const shape: Shape = options.quick
    ? { workers: 100, tasks: 100_000, finished: 60_000, failed: 100, cpusPerWorker: 8 }
    : { workers: 1_000, tasks: 1_000_000, finished: 600_000, failed: 100, cpusPerWorker: 8 };
  const label = options.quick ? "100w-100k" : "1000w-1m";
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-dashboard-" });
  const journal = options.journalPath ?? `${dir}/journal.bin`;
  const rows: BenchRow[] = [];
  const row = (what: string, figure: number, unit: string): BenchRow => ({
    name: `dashboard/${label}-${what}`,
    figure,
    unit,
    reference: null,
    referenceLabel: "",
    ratio: null,
    target: "",
  });
  try {
    let t = performance.now();
    const records = await writeSyntheticJournal(journal, shape);
    const journalBytes = (await Deno.stat(journal)).size;
    console.error(
      `dashboard: wrote ${records} records (${(journalBytes / 2 ** 20).toFixed(0)} MiB) in ${
        ((performance.now() - t) / 1000).toFixed(1)
      } s`,
    );
    await using dashboard = await startReplay(journal);
    const pid = dashboard.child.pid;
    rows.push(row("replay-load", dashboard.loadMs, "ms"));
    rows.push(row("rss-loaded", rssMb(pid), "MB"));

    // The API alone (what every poll costs the dashboard process).
    const apiTimes: number[] = [];
    let stateBytes = 0;
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      const body = await (await fetch(dashboard.url.replace("/?", "/api/state?"))).text();
      apiTimes.push(performance.now() - t);
      stateBytes = body.length;
    }
    rows.push(row("api-state-bytes", stateBytes / 1024, "KiB"));
    rows.push(row("api-state-median", median(apiTimes), "ms"));
    // The job detail's task-state timeline: one pass over the job's tasks per request.
    const timelineTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await (await fetch(dashboard.url.replace("/?", "/api/job-timeline?job=1&bins=200&"))).text();
      timelineTimes.push(performance.now() - t);
    }
    rows.push(row("api-job-timeline-median", median(timelineTimes), "ms"));

    await using browser = await launchBrowser();
    const loads: PageTimes[] = [];
    let lastPage: Page | null = null;
    for (let i = 0; i < (options.loads ?? 3); i++) {
      await lastPage?.close();
      const { page, times } = await loadPage(browser, dashboard.url, shape.workers, shape.tasks);
      lastPage = page;
      loads.push(times);
    }
    const med = (key: keyof PageTimes) => median(loads.map((times) => times[key]));
    rows.push(row("time-to-interactive", med("interactiveMs"), "ms"));
    rows.push(row("workers-tab", med("workersMs"), "ms"));
    rows.push(row("job-detail", med("jobDetailMs"), "ms"));
    rows.push(row("task-scroll-middle", med("scrollMs"), "ms"));

    // Polling cost: one page on the workers tab for 10 s.
    await lastPage!.click('nav a[data-tab="workers"]');
    await sleep(1000);
    const cpu0 = cpuSeconds(pid);
    const metrics0 = await lastPage!.metrics();
    let polls = 0;
    lastPage!.on("request", (request) => {
      if (request.url().includes("/api/state")) polls++;
    });
    t = performance.now();
    await sleep(10_000);
    const seconds = (performance.now() - t) / 1000;
    const metrics1 = await lastPage!.metrics();
    rows.push(row("polls-per-second", polls / seconds, "/s"));
    rows.push(row("poll-cpu-dashboard", (cpuSeconds(pid) - cpu0) / seconds * 100, "% core"));
    rows.push(
      row(
        "poll-cpu-page-script",
        ((metrics1.ScriptDuration ?? 0) - (metrics0.ScriptDuration ?? 0)) / seconds * 100,
        "% core",
      ),
    );
    rows.push(row("page-js-heap", (metrics1.JSHeapUsedSize ?? 0) / 2 ** 20, "MB"));
    rows.push(row("rss-after-polling", rssMb(pid), "MB"));
    rows.push(row("rss-peak", hwmMb(pid), "MB"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}

if (import.meta.main) {
  const args = Deno.args;
  const keep = args.indexOf("--keep");
  const rows = await benchDashboard({
    quick: args.includes("--quick"),
    journalPath: keep >= 0 ? args[keep + 1] : undefined,
  });
  console.log(formatTable(rows));
}
