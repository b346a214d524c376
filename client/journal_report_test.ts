import assert from "node:assert/strict";
import { HqError } from "../common/errors.ts";
import { type ExportedEvent, renderJournalReport } from "./journal_report.ts";

const T0_MS = Date.parse("2025-03-01T10:00:00Z");

/** An exported event line `offsetSec` after the first event. */
function at(offsetSec: number, type: string, fields: Record<string, unknown> = {}): ExportedEvent {
  return { time: new Date(T0_MS + offsetSec * 1000).toISOString(), event: { type, ...fields } };
}

function serverStart(offsetSec = 0): ExportedEvent {
  return at(offsetSec, "server-start", { server_uid: "abc123" });
}

/** `worker-connected` with `cpus` as a list and any other resource as a sum. */
function workerConnected(
  offsetSec: number,
  id: number,
  resources: Record<string, number>,
): ExportedEvent {
  const items = Object.entries(resources).map(([name, amount]) =>
    name === "cpus"
      ? { name, kind: { List: { values: Array.from({ length: amount }, (_, i) => String(i)) } } }
      : { name, kind: { Sum: { size: amount * 10_000 } } }
  );
  return at(offsetSec, "worker-connected", {
    id,
    configuration: { resources: { resources: items, coupling: { weights: [] } }, hostname: "n1" },
  });
}

interface JobOptions {
  name?: string;
  tasks?: number;
  /** Resource amounts of the single variant. @default {{ cpus: 1 }} */
  resources?: Record<string, number | "All">;
  nNodes?: number;
  minTimeSec?: number;
}

function jobCreated(offsetSec: number, job: number, options: JobOptions = {}): ExportedEvent {
  const resources = Object.entries(options.resources ?? { cpus: 1 }).map(([resource, amount]) => ({
    resource,
    policy: amount === "All" ? "All" : { Compact: amount * 10_000 },
  }));
  return at(offsetSec, "job-created", {
    job,
    closed_job: true,
    job_desc: { name: options.name ?? "job", max_fails: null },
    submit_desc: {
      submit_dir: "/tmp",
      stream_path: null,
      task_desc: {
        ids: { ranges: [{ start: 0, count: options.tasks ?? 1, step: 1 }] },
        resources: {
          variants: [{
            n_nodes: options.nNodes ?? 0,
            resources: options.nNodes ? [] : resources,
            min_time: { secs: options.minTimeSec ?? 0, nanos: 0 },
            weight: 0,
          }],
        },
        time_limit: null,
        priority: 0,
        crash_limit: "NeverRestart",
      },
    },
  });
}

function taskStarted(offsetSec: number, job: number, task: number, worker: number): ExportedEvent {
  return at(offsetSec, "task-started", { job, task, instance: 0, worker });
}

interface Trace {
  name: string;
  x: number[];
  y: number[];
}

interface PageData {
  windowStartMs: number;
  workers: Trace[];
  classes: { label: string; finished: number; failed: number; finishedDurations: number[] }[];
}

function isHqError(message: string): (error: unknown) => boolean {
  return (error) => error instanceof HqError && error.message === message;
}

function pageData(html: string): PageData {
  const match = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  assert(match !== null, "the page has no data element");
  return JSON.parse(match[1]);
}

function trace(data: PageData, name: string): Trace {
  const found = data.workers.find((t) => t.name === name);
  assert(found !== undefined, `no trace "${name}" in ${data.workers.map((t) => t.name)}`);
  return found;
}

/** Value of a step trace at `offsetSec` after the window start. */
function valueAt(t: Trace, offsetSec: number): number {
  let value = 0;
  for (let i = 0; i < t.x.length && t.x[i] <= offsetSec * 1000; i++) value = t.y[i];
  return value;
}

function smallJournal(): ExportedEvent[] {
  return [
    serverStart(),
    workerConnected(1, 1, { cpus: 4 }),
    jobCreated(2, 1, { name: "hello", tasks: 3, resources: { cpus: 2 } }),
    taskStarted(3, 1, 0, 1),
    taskStarted(3, 1, 1, 1),
    at(13, "task-finished", { job: 1, task: 0 }),
    at(15, "task-failed", { job: 1, task: 1, error: "exit code 1" }),
    taskStarted(15, 1, 2, 1),
    at(20, "task-finished", { job: 1, task: 2 }),
    at(30, "worker-lost", { id: 1, reason: "Stopped" }),
    at(31, "server-stop"),
  ];
}

