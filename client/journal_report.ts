/**
 * `hq journal report` (spec §1.7): folds the exported journal events of §1.6 into worker,
 * allocation and task statistics and renders them as one self-contained HTML page: uPlot (from
 * npm, inlined; client/assets/uplot.ts) draws the time series, inline SVG the bars and boxes, so
 * the page needs no network.
 *
 * The function is pure: the caller reads and parses the journal and writes the page. It must stay
 * fast on journals of millions of task events, so everything is aggregated while reading: step
 * traces are thinned to a fixed number of time buckets and box plots get a bounded sample.
 */
import { formatDuration } from "../common/duration.ts";
import { HqError } from "../common/errors.ts";
import { AMOUNT_FRACTIONS, formatAmount } from "../common/resources/mod.ts";
import { formatCliDate } from "../common/timestamp.ts";
import { seededRandom } from "../common/seeded_random.ts";
import { UPLOT_CSS, UPLOT_JS } from "./assets/uplot.ts";

/**
 * One line of `hq journal export` (spec §1.6), already parsed. Only the keys the report reads are
 * typed; everything else passes through untouched. Live-only events without `type` are skipped.
 */
export interface ExportedEvent {
  /** RFC 3339 wall-clock time of the event. */
  time: string;
  /** The payload: `type` is the event kind (`server-start`, `task-finished`, …). */
  event: { type?: string; [key: string]: unknown };
}

/** Time window of the report, as offsets from the first event (`--start-time`, `--end-time`). */
export interface JournalReportOptions {
  /** Events before this offset only set the initial values. @default {0} (no filter) */
  startOffsetMs?: number;
  /** Events after this offset are not read. @default {Infinity} (no filter) */
  endOffsetMs?: number;
}

/**
 * Step traces are thinned to this many time buckets: within one bucket only the last value is
 * kept. A million task starts would otherwise put millions of points into every utilisation
 * trace, far more than a chart can show, and spikes shorter than a bucket are invisible anyway.
 */
const MAX_STEP_BUCKETS = 4000;

/**
 * Box plots of a class get a uniform sample of at most this many durations. Quartiles of a
 * 10,000-value sample are within about 1% of the exact ones, and the page stays small.
 */
const MAX_DURATION_SAMPLES = 10_000;

/**
 * Renders the HTML report of spec §1.7 for `events` (the whole journal, in order).
 * Throws `HqError` `Empty journal` or `Journal does not start with server start event`.
 */
export function renderJournalReport(
  events: ExportedEvent[],
  options: JournalReportOptions = {},
): string {
  if (events.length === 0) throw new HqError("Empty journal");
  if (events[0].event?.type !== "server-start") {
    throw new HqError("Journal does not start with server start event");
  }
  const report = new ReportBuilder(events, options);
  report.readEvents();
  return renderPage(report.result());
}

// ---------------------------------------------------------------------------------------------
// Raw shapes of §1.6 that the report reads. All keys are optional: a report of a damaged or
// foreign journal should show what it can rather than fail on one odd record.

interface RawDuration {
  secs?: number;
  nanos?: number;
}

interface RawVariant {
  n_nodes?: number;
  resources?: { resource?: string; policy?: unknown }[];
  min_time?: RawDuration | null;
}

interface RawIdRange {
  start?: number;
  count?: number;
  step?: number;
}

interface RawTaskDesc {
  ids?: { ranges?: RawIdRange[] };
  resources?: { variants?: RawVariant[] };
}

interface RawWorkerResource {
  name?: string;
  kind?: {
    List?: { values?: unknown[] };
    Range?: { start?: number; end?: number };
    Groups?: { groups?: unknown[][] };
    Sum?: { size?: number };
  };
}

// ---------------------------------------------------------------------------------------------
// Resource requests

/** A variant's amount of one resource: the whole worker's amount, or 1/10000 units. */
type RequestPolicy = { kind: "All" } | { kind: string; units: number };

interface RequestVariantInfo {
  nNodes: number;
  resources: { name: string; policy: RequestPolicy }[];
  minTimeMs: number;
}

/** The request of one submit: its variants, and the text the legend shows for them. */
interface RequestInfo {
  key: string;
  description: string;
  variants: RequestVariantInfo[];
}

// HyperQueue's `--resource` suffixes, so the legend reads like the submit command line.
const POLICY_SUFFIX: Record<string, string> = {
  Compact: "",
  ForceCompact: " compact!",
  Scatter: " scatter",
  Tight: " tight",
  ForceTight: " tight!",
};

function parsePolicy(raw: unknown): RequestPolicy {
  if (raw === "All") return { kind: "All" };
  if (typeof raw === "object" && raw !== null) {
    const [entry] = Object.entries(raw);
    if (entry !== undefined && typeof entry[1] === "number") {
      return { kind: entry[0], units: entry[1] };
    }
  }
  return { kind: String(JSON.stringify(raw)), units: 0 };
}

function describePolicy(policy: RequestPolicy): string {
  if (!("units" in policy)) return "all";
  const suffix = POLICY_SUFFIX[policy.kind] ?? ` ${policy.kind}`;
  return `${formatUnits(policy.units)}${suffix}`;
}

