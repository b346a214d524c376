/**
 * The HTML journal report of a 2,000-task run, opened from a file in headless Chromium with no
 * network: the charts are drawn (issue 19 point 4).
 */
import assert from "node:assert/strict";
import { browserSkipReason, launchBrowser, offlinePage, screenshot } from "./_browser.ts";
import { hqOk, TestServer, waitUntil } from "./harness.ts";

const skip = browserSkipReason();
if (skip) console.log(`skipped: the report browser test: ${skip}`);

Deno.test({
  name: "the journal report of a 2,000-task run shows its charts offline in Chromium",
  ignore: skip !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hq-report-browser-" });
    try {
      const journal = `${dir}/journal.bin`;
      {
        await using server = await TestServer.start({ args: ["--journal", journal] });
        await using _worker1 = server.startWorker(["--cpus", "2"]);
        await using _worker2 = server.startWorker(["--cpus", "2"]);
        await waitUntil(async () => (await server.workerStates()).size === 2);
        // Tasks 1991-2000 fail: two request classes' worth of bars and boxes.
        await hqOk([
          "--server-dir",
          server.dir,
          "submit",
          "--array",
          "1-2000",
          "--stdout",
          "none",
          "--stderr",
          "none",
          "--",
          "bash",
          "-c",
          "[ $HQ_TASK_ID -le 1990 ]",
        ], { cwd: dir });
        await server.hq(["job", "wait", "1"]);
        await server.hqOk(["journal", "flush"]);
      }
      const report = `${dir}/report.html`;
      await hqOk(["journal", "report", journal, report]);

      await using browser = await launchBrowser();
      const { page, blocked, errors } = await offlinePage(browser);
      await page.goto(`file://${report}`, { waitUntil: "load" });
      await page.waitForSelector("#chart-workers .uplot canvas");
      // Runs in the page (a string: this file is type-checked without the DOM library).
      const facts = await page.evaluate(`(() => {
        const q = (selector) => [...document.querySelectorAll(selector)];
        return {
          title: document.title,
          legend: q("#chart-workers .u-legend .u-series th").map((th) => th.textContent),
          bars: q("#chart-task-counts rect.bar").map((rect) =>
            rect.getAttribute("data-kind") + " " + rect.getAttribute("data-value")),
          boxes: q("#chart-task-durations g.box").length,
          empty: q(".chart.empty").map((el) => el.textContent),
          canvasWidth: q("#chart-workers canvas")[0].width,
        };
      })()`) as {
        title: string;
        legend: string[];
        bars: string[];
        boxes: number;
        empty: string[];
        canvasWidth: number;
      };
      await screenshot(page, "journal report 2000 tasks offline");
      assert.equal(facts.title, "HQ Journal Report");
      assert.deepEqual(facts.empty, []);
      assert.ok(
        facts.legend.some((name) => name?.includes("Running workers")),
        facts.legend.join(),
      );
      assert.deepEqual(facts.bars, ["Finished 1990", "Failed 10"]);
      assert.equal(facts.boxes, 2);
      assert.ok(facts.canvasWidth > 300);
      assert.deepEqual(blocked, []);
      assert.deepEqual(errors, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
