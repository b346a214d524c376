/**
 * `hq dashboard` in headless Chromium against a real server and workers (issue 19): a worker
 * appears, a job's progress reaches 100% live, a failed task's error is shown, the token is
 * required, Ctrl-C ends the process, and the replay of the journal shows the same end state.
 * A screenshot per test goes to a temporary directory (printed).
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { browserSkipReason, launchBrowser, offlinePage, screenshot } from "./_browser.ts";
import type { QueueParams } from "../common/autoalloc.ts";
import { encodeJournalRecord, type JournalEvent } from "../common/journal/journal_events.ts";
import { JournalWriter } from "../common/journal/journal_file.ts";
import { hqCommand, hqOkAt, HqProcess, TestServer, waitUntil } from "./harness.ts";

const skip = browserSkipReason();
if (skip) console.log(`skipped: the dashboard browser tests: ${skip}`);

/** Starts `hq dashboard …` and returns it with the URL it printed. */
async function startDashboard(
  args: string[],
  logDir: string,
): Promise<{ process: HqProcess; url: string }> {
  const process = new HqProcess(["--output-mode", "json", "dashboard", ...args], { logDir });
  const url = await waitUntil(() => {
    if (process.exited) throw new Error(`hq dashboard exited: ${process.stderr()}`);
    const line = process.stdout().split("\n")[0];
    return line ? (JSON.parse(line) as { url: string }).url : undefined;
  }, { what: "the dashboard URL" });
  return { process, url };
}

function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (node) => (node as unknown as { textContent: string }).textContent);
}