function describeVariant(variant: RequestVariantInfo): string {
  let text = variant.nNodes > 0
    ? `nodes: ${variant.nNodes}`
    : variant.resources.map((r) => `${r.name}: ${describePolicy(r.policy)}`).join(", ");
  if (text === "") text = "no resources";
  if (variant.minTimeMs > 0) text += `, min_time: ${formatDuration(variant.minTimeMs)}`;
  return text;
}

function parseVariant(raw: RawVariant): RequestVariantInfo {
  const minTime = raw.min_time;
  return {
    nNodes: toNumber(raw.n_nodes),
    resources: (raw.resources ?? []).map((entry) => ({
      name: String(entry.resource ?? "?"),
      policy: parsePolicy(entry.policy),
    })),
    minTimeMs: minTime ? toNumber(minTime.secs) * 1000 + toNumber(minTime.nanos) / 1e6 : 0,
  };
}

const UNKNOWN_REQUEST: RequestInfo = {
  key: "unknown",
  description: "unknown (no resource request in the journal)",
  variants: [],
};

// ---------------------------------------------------------------------------------------------
// Jobs: which submit (and so which request) a task belongs to

interface SubmitInfo {
  /** Flattened `[start, count, step]` triples of the submit's task ids. */
  ranges: number[];
  request: RequestInfo;
}

interface JobInfo {
  submits: SubmitInfo[];
  /** Consecutive task events mostly hit the same submit; checking it first keeps lookups O(1). */
  lastHit: SubmitInfo | undefined;
}