Deno.test("renderJournalReport rejects an empty journal", () => {
  assert.throws(() => renderJournalReport([], {}), isHqError("Empty journal"));
});

Deno.test("renderJournalReport rejects a journal that does not begin with server-start", () => {
  assert.throws(
    () => renderJournalReport([workerConnected(0, 1, { cpus: 1 }), serverStart(1)], {}),
    isHqError("Journal does not start with server start event"),
  );
});

Deno.test("renderJournalReport shows the cards, charts and request classes of a journal", () => {
  const html = renderJournalReport(smallJournal(), {});
  assert(html.startsWith("<!DOCTYPE html>"));
  assert(html.includes("<title>HQ Journal Report</title>"));
  // Self-contained: uPlot is inlined, nothing is loaded from the network.
  assert(html.includes("uPlot"));
  assert(!/\b(src|href)=["']?https?:/i.test(html));
  assert(!html.includes("cdn."));
  assert(html.includes("Server started"));
  assert(html.includes("2025-03-01 10:00:00 UTC"));
  assert(!html.includes("Time filtering"));
  for (const chart of ["Global worker statistics", "Task counts", "Task durations"]) {
    assert(html.includes(`<h2>${chart}</h2>`), chart);
  }
  assert(html.includes("<tr><th>T1</th><td>cpus: 2</td></tr>"));
  assert(html.includes(`"Finished "`) && html.includes(`"Failed "`));
  assert(html.includes(`["Finished", finishedColor]`) && html.includes(`["Failed", failedColor]`));

  const data = pageData(html);
  assert.deepEqual(
    data.classes,
    [
      { label: "T1", finished: 2, failed: 1, finishedDurations: [10, 5], failedDurations: [12] },
    ] as unknown as PageData["classes"],
  );
  assert.deepEqual(data.workers.map((t) => t.name), [
    "Queued workers",
    "Running workers cpus 4",
    "cpus alloc on cpus 4",
  ]);
});

Deno.test("renderJournalReport traces running workers and their normalised allocation", () => {
  const data = pageData(renderJournalReport(smallJournal(), {}));
  const running = trace(data, "Running workers cpus 4");
  const cpus = trace(data, "cpus alloc on cpus 4");
  assert.deepEqual([0, 1, 29, 30].map((s) => valueAt(running, s)), [0, 1, 1, 0]);
  // Two 2-cpu tasks fill the 4-cpu worker; at 15 s one fails and the third task starts.
  assert.deepEqual([2, 3, 14, 16, 21].map((s) => valueAt(cpus, s)), [0, 1, 0.5, 0.5, 0]);
  assert.deepEqual(running.x[running.x.length - 1], 31_000, "traces run to the last event");
});

Deno.test("renderJournalReport groups workers by resource set and counts `All` as the worker", () => {
  const data = pageData(renderJournalReport([
    serverStart(),
    workerConnected(1, 1, { cpus: 8, gpus: 2 }),
    workerConnected(1, 2, { cpus: 8, gpus: 2 }),
    workerConnected(1, 3, { cpus: 2 }),
    jobCreated(2, 1, { tasks: 2, resources: { cpus: 4, gpus: "All" } }),
    taskStarted(3, 1, 0, 1),
    at(4, "worker-lost", { id: 3, reason: "HeartbeatLost" }),
    at(5, "worker-lost", { id: 2, reason: "IdleTimeout" }),
  ], {}));
  const big = "cpus 8, gpus 2";
  assert.deepEqual(valueAt(trace(data, `Running workers ${big}`), 2), 2);
  assert.deepEqual(valueAt(trace(data, `Running workers ${big}`), 5), 1);
  assert.deepEqual(valueAt(trace(data, `cpus alloc on ${big}`), 3), 0.25);
  assert.deepEqual(valueAt(trace(data, `gpus alloc on ${big}`), 3), 0.5);
  assert.deepEqual(valueAt(trace(data, `gpus alloc on ${big}`), 5), 1);
  assert.deepEqual(valueAt(trace(data, "Running workers cpus 2"), 4), 0);
});

Deno.test("renderJournalReport counts queued allocation workers until the allocation finishes", () => {
  const queued = (s: number, id: string, count: number) =>
    at(s, "autoalloc-allocation-queued", {
      "queue-id": 1,
      "allocation-id": id,
      "worker-count": count,
    });
  const data = pageData(renderJournalReport([
    serverStart(),
    queued(1, "a", 2),
    queued(2, "b", 3),
    at(3, "autoalloc-allocation-started", { "queue-id": 1, "allocation-id": "a" }),
    at(4, "autoalloc-allocation-finished", { "queue-id": 1, "allocation-id": "a" }),
    at(5, "autoalloc-allocation-finished", { "queue-id": 1, "allocation-id": "b" }),
  ], {}));
  const t = trace(data, "Queued workers");
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((s) => valueAt(t, s)), [0, 2, 5, 5, 3, 0]);
});

Deno.test("renderJournalReport describes each request class in the legend", () => {
  const html = renderJournalReport([
    serverStart(),
    workerConnected(1, 1, { cpus: 4, mem: 1024 }),
    workerConnected(1, 2, { cpus: 4, mem: 1024 }),
    jobCreated(2, 1, { resources: { cpus: 1, mem: 0.5 }, minTimeSec: 90 }),
    jobCreated(2, 2, { nNodes: 2 }),
    at(3, "task-started", { job: 2, task: 0, instance: 0, workers: [1, 2] }),
    at(4, "task-finished", { job: 2, task: 0 }),
    taskStarted(4, 1, 0, 1),
    at(5, "task-failed", { job: 1, task: 0, error: "x" }),
  ], {});
  assert(html.includes("<tr><th>T1</th><td>nodes: 2</td></tr>"));
  assert(html.includes("<tr><th>T2</th><td>cpus: 1, mem: 0.5, min_time: 1m 30s</td></tr>"));
  const data = pageData(html);
  assert.deepEqual(valueAt(trace(data, "cpus alloc on cpus 4, mem 1024"), 3), 1);
  assert.deepEqual(valueAt(trace(data, "cpus alloc on cpus 4, mem 1024"), 4), 0.125);
});

Deno.test("renderJournalReport shows the time filter in a card", () => {
  const events = smallJournal();
  const card = (options: { startOffsetMs?: number; endOffsetMs?: number }) => {
    const html = renderJournalReport(events, options);
    const match = /Time filtering<\/div><div class="card-value">([^<]*)</.exec(html);
    return match?.[1];
  };
  assert.deepEqual(card({ startOffsetMs: 3_900_000 }), "since 1h 5m");
  assert.deepEqual(card({ endOffsetMs: 7_200_000 }), "upto 2h");
  assert.deepEqual(card({ startOffsetMs: 5_000, endOffsetMs: 90_000 }), "between 5s and 1m 30s");
  assert.deepEqual(card({}), undefined);
});

Deno.test("renderJournalReport folds events before --start-time into initial values", () => {
  const data = pageData(renderJournalReport(smallJournal(), { startOffsetMs: 14_000 }));
  assert.deepEqual(data.windowStartMs, T0_MS + 14_000);
  // The worker connected before the window and one task still runs at its start.
  assert.deepEqual(valueAt(trace(data, "Running workers cpus 4"), 0), 1);
  assert.deepEqual(valueAt(trace(data, "cpus alloc on cpus 4"), 0), 0.5);
  // Task 0 finished before the window; task 1 started before it and fails inside it.
  assert.deepEqual(data.classes.map((c) => [c.finished, c.failed]), [[1, 1]]);
});

Deno.test("renderJournalReport stops reading at --end-time", () => {
  const data = pageData(renderJournalReport(smallJournal(), { endOffsetMs: 14_000 }));
  assert.deepEqual(data.classes.map((c) => [c.finished, c.failed]), [[1, 0]]);
  const running = trace(data, "Running workers cpus 4");
  assert.deepEqual(running.x[running.x.length - 1], 14_000);
  assert.deepEqual(valueAt(running, 14), 1);
});

Deno.test("renderJournalReport keeps `</script>` in journal names inside the data", () => {
  const evil = "</script><script>alert(1)</script><!--";
  const html = renderJournalReport([
    serverStart(),
    workerConnected(1, 1, { cpus: 1, [evil]: 1 }),
    jobCreated(2, 1, { name: evil, resources: { [evil]: 1 } }),
    taskStarted(3, 1, 0, 1),
    at(4, "task-finished", { job: 1, task: 0 }),
  ], {});
  // Only the page's own three script elements end.
  assert.deepEqual(html.split("</script>").length - 1, 3);
  assert(!html.includes("<script>alert"));
  assert(!html.includes("<!--"));
  const data = pageData(html);
  assert(data.workers.some((t) => t.name === `${evil} alloc on cpus 1, ${evil} 1`));
  assert(html.includes("&#60;/script&#62;&#60;script&#62;alert(1)"), "legend text is escaped");
});

Deno.test("renderJournalReport reads times with nanoseconds, offsets or no fraction", () => {
  const line = (time: string, type: string, fields: Record<string, unknown> = {}) => ({
    time,
    event: { type, ...fields },
  });
  const data = pageData(renderJournalReport([
    line("2025-03-01T10:00:00Z", "server-start"),
    line("2025-03-01T10:00:00.000000001Z", "worker-connected", {
      id: 1,
      configuration: {
        resources: { resources: [{ name: "cpus", kind: { Range: { start: 0, end: 3 } } }] },
      },
    }),
    jobCreated(0, 1, { tasks: 3 }),
    line("2025-03-01T10:00:01Z", "task-started", { job: 1, task: 0, worker: 1 }),
    line("2025-03-01T10:00:01.5Z", "task-started", { job: 1, task: 1, worker: 1 }),
    line("2025-03-01T10:00:01.250999999Z", "task-started", { job: 1, task: 2, worker: 1 }),
    line("2025-03-01T11:00:03.75+01:00", "task-finished", { job: 1, task: 0 }),
    line("2025-03-01T10:00:03.750123Z", "task-finished", { job: 1, task: 1 }),
    line("2025-03-01T10:00:04.000Z", "task-finished", { job: 1, task: 2 }),
  ], {}));
  // Task 2 started "before" task 1: its time is clamped so the traces never go back in time.
  assert.deepEqual(data.classes[0].finishedDurations, [2.75, 2.25, 2.5]);
  assert.deepEqual(valueAt(trace(data, "cpus alloc on cpus 4"), 1.6), 0.75);
});

Deno.test("renderJournalReport stays small and fast on a large journal", () => {
  // 200,000 task events here; a journal of 1,000,000 renders in about a second.
  const events: ExportedEvent[] = [serverStart()];
  for (let w = 1; w <= 100; w++) events.push(workerConnected(1, w, { cpus: 32 }));
  const taskCount = 100_000;
  events.push(jobCreated(2, 1, { tasks: taskCount }));
  // Each worker runs 8 tasks at a time, each for 10 to 40 seconds.
  const pending: ExportedEvent[] = [];
  for (let task = 0; task < taskCount; task++) {
    const startSec = 3 + Math.floor(task / 800) * 40;
    const endSec = startSec + 10 + (task % 31);
    pending.push(taskStarted(startSec, 1, task, 1 + (task % 100)));
    const outcome = task % 10 === 0 ? "task-failed" : "task-finished";
    pending.push(at(endSec, outcome, { job: 1, task, error: "x" }));
  }
  pending.sort((a, b) => a.time < b.time ? -1 : a.time > b.time ? 1 : 0);
  for (const event of pending) events.push(event);

  const startedMs = performance.now();
  const html = renderJournalReport(events, {});
  const elapsedMs = performance.now() - startedMs;
  assert(elapsedMs < 5_000, `took ${elapsedMs} ms`);
  assert(html.length < 1_000_000, `page has ${html.length} characters`);
  const data = pageData(html);
  assert.deepEqual(data.classes.map((c) => [c.finished, c.failed]), [[90_000, 10_000]]);
  assert.deepEqual(data.classes[0].finishedDurations.length, 10_000);
  assert(html.includes("Box plots show a uniform sample of the durations (Finished T1: 10000 of"));
  for (const t of data.workers) assert(t.x.length <= 4002, `${t.name}: ${t.x.length} points`);
});