async function waitForText(page: Page, selector: string, pattern: RegExp): Promise<string> {
  let last = "";
  try {
    return await waitUntil(async () => {
      last = await text(page, selector).catch(() => "");
      return pattern.test(last) ? last : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200, what: `${selector} to match ${pattern}` });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last: ${last}`);
  }
}

Deno.test({
  name: "the dashboard shows workers, live job progress and errors; replay shows the end state",
  ignore: skip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hq-dashboard-" });
    try {
      const journal = `${dir}/journal.bin`;
      await using server = await TestServer.start({ args: ["--journal", journal] });
      await using browser = await launchBrowser();
      const { process: dashboard, url } = await startDashboard(["--server-dir", server.dir], dir);
      await using _dashboard = dashboard;
      const origin = new URL(url).origin;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);

      // The token is required, for the page and the API alike.
      assert.equal((await fetch(origin)).status, 401);
      assert.equal((await fetch(`${origin}/api/state?token=wrong`)).status, 401);
      await (await fetch(origin)).body?.cancel();
      const stranger = await offlinePage(browser, (u) => u.startsWith(origin));
      const denied = await stranger.page.goto(origin);
      assert.equal(denied?.status(), 401);
      await screenshot(stranger.page, "dashboard without token");
      await stranger.page.close();
      const { page, blocked, errors } = await offlinePage(browser, (u) => u.startsWith(origin));

      // A worker appears.
      await page.goto(url);
      await page.click('nav a[data-tab="workers"]');
      const w1 = server.startWorker(["--cpus", "2", "--overview-interval", "1s"]);
      await using _w1 = w1;
      const w2 = server.startWorker(["--cpus", "2"]);
      await using _w2 = w2;
      await waitForText(page, "#workers-table tbody", /1.*running.*2.*running/s);
      await page.click('#workers-table tbody tr[data-worker="1"]');
      await waitForText(page, "#worker-detail", /Worker 1/);
      await screenshot(page, "dashboard workers");

      // A job's progress reaches 100% live (no reload), and a failed task's error is shown.
      await page.click('nav a[data-tab="jobs"]');
      await hqOkAt(server, [
        "submit",
        "--array",
        "1-2000",
        "--stdout",
        "none",
        "--stderr",
        "none",
        "--",
        "true",
      ], { cwd: dir });
      await waitForText(page, "#jobs-table tbody", /bash|true/);
      await waitForText(page, '#jobs-table tr[data-job="1"] td.percent', /^100%$/);
      await hqOkAt(server, [
        "submit",
        "--array",
        "1-20",
        "--stdout",
        "none",
        "--stderr",
        "none",
        "--",
        "bash",
        "-c",
        "if [ $HQ_TASK_ID = 13 ]; then echo boom >&2; exit 42; fi",
      ], { cwd: dir });
      await waitForText(page, '#jobs-table tr[data-job="2"] td.percent', /^100%$/);
      await page.click('#jobs-table tr[data-job="2"]');
      await waitForText(page, "#job-errors", /Task 13:.*exit code 42/);
      await page.select("#task-filter", "failed");
      await waitForText(page, "#task-total", /^1 tasks$/);
      await waitForText(page, "#task-table tbody", /^13\s*failed/);
      await page.click('#task-table tbody tr[data-task="13"]');
      await waitForText(page, "#task-detail", /Command.*bash -c/s);
      await screenshot(page, "dashboard failed task");

      // The task table scrolls without loading every task.
      await page.click('#jobs-table tr[data-job="1"]');
      await page.select("#task-filter", "");
      await waitForText(page, "#task-total", /^2000 tasks$/);
      await page.$eval("#task-scroller", (node) => {
        (node as unknown as { scrollTop: number }).scrollTop = 26 * 1500;
      });
      await waitForText(page, "#task-table tbody tr:first-child td:first-child", /^150\d$/);
      const rows = await page.$$eval("#task-table tbody tr", (nodes) => nodes.length);
      assert.ok(rows <= 40, `${rows} rows in the DOM`);
      await page.click('nav a[data-tab="overview"]');
      await waitForText(page, "#cards", /Tasks finished\s*2019/);
      await screenshot(page, "dashboard overview");
      assert.deepEqual(blocked, []);
      assert.deepEqual(errors, []);

      // Ctrl-C ends the dashboard cleanly.
      dashboard.kill("SIGINT");
      assert.equal((await dashboard.status()).code, 0);
      assert.match(dashboard.stderr(), /Stopping the dashboard/);

      // The replay of the journal shows the same end state, with no server.
      await server.hqOk(["journal", "flush"]);
      const replay = await startDashboard(["replay", journal], dir);
      await using _replay = replay.process;
      const again = await offlinePage(browser, (u) => u.startsWith(new URL(replay.url).origin));
      await again.page.goto(replay.url);
      await again.page.click('nav a[data-tab="jobs"]');
      await waitForText(again.page, '#jobs-table tr[data-job="1"] td.percent', /^100%$/);
      await waitForText(again.page, '#jobs-table tr[data-job="2"]', /failed.*100%.*0.*1/s);
      await again.page.click('nav a[data-tab="workers"]');
      await waitForText(again.page, "#workers-table tbody", /1.*2/s);
      await screenshot(again.page, "dashboard replay");
      assert.deepEqual(again.errors, []);
      replay.process.kill("SIGINT");
      assert.equal((await replay.process.status()).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("hq dashboard without a server fails like every client command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hq-dashboard-none-" });
  try {
    const [program, ...rest] = hqCommand(["dashboard", "--server-dir", dir]);
    const output = await new Deno.Command(program, { args: rest, stdin: "null" }).output();
    assert.equal(output.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "acceptance: 2 workers and a running 10,000-task array, live to 100% with worker " +
    "overviews forced on; the replay shows the same end state",
  ignore: skip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hq-dashboard-10k-" });
    try {
      const journal = `${dir}/journal.bin`;
      await using server = await TestServer.start({ args: ["--journal", journal] });
      await using browser = await launchBrowser();
      const { process: dashboard, url } = await startDashboard(["--server-dir", server.dir], dir);
      await using _dashboard = dashboard;
      const { page, blocked, errors } = await offlinePage(
        browser,
        (u) => u.startsWith(new URL(url).origin),
      );
      await page.goto(url);
      await page.click('nav a[data-tab="workers"]');
      // No --overview-interval: the dashboard's stream makes the workers send overviews anyway.
      const w1 = server.startWorker(["--cpus", "2"]);
      await using _w1 = w1;
      const w2 = server.startWorker(["--cpus", "2"]);
      await using _w2 = w2;
      await waitForText(page, "#workers-table tbody", /1.*running.*2.*running/s);
      await waitForText(
        page,
        '#workers-table tr[data-worker="2"] td:nth-child(6)',
        /^\d+%$/,
      );
      await page.click('#workers-table tbody tr[data-worker="2"]');
      await page.waitForSelector("#worker-cpu-chart canvas", { timeout: 30_000 });

      await page.click('nav a[data-tab="jobs"]');
      await hqOkAt(server, [
        "submit",
        "--array",
        "1-10000",
        "--stdout",
        "none",
        "--stderr",
        "none",
        "--",
        "true",
      ], { cwd: dir });
      await page.waitForSelector('#jobs-table tr[data-job="1"]', { timeout: 30_000 });
      await page.click('#jobs-table tr[data-job="1"]');
      await page.waitForSelector("#job-chart canvas", { timeout: 30_000 });
      // The server has a journal: no "history reconstructed" banner.
      await page.waitForSelector("#banner", { hidden: true, timeout: 1_000 });
      const seen = new Set<string>();
      await waitUntil(async () => {
        const percent = await text(page, '#jobs-table tr[data-job="1"] td.percent');
        seen.add(percent);
        return percent === "100%" ? true : undefined;
      }, { timeoutMs: 90_000, intervalMs: 250, what: "job 1 at 100%" });
      assert.ok(seen.size > 2, `progress seen advancing live: ${[...seen].join(" ")}`);
      const row = await waitForText(page, '#jobs-table tr[data-job="1"]', /finished/);
      assert.match(row, /10000.*100%/s);
      await screenshot(page, "dashboard acceptance 10000 tasks");
      assert.deepEqual(blocked, []);
      assert.deepEqual(errors, []);
      dashboard.kill("SIGINT");
      assert.equal((await dashboard.status()).code, 0);

      // Forced overviews were stream-only: none of them is in the journal.
      await server.hqOk(["journal", "flush"]);
      const exported = await server.hqOk(["journal", "export", journal]);
      assert.doesNotMatch(exported, /worker-overview/);

      const replay = await startDashboard(["replay", journal], dir);
      await using _replay = replay.process;
      const again = await offlinePage(browser, (u) => u.startsWith(new URL(replay.url).origin));
      await again.page.goto(replay.url);
      await again.page.click('nav a[data-tab="jobs"]');
      assert.equal(await waitForText(again.page, '#jobs-table tr[data-job="1"]', /100%/), row);
      await again.page.click('#jobs-table tr[data-job="1"]');
      await again.page.waitForSelector("#job-chart canvas", { timeout: 30_000 });
      await again.page.click('nav a[data-tab="workers"]');
      await waitForText(again.page, "#workers-table tbody", /1.*2/s);
      await screenshot(again.page, "dashboard acceptance replay");
      assert.deepEqual(again.errors, []);
      replay.process.kill("SIGINT");
      assert.equal((await replay.process.status()).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "without a journal the page says its history was reconstructed; allocation timeline",
  ignore: skip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hq-dashboard-nojournal-" });
    try {
      await using browser = await launchBrowser();
      {
        await using server = await TestServer.start();
        const { process: dashboard, url } = await startDashboard(
          ["--server-dir", server.dir],
          dir,
        );
        await using _dashboard = dashboard;
        const { page, errors } = await offlinePage(
          browser,
          (u) => u.startsWith(new URL(url).origin),
        );
        await page.goto(url);
        await page.waitForSelector("#banner", { visible: true, timeout: 30_000 });
        assert.match(await text(page, "#banner"), /reconstructed.*--journal/s);
        await screenshot(page, "dashboard without journal");
        await page.keyboard.press("x");
        await page.waitForSelector("#banner", { hidden: true, timeout: 5_000 });
        assert.deepEqual(errors, []);
      }

      // Allocations from a synthetic journal, replayed: one bar per phase.
      const journal = `${dir}/alloc.bin`;
      const writer = await JournalWriter.open(journal);
      const t0 = 1_700_000_000_000;
      const events: Array<[number, JournalEvent]> = [
        [t0, { type: "server-start", serverUid: "alloc" }],
        [t0 + 1, {
          type: "autoalloc-queue-created",
          queueId: 1,
          params: queueParams(),
        }],
        [t0 + 10, {
          type: "autoalloc-allocation-queued",
          queueId: 1,
          allocationId: "101",
          workerCount: 1,
        }],
        [t0 + 20, {
          type: "autoalloc-allocation-queued",
          queueId: 1,
          allocationId: "102",
          workerCount: 2,
        }],
        [t0 + 5_000, { type: "autoalloc-allocation-started", queueId: 1, allocationId: "101" }],
        [t0 + 60_000, { type: "autoalloc-allocation-finished", queueId: 1, allocationId: "101" }],
        [t0 + 70_000, { type: "autoalloc-allocation-started", queueId: 1, allocationId: "102" }],
        [t0 + 90_000, { type: "server-stop" }],
      ];
      for (const [time, event] of events) writer.append(encodeJournalRecord(time, event));
      await writer.close();
      const replay = await startDashboard(["replay", journal], dir);
      await using _replay = replay.process;
      const { page, errors } = await offlinePage(
        browser,
        (u) => u.startsWith(new URL(replay.url).origin),
      );
      await page.goto(replay.url);
      await page.click('nav a[data-tab="alloc"]');
      await page.waitForSelector('#alloc-timeline g[data-allocation="102"] rect.running', {
        timeout: 30_000,
      });
      assert.equal(
        await page.$$eval('#alloc-timeline g[data-allocation="101"] rect', (n) => n.length),
        2,
      );
      assert.match(await text(page, "#alloc-timeline"), /#1 101 \(finished\).*#1 102 \(running\)/s);
      assert.match(await text(page, "#banner"), /reconstructed/);
      await page.waitForSelector("#banner", { hidden: true, timeout: 5_000 });
      await screenshot(page, "dashboard allocation timeline");
      assert.deepEqual(errors, []);
      replay.process.kill("SIGINT");
      assert.equal((await replay.process.status()).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function queueParams(): QueueParams {
  return {
    manager: "slurm",
    timeLimitMs: 3_600_000,
    backlog: 1,
    maxWorkersPerAlloc: 2,
    maxWorkerCount: null,
    name: "bench",
    minUtilization: 0,
    additionalArgs: [],
    workerArgs: [],
    workerStartCmd: null,
    workerStopCmd: null,
    workerWrapCmd: null,
    idleTimeoutMs: 300_000,
    workerTimeLimitMs: null,
    cliResources: null,
    cliResourceTexts: { cpus: null, resources: [] },
  };
}