function submitHasTask(submit: SubmitInfo, taskId: number): boolean {
  const ranges = submit.ranges;
  for (let i = 0; i < ranges.length; i += 3) {
    const offset = taskId - ranges[i];
    const step = ranges[i + 2];
    if (offset >= 0 && offset % step === 0 && offset / step < ranges[i + 1]) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Workers: grouped by their resource set; one `Running workers` trace per group

interface WorkerGroup {
  description: string;
  resourceNames: string[];
  /** Per-worker amount of each resource, in 1/10000 units. */
  resourceUnits: number[];
  running: number;
  /** Units of each resource taken by running tasks, summed over the group's workers. */
  usedUnits: number[];
  runningSeries: StepSeries;
  allocSeries: StepSeries[];
}

interface WorkerState {
  group: WorkerGroup;
  tasks: Set<RunningTask>;
}

interface RunningTask {
  jobId: number;
  taskId: number;
  startMs: number;
  workers: WorkerState[];
  /** Flattened `[resource index, units]` pairs per entry of `workers`. */
  usage: number[][];
}

function workerResourceUnits(raw: RawWorkerResource): number {
  const kind = raw.kind ?? {};
  if (kind.List) return (kind.List.values?.length ?? 0) * AMOUNT_FRACTIONS;
  if (kind.Range) {
    const count = toNumber(kind.Range.end) - toNumber(kind.Range.start) + 1;
    return Math.max(0, count) * AMOUNT_FRACTIONS;
  }
  if (kind.Groups) {
    let count = 0;
    for (const group of kind.Groups.groups ?? []) count += Array.isArray(group) ? group.length : 0;
    return count * AMOUNT_FRACTIONS;
  }
  if (kind.Sum) return toNumber(kind.Sum.size);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Step traces

/** One step trace; `x` holds offsets in ms from the window start. */
class StepSeries {
  readonly x: number[] = [];
  readonly y: number[] = [];
  value = 0;
  lastBucket = -1;
  constructor(readonly name: string, readonly axis: "workers" | "fraction") {}
}

/** Records step traces from the window start on; before it, only the current values change. */
class Timeline {
  readonly series: StepSeries[] = [];
  isOpen = false;

  constructor(readonly windowStartMs: number, readonly bucketMs: number) {}

  add(name: string, axis: "workers" | "fraction"): StepSeries {
    const series = new StepSeries(name, axis);
    this.series.push(series);
    if (this.isOpen) this.record(series, this.windowStartMs);
    return series;
  }

  set(series: StepSeries, timeMs: number, value: number): void {
    if (series.value === value) return;
    series.value = value;
    if (this.isOpen) this.record(series, timeMs);
  }

  /** Starts recording: every trace begins at the window start with the value folded so far. */
  open(): void {
    this.isOpen = true;
    for (const series of this.series) this.record(series, this.windowStartMs);
  }

  /** Extends every trace to `endMs` so the last step is drawn to the end of the window. */
  close(endMs: number): void {
    if (!this.isOpen) this.open();
    const endOffset = Math.round(endMs - this.windowStartMs);
    for (const series of this.series) {
      if (series.x[series.x.length - 1] < endOffset) {
        series.x.push(endOffset);
        series.y.push(series.value);
      }
    }
  }

  private record(series: StepSeries, timeMs: number): void {
    const offset = Math.max(0, timeMs - this.windowStartMs);
    const bucket = Math.floor(offset / this.bucketMs);
    const last = series.y.length - 1;
    if (last >= 0 && bucket === series.lastBucket) {
      series.y[last] = series.value;
    } else {
      series.x.push(Math.round(offset));
      series.y.push(series.value);
      series.lastBucket = bucket;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Task outcome statistics per request class

/** Uniform sample of a stream (reservoir sampling) with a fixed seed, so reports are repeatable. */
class Reservoir {
  readonly values: number[] = [];
  seen = 0;
  private readonly random = seededRandom(0x2545f491);

  add(value: number): void {
    this.seen++;
    if (this.values.length < MAX_DURATION_SAMPLES) {
      this.values.push(value);
      return;
    }
    const index = Math.floor(this.random() * this.seen);
    if (index < MAX_DURATION_SAMPLES) this.values[index] = value;
  }
}

interface ClassStats {
  label: string;
  description: string;
  finished: number;
  failed: number;
  finishedDurations: Reservoir;
  failedDurations: Reservoir;
}

// ---------------------------------------------------------------------------------------------
// Folding events

interface ReportData {
  serverStartMs: number;
  startOffsetMs: number | undefined;
  endOffsetMs: number | undefined;
  windowStartMs: number;
  series: StepSeries[];
  classes: ClassStats[];
}

class ReportBuilder {
  private readonly firstMs: number;
  private readonly endMs: number;
  private readonly timeline: Timeline;
  private readonly queuedSeries: StepSeries;
  private readonly queuedWorkersByAllocation = new Map<string, number>();
  private queuedWorkers = 0;
  private readonly groupsByDescription = new Map<string, WorkerGroup>();
  private readonly workersById = new Map<number, WorkerState>();
  private readonly jobsById = new Map<number, JobInfo>();
  private readonly requestsByKey = new Map<string, RequestInfo>();
  // Nested maps with number keys: on a million tasks, string keys like `job/task` cost seconds.
  private readonly runningTasksByJob = new Map<number, Map<number, RunningTask>>();
  private readonly timeParser = new EventTimeParser();
  private readonly statsByRequestKey = new Map<string, ClassStats>();

  constructor(
    private readonly events: ExportedEvent[],
    private readonly options: JournalReportOptions,
  ) {
    this.firstMs = this.timeParser.parse(events[0], 0);
    const windowStartMs = this.firstMs + (options.startOffsetMs ?? 0);
    this.endMs = this.firstMs + (options.endOffsetMs ?? Infinity);
    const windowEndMs = Math.max(windowStartMs, this.windowEndMs());
    const bucketMs = Math.max(1, (windowEndMs - windowStartMs) / MAX_STEP_BUCKETS);
    this.timeline = new Timeline(windowStartMs, bucketMs);
    this.queuedSeries = this.timeline.add("Queued workers", "workers");
  }

  readEvents(): void {
    const { events, timeline } = this;
    // The charts end at --end-time when the journal goes on past it, else at the last event.
    let windowEndMs = this.firstMs;
    for (let index = 0; index < events.length; index++) {
      // Clamped, so a clock step back cannot draw a trace backwards in time.
      const timeMs = Math.max(windowEndMs, this.timeParser.parse(events[index], index));
      if (timeMs > this.endMs) {
        windowEndMs = this.endMs;
        break;
      }
      windowEndMs = timeMs;
      if (!timeline.isOpen && timeMs >= timeline.windowStartMs) timeline.open();
      this.onEvent(events[index].event, timeMs);
    }
    timeline.close(Math.max(timeline.windowStartMs, windowEndMs));
  }

  result(): ReportData {
    return {
      serverStartMs: this.firstMs,
      startOffsetMs: this.options.startOffsetMs,
      endOffsetMs: this.options.endOffsetMs,
      windowStartMs: this.timeline.windowStartMs,
      series: this.timeline.series,
      classes: [...this.statsByRequestKey.values()],
    };
  }

  /** The end of the charts: `--end-time`, or the last event if the journal ends before it. */
  private windowEndMs(): number {
    const lastEvent = this.events[this.events.length - 1];
    const lastMs = this.timeParser.parse(lastEvent, this.events.length - 1);
    return Math.min(lastMs, this.endMs);
  }

  private onEvent(event: ExportedEvent["event"], timeMs: number): void {
    switch (event?.type) {
      case "server-start":
      case "server-stop":
        // Workers do not survive a server stop (§1.4), and a restored server tracks no
        // allocations; without this, a restart would leave ghost workers running forever.
        this.onServerGone(timeMs);
        break;
      case "worker-connected":
        this.onWorkerConnected(event, timeMs);
        break;
      case "worker-lost":
        this.onWorkerLost(toNumber(event.id), timeMs);
        break;
      case "job-created":
        this.onJobCreated(event);
        break;
      case "task-started":
        this.onTaskStarted(event, timeMs);
        break;
      case "task-finished":
        this.onTaskEnded(toNumber(event.job), toNumber(event.task), "finished", timeMs);
        break;
      case "task-failed":
        this.onTaskEnded(toNumber(event.job), toNumber(event.task), "failed", timeMs);
        break;
      case "task-canceled":
      case "task-aborted":
        for (const task of asArray(event.tasks)) {
          const ref = task as { job_id?: unknown; job_task_id?: unknown };
          this.stopTask(toNumber(ref.job_id), toNumber(ref.job_task_id), timeMs);
        }
        break;
      case "autoalloc-allocation-queued":
        this.onAllocationQueued(event, timeMs);
        break;
      case "autoalloc-allocation-finished":
        this.onAllocationFinished(event, timeMs);
        break;
    }
  }

  private onServerGone(timeMs: number): void {
    for (const id of [...this.workersById.keys()]) this.onWorkerLost(id, timeMs);
    this.runningTasksByJob.clear();
    this.queuedWorkersByAllocation.clear();
    this.queuedWorkers = 0;
    this.timeline.set(this.queuedSeries, timeMs, 0);
  }

  private onWorkerConnected(event: Record<string, unknown>, timeMs: number): void {
    const id = toNumber(event.id);
    if (this.workersById.has(id)) this.onWorkerLost(id, timeMs);
    const configuration = event.configuration as { resources?: { resources?: unknown } } | null;
    const rawResources = asArray(configuration?.resources?.resources) as RawWorkerResource[];
    const names = rawResources.map((raw) => String(raw.name ?? "?"));
    const units = rawResources.map(workerResourceUnits);
    const description = names.map((name, i) => `${name} ${formatUnits(units[i])}`).join(", ") ||
      "no resources";
    let group = this.groupsByDescription.get(description);
    if (group === undefined) {
      group = {
        description,
        resourceNames: names,
        resourceUnits: units,
        running: 0,
        usedUnits: units.map(() => 0),
        runningSeries: this.timeline.add(`Running workers ${description}`, "workers"),
        allocSeries: names.map((name) =>
          this.timeline.add(`${name} alloc on ${description}`, "fraction")
        ),
      };
      this.groupsByDescription.set(description, group);
    }
    this.workersById.set(id, { group, tasks: new Set() });
    group.running++;
    this.timeline.set(group.runningSeries, timeMs, group.running);
    this.updateAllocSeries(group, timeMs);
  }

  private onWorkerLost(id: number, timeMs: number): void {
    const worker = this.workersById.get(id);
    if (worker === undefined) return;
    // Its tasks stop with it; they are restarted elsewhere (a new `task-started`) or fail.
    for (const task of [...worker.tasks]) this.stopTask(task.jobId, task.taskId, timeMs);
    this.workersById.delete(id);
    const group = worker.group;
    group.running--;
    this.timeline.set(group.runningSeries, timeMs, group.running);
    this.updateAllocSeries(group, timeMs);
  }

  private onJobCreated(event: Record<string, unknown>): void {
    const jobId = toNumber(event.job);
    const submitDesc = event.submit_desc as { task_desc?: RawTaskDesc } | null;
    const taskDesc = submitDesc?.task_desc ?? {};
    const ranges: number[] = [];
    for (const range of asArray(taskDesc.ids?.ranges) as RawIdRange[]) {
      ranges.push(toNumber(range.start), toNumber(range.count), toNumber(range.step) || 1);
    }
    const rawVariants = asArray(taskDesc.resources?.variants) as RawVariant[];
    const request = rawVariants.length === 0
      ? UNKNOWN_REQUEST
      : this.internRequest(rawVariants.map(parseVariant));
    let job = this.jobsById.get(jobId);
    if (job === undefined || event.closed_job === true) {
      job = { submits: [], lastHit: undefined };
      this.jobsById.set(jobId, job);
    }
    job.submits.push({ ranges, request });
  }

  private internRequest(variants: RequestVariantInfo[]): RequestInfo {
    const key = JSON.stringify(variants);
    let request = this.requestsByKey.get(key);
    if (request === undefined) {
      request = { key, description: variants.map(describeVariant).join(" | "), variants };
      this.requestsByKey.set(key, request);
    }
    return request;
  }

  private requestOf(jobId: number, taskId: number): RequestInfo {
    const job = this.jobsById.get(jobId);
    if (job === undefined) return UNKNOWN_REQUEST;
    if (job.submits.length === 1) return job.submits[0].request;
    if (job.lastHit !== undefined && submitHasTask(job.lastHit, taskId)) return job.lastHit.request;
    // Newest first: an open job's later submits are the ones still running tasks.
    for (let i = job.submits.length - 1; i >= 0; i--) {
      if (submitHasTask(job.submits[i], taskId)) {
        job.lastHit = job.submits[i];
        return job.lastHit.request;
      }
    }
    return job.submits[job.submits.length - 1].request;
  }

  private onTaskStarted(event: Record<string, unknown>, timeMs: number): void {
    const jobId = toNumber(event.job);
    const taskId = toNumber(event.task);
    this.stopTask(jobId, taskId, timeMs);
    const workerIds = event.workers !== undefined
      ? asArray(event.workers).map(toNumber)
      : [toNumber(event.worker)];
    const variant = this.requestOf(jobId, taskId).variants[toNumber(event.variant)];
    const task: RunningTask = { jobId, taskId, startMs: timeMs, workers: [], usage: [] };
    for (const workerId of workerIds) {
      const worker = this.workersById.get(workerId);
      if (worker === undefined) continue;
      const usage = taskUsage(worker.group, variant, workerIds.length > 1);
      task.workers.push(worker);
      task.usage.push(usage);
      worker.tasks.add(task);
      this.applyUsage(worker.group, usage, 1, timeMs);
    }
    let tasksById = this.runningTasksByJob.get(jobId);
    if (tasksById === undefined) {
      tasksById = new Map();
      this.runningTasksByJob.set(jobId, tasksById);
    }
    tasksById.set(taskId, task);
  }

  private onTaskEnded(
    jobId: number,
    taskId: number,
    outcome: "finished" | "failed",
    timeMs: number,
  ): void {
    const task = this.stopTask(jobId, taskId, timeMs);
    // With --start-time, tasks that ended before the window are dropped; those that started
    // before it but end inside count with their full duration.
    if (!this.timeline.isOpen) return;
    const stats = this.statsOf(this.requestOf(jobId, taskId));
    const durationSec = task === undefined ? undefined : (timeMs - task.startMs) / 1000;
    if (outcome === "finished") {
      stats.finished++;
      if (durationSec !== undefined) stats.finishedDurations.add(durationSec);
    } else {
      stats.failed++;
      if (durationSec !== undefined) stats.failedDurations.add(durationSec);
    }
  }

  /** Removes a running task and gives its resources back; returns it if it was running. */
  private stopTask(jobId: number, taskId: number, timeMs: number): RunningTask | undefined {
    const tasksById = this.runningTasksByJob.get(jobId);
    const task = tasksById?.get(taskId);
    if (task === undefined) return undefined;
    tasksById!.delete(taskId);
    if (tasksById!.size === 0) this.runningTasksByJob.delete(jobId);
    for (let i = 0; i < task.workers.length; i++) {
      const worker = task.workers[i];
      worker.tasks.delete(task);
      this.applyUsage(worker.group, task.usage[i], -1, timeMs);
    }
    return task;
  }

  private applyUsage(group: WorkerGroup, usage: number[], sign: 1 | -1, timeMs: number): void {
    for (let i = 0; i < usage.length; i += 2) {
      const index = usage[i];
      group.usedUnits[index] += sign * usage[i + 1];
      this.timeline.set(group.allocSeries[index], timeMs, allocFraction(group, index));
    }
  }

  private updateAllocSeries(group: WorkerGroup, timeMs: number): void {
    for (let index = 0; index < group.allocSeries.length; index++) {
      this.timeline.set(group.allocSeries[index], timeMs, allocFraction(group, index));
    }
  }

  private statsOf(request: RequestInfo): ClassStats {
    let stats = this.statsByRequestKey.get(request.key);
    if (stats === undefined) {
      stats = {
        label: `T${this.statsByRequestKey.size + 1}`,
        description: request.description,
        finished: 0,
        failed: 0,
        finishedDurations: new Reservoir(),
        failedDurations: new Reservoir(),
      };
      this.statsByRequestKey.set(request.key, stats);
    }
    return stats;
  }

  private onAllocationQueued(event: Record<string, unknown>, timeMs: number): void {
    const key = allocationKey(event);
    const workerCount = toNumber(event["worker-count"]);
    this.queuedWorkers += workerCount - (this.queuedWorkersByAllocation.get(key) ?? 0);
    this.queuedWorkersByAllocation.set(key, workerCount);
    this.timeline.set(this.queuedSeries, timeMs, this.queuedWorkers);
  }

  // Spec §1.7 counts an allocation as queued until it finishes, including while it runs.
  private onAllocationFinished(event: Record<string, unknown>, timeMs: number): void {
    const key = allocationKey(event);
    const workerCount = this.queuedWorkersByAllocation.get(key);
    if (workerCount === undefined) return;
    this.queuedWorkersByAllocation.delete(key);
    this.queuedWorkers -= workerCount;
    this.timeline.set(this.queuedSeries, timeMs, this.queuedWorkers);
  }
}

/**
 * `[resource index, units]` pairs a task takes on one worker of `group`. A multi-node task owns
 * its workers whole; `All` takes the worker's whole amount; unknown resources are ignored.
 */
function taskUsage(
  group: WorkerGroup,
  variant: RequestVariantInfo | undefined,
  multiNode: boolean,
): number[] {
  const usage: number[] = [];
  if (variant === undefined) return usage;
  if (multiNode || variant.nNodes > 0) {
    group.resourceUnits.forEach((units, index) => usage.push(index, units));
    return usage;
  }
  for (const { name, policy } of variant.resources) {
    const index = group.resourceNames.indexOf(name);
    if (index < 0) continue;
    usage.push(index, "units" in policy ? policy.units : group.resourceUnits[index]);
  }
  return usage;
}

function allocFraction(group: WorkerGroup, index: number): number {
  const total = group.running * group.resourceUnits[index];
  if (total <= 0) return 0;
  return Math.round(Math.max(0, group.usedUnits[index]) / total * 10_000) / 10_000;
}

function allocationKey(event: Record<string, unknown>): string {
  return `${event["queue-id"]}/${event["allocation-id"]}`;
}

/**
 * Parses event times. Neighbouring events mostly share their second, so the exporter's
 * `YYYY-MM-DDTHH:MM:SS[.fff…]Z` form reuses the last parsed second and reads only the fraction
 * (`Date.parse` on every line was a quarter of a million-event report). Anything else goes to
 * `Date.parse`.
 */
class EventTimeParser {
  private secondPrefix = "";
  private secondMs = 0;

  parse(line: ExportedEvent, index: number): number {
    const text = line?.time;
    if (typeof text === "string" && this.isSameSecond(text)) {
      // Date.parse truncates digits past milliseconds; so do we.
      let fractionMs = 0;
      for (let i = 20, scale = 100; i < 23 && i < text.length - 1; i++, scale /= 10) {
        fractionMs += (text.charCodeAt(i) - 48) * scale;
      }
      return this.secondMs + fractionMs;
    }
    const timeMs = Date.parse(text);
    if (Number.isNaN(timeMs)) {
      throw new HqError(`Journal event ${index + 1} has an invalid time ${JSON.stringify(text)}`);
    }
    if (SECOND_PREFIX.test(text)) {
      this.secondPrefix = text.slice(0, 19);
      this.secondMs = Date.parse(`${this.secondPrefix}Z`);
    }
    return timeMs;
  }

  private isSameSecond(text: string): boolean {
    if (this.secondPrefix === "" || !text.startsWith(this.secondPrefix)) return false;
    // The rest must be `Z` or `.<digits>Z`.
    const last = text.length - 1;
    if (text.charCodeAt(last) !== 90 /* Z */) return false;
    if (last === 19) return true;
    if (text.charCodeAt(19) !== 46 /* . */ || last === 20) return false;
    for (let i = 20; i < last; i++) {
      const code = text.charCodeAt(i);
      if (code < 48 || code > 57) return false;
    }
    return true;
  }
}

// UTC with an optional fraction and no offset, as `hq journal export` writes it.
const SECOND_PREFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

function toNumber(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** 1/10000 units as text (`2`, `0.5`); tolerates non-integers from odd journals. */
function formatUnits(units: number): string {
  return Number.isSafeInteger(units) && units >= 0
    ? formatAmount(units)
    : String(units / AMOUNT_FRACTIONS);
}

// ---------------------------------------------------------------------------------------------
// HTML

function renderPage(report: ReportData): string {
  const cards = [card("Server started", formatCliDate(report.serverStartMs))];
  const filter = describeTimeFilter(report.startOffsetMs, report.endOffsetMs);
  if (filter !== undefined) cards.push(card("Time filtering", filter));

  const sampled = report.classes.flatMap((stats) =>
    [
      [`Finished ${stats.label}`, stats.finishedDurations] as const,
      [`Failed ${stats.label}`, stats.failedDurations] as const,
    ].filter(([, reservoir]) => reservoir.seen > reservoir.values.length)
      .map(([name, reservoir]) => `${name}: ${reservoir.values.length} of ${reservoir.seen}`)
  );
  const sampleNote = sampled.length === 0
    ? ""
    : `<p class="note">Box plots show a uniform sample of the durations (${
      escapeHtml(sampled.join("; "))
    }).</p>`;

  const legendRows = report.classes.map((stats) =>
    `<tr><th>${escapeHtml(stats.label)}</th><td>${escapeHtml(stats.description)}</td></tr>`
  ).join("\n");
  const legend = report.classes.length === 0
    ? `<p class="note">No task finished or failed in the reported time range.</p>`
    : `<table class="legend"><thead><tr><th>Class</th><th>Resource request</th></tr></thead>
<tbody>
${legendRows}
</tbody></table>`;

  const data = {
    windowStartMs: report.windowStartMs,
    workers: report.series.map((series) => ({
      name: series.name,
      axis: series.axis,
      x: series.x,
      y: series.y,
    })),
    classes: report.classes.map((stats) => ({
      label: stats.label,
      finished: stats.finished,
      failed: stats.failed,
      finishedDurations: stats.finishedDurations.values,
      failedDurations: stats.failedDurations.values,
    })),
  };

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HQ Journal Report</title>
<style>
${UPLOT_CSS}
${PAGE_CSS}
</style>
<script>
${inlineScript(UPLOT_JS)}
</script>
</head>
<body>
<header><h1>HQ Journal Report</h1></header>
<main>
<section class="cards">
${cards.join("\n")}
</section>
<section class="panel">
<h2>Global worker statistics</h2>
<div id="chart-workers" class="chart"></div>
</section>
<section class="panel">
<h2>Task counts</h2>
<div id="chart-task-counts" class="chart"></div>
</section>
<section class="panel">
<h2>Task durations</h2>
<div id="chart-task-durations" class="chart"></div>
${sampleNote}
</section>
<section class="panel">
<h2>Resource request classes</h2>
${legend}
</section>
</main>
<script id="report-data" type="application/json">${jsonForScript(data)}</script>
<script>
${RENDER_SCRIPT}
</script>
</body>
</html>
`;
}

/** Script text that cannot end its `<script>` element early. */
export function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

function describeTimeFilter(
  startOffsetMs: number | undefined,
  endOffsetMs: number | undefined,
): string | undefined {
  if (startOffsetMs !== undefined && endOffsetMs !== undefined) {
    return `between ${formatDuration(startOffsetMs)} and ${formatDuration(endOffsetMs)}`;
  }
  if (startOffsetMs !== undefined) return `since ${formatDuration(startOffsetMs)}`;
  if (endOffsetMs !== undefined) return `upto ${formatDuration(endOffsetMs)}`;
  return undefined;
}

function card(title: string, value: string): string {
  return `<div class="card"><div class="card-title">${escapeHtml(title)}</div>` +
    `<div class="card-value">${escapeHtml(value)}</div></div>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside `<script>`: every `<` becomes `\u003c`, so no `</script>` or `<!--`
 * from a name in the journal can end the element. U+2028/U+2029 are escaped for old parsers.
 */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

const PAGE_CSS = `:root {
  --bg: #f4f6f9; --panel: #ffffff; --text: #1f2933; --muted: #616e7c; --accent: #2563eb;
  --border: #e1e6ec;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header { background: #1e293b; color: #fff; padding: 16px 32px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
main { padding: 24px 32px; max-width: 1600px; margin: 0 auto; }
.cards { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 24px; }
.card {
  background: var(--panel); border: 1px solid var(--border); border-left: 4px solid var(--accent);
  border-radius: 8px; padding: 12px 20px; min-width: 220px;
}
.card-title {
  color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em;
}
.card-value { font-size: 18px; font-weight: 600; margin-top: 4px; }
.panel {
  background: var(--panel); border: 1px solid var(--border); border-radius: 8px;
  padding: 16px 20px; margin-bottom: 24px;
}
.panel h2 { margin: 0 0 8px; font-size: 17px; font-weight: 600; }
.chart { width: 100%; min-height: 420px; }
.chart.empty { min-height: 0; color: var(--muted); }
.svg-chart { display: block; font: 12px system-ui, sans-serif; }
.svg-chart .grid { stroke: var(--border); }
.svg-chart .tick { fill: var(--muted); }
.svg-chart .axis-label, .svg-chart .category { fill: var(--text); }
.svg-legend { display: flex; gap: 16px; justify-content: center; font-size: 13px; }
.svg-legend i {
  display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px;
}
.note { color: var(--muted); font-size: 13px; }
table.legend { border-collapse: collapse; }
table.legend th, table.legend td {
  text-align: left; padding: 6px 16px 6px 0; border-bottom: 1px solid var(--border);
}
table.legend tbody th { font-family: ui-monospace, monospace; }`;

// Runs in the browser. Kept as plain ES2017 without imports; reads the data element above and
// draws with the global `uPlot` of the inlined library.
const RENDER_SCRIPT = `(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var finishedColor = "#16a34a", failedColor = "#dc2626";
  var palette = ["#2563eb", "#f59e0b", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c"];
  var SVG = "http://www.w3.org/2000/svg";

  function message(el, text) {
    el.textContent = text;
    el.classList.add("empty");
  }

  // Global worker statistics: step traces on one time axis (uPlot wants one shared x array, so
  // every trace holds its last value at the other traces' times).
  (function () {
    var el = document.getElementById("chart-workers");
    if (typeof uPlot === "undefined") return message(el, "The chart library did not load.");
    if (data.workers.length === 0) return message(el, "No worker data in the reported time range.");
    var xs = {};
    data.workers.forEach(function (s) { s.x.forEach(function (x) { xs[x] = true; }); });
    var times = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var columns = [times.map(function (x) { return data.windowStartMs + x; })];
    data.workers.forEach(function (s) {
      var out = new Array(times.length), j = 0, last = null;
      for (var i = 0; i < times.length; i++) {
        while (j < s.x.length && s.x[j] <= times[i]) { last = s.y[j]; j++; }
        out[i] = last;
      }
      columns.push(out);
    });
    var stepped = uPlot.paths.stepped({ align: 1 });
    var series = [{ label: "Time (UTC)" }].concat(data.workers.map(function (s, i) {
      return {
        label: s.name, stroke: palette[i % palette.length], width: 2, paths: stepped,
        scale: s.axis === "fraction" ? "fraction" : "workers",
        value: s.axis === "fraction"
          ? function (u, v) { return v == null ? "-" : (v * 100).toFixed(1) + "%"; }
          : undefined
      };
    }));
    var opts = {
      width: el.clientWidth || 800, height: 380, ms: 1,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts), "Etc/UTC"); },
      scales: { x: { time: true }, workers: { range: function (u, min, max) { return [0, Math.max(1, max * 1.05)]; } }, fraction: { range: [0, 1.05] } },
      axes: [
        { label: "Time (UTC)" },
        { scale: "workers", label: "Workers" },
        { scale: "fraction", side: 1, label: "Allocated fraction", grid: { show: false },
          values: function (u, vals) { return vals.map(function (v) { return Math.round(v * 100) + "%"; }); } }
      ],
      series: series
    };
    var plot = new uPlot(opts, columns, el);
    window.addEventListener("resize", function () {
      plot.setSize({ width: el.clientWidth || 800, height: 380 });
    });
  })();

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, content, attrs) {
    var node = svg("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }
  function niceMax(max) {
    if (max <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(max)));
    var candidates = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i] * step >= max) return candidates[i] * step;
    }
    return 10 * step;
  }
  // A frame with a y axis of 5 ticks from 0 to max; returns helpers to place things in it.
  function frame(el, groups, max, yLabel, format) {
    var width = Math.max(el.clientWidth || 800, 320), height = 380;
    var left = 64, right = 16, top = 12, bottom = 48;
    var root = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "class": "svg-chart" }, el);
    var plotH = height - top - bottom, plotW = width - left - right;
    for (var t = 0; t <= 5; t++) {
      var v = max * t / 5, y = top + plotH - plotH * t / 5;
      svg("line", { x1: left, x2: width - right, y1: y, y2: y, "class": "grid" }, root);
      text(root, left - 6, y + 4, format(v), { "text-anchor": "end", "class": "tick" });
    }
    text(root, 14, top + plotH / 2, yLabel,
      { transform: "rotate(-90 14 " + (top + plotH / 2) + ")", "text-anchor": "middle", "class": "axis-label" });
    var slot = plotW / Math.max(groups, 1);
    return {
      root: root, slot: slot,
      x: function (i) { return left + slot * i; },
      y: function (v) { return top + plotH - plotH * Math.min(v, max) / max; },
      base: top + plotH
    };
  }
  function formatCount(v) { return Math.round(v) === v ? String(v) : v.toFixed(1); }

  // Task counts: Finished and Failed bars side by side per request class.
  (function () {
    var el = document.getElementById("chart-task-counts");
    if (data.classes.length === 0) return message(el, "No task finished or failed.");
    var max = niceMax(Math.max.apply(null, data.classes.map(function (c) {
      return Math.max(c.finished, c.failed);
    })));
    var f = frame(el, data.classes.length, max, "Tasks", formatCount);
    data.classes.forEach(function (c, i) {
      var barW = Math.min(f.slot * 0.35, 80), mid = f.x(i) + f.slot / 2;
      [[c.finished, finishedColor, -1, "Finished"], [c.failed, failedColor, 0, "Failed"]].forEach(function (b) {
        var x = mid + b[2] * barW, y = f.y(b[0]);
        var rect = svg("rect", { x: x, y: y, width: barW, height: f.base - y, fill: b[1],
          "class": "bar", "data-class": c.label, "data-kind": b[3], "data-value": b[0] }, f.root);
        svg("title", {}, rect).textContent = b[3] + " " + c.label + ": " + b[0];
        text(f.root, x + barW / 2, y - 4, String(b[0]), { "text-anchor": "middle", "class": "tick" });
      });
      text(f.root, mid, f.base + 18, c.label, { "text-anchor": "middle", "class": "category" });
    });
    legend(el, [["Finished", finishedColor], ["Failed", failedColor]]);
  })();

  function legend(el, items) {
    var box = document.createElement("div");
    box.className = "svg-legend";
    items.forEach(function (item) {
      var span = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = item[1];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(item[0]));
      box.appendChild(span);
    });
    el.appendChild(box);
  }

  function quantile(sorted, q) {
    var pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  // Task durations: a box per class and outcome (quartiles, median, whiskers at 1.5 IQR).
  (function () {
    var el = document.getElementById("chart-task-durations");
    var boxes = [];
    data.classes.forEach(function (c) {
      boxes.push(["Finished " + c.label, c.finishedDurations, finishedColor]);
      boxes.push(["Failed " + c.label, c.failedDurations, failedColor]);
    });
    boxes = boxes.filter(function (b) { return b[1].length > 0; });
    if (boxes.length === 0) return message(el, "No task finished or failed.");
    var stats = boxes.map(function (b) {
      var sorted = b[1].slice().sort(function (x, y) { return x - y; });
      var q1 = quantile(sorted, 0.25), q3 = quantile(sorted, 0.75), iqr = q3 - q1;
      var lo = sorted[0], hi = sorted[sorted.length - 1];
      for (var i = 0; i < sorted.length; i++) if (sorted[i] >= q1 - 1.5 * iqr) { lo = sorted[i]; break; }
      for (var k = sorted.length - 1; k >= 0; k--) if (sorted[k] <= q3 + 1.5 * iqr) { hi = sorted[k]; break; }
      return { name: b[0], color: b[2], q1: q1, median: quantile(sorted, 0.5), q3: q3, lo: lo, hi: hi,
        max: sorted[sorted.length - 1], n: sorted.length };
    });
    var max = niceMax(Math.max.apply(null, stats.map(function (s) { return s.hi; })));
    var f = frame(el, stats.length, max, "Duration [s]", function (v) { return String(+v.toPrecision(3)); });
    stats.forEach(function (s, i) {
      var w = Math.min(f.slot * 0.5, 90), mid = f.x(i) + f.slot / 2, x = mid - w / 2;
      var g = svg("g", { "class": "box", "data-name": s.name }, f.root);
      svg("title", {}, g).textContent = s.name + " (" + s.n + "): median " + s.median.toFixed(3) +
        " s, quartiles " + s.q1.toFixed(3) + "–" + s.q3.toFixed(3) + " s";
      svg("line", { x1: mid, x2: mid, y1: f.y(s.lo), y2: f.y(s.hi), stroke: s.color }, g);
      svg("line", { x1: mid - w / 4, x2: mid + w / 4, y1: f.y(s.lo), y2: f.y(s.lo), stroke: s.color }, g);
      svg("line", { x1: mid - w / 4, x2: mid + w / 4, y1: f.y(s.hi), y2: f.y(s.hi), stroke: s.color }, g);
      svg("rect", { x: x, y: f.y(s.q3), width: w, height: Math.max(1, f.y(s.q1) - f.y(s.q3)),
        fill: s.color, "fill-opacity": 0.25, stroke: s.color }, g);
      svg("line", { x1: x, x2: x + w, y1: f.y(s.median), y2: f.y(s.median), stroke: s.color,
        "stroke-width": 2 }, g);
      text(f.root, mid, f.base + 18, s.name, { "text-anchor": "middle", "class": "category" });
    });
    var note = document.createElement("p");
    note.className = "note";
    note.textContent = "Boxes: quartiles and median; whiskers: the furthest durations within 1.5 IQR.";
    el.appendChild(note);
  })();
})();`;
