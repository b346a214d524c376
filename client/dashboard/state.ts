/**
 * The dashboard's picture of a server, folded from its events (journal spec §1.2): workers, jobs
 * with per-task state in typed arrays (a 1,000,000-task job costs ~20 MB, not a million objects),
 * allocation queues, and a sampled history of task states and worker counts for the charts.
 */
import { IdRanges } from "../../common/id_ranges.ts";
import type { JournalEvent } from "../../common/journal/journal_events.ts";
import type { HwState } from "../../common/protocol.ts";

/** Task states in the order of their codes in `JobModel.states`. */
export const STATE_NAMES = ["waiting", "running", "finished", "failed", "canceled"] as const;
const WAITING = 0, RUNNING = 1, FINISHED = 2, FAILED = 3, CANCELED = 4;

interface SubmitPart {
  ids: IdRanges;
  /** Index of the part's first task in the job's arrays. */
  offset: number;
  command: string[];
}

/** One job: task states by index (submits in order, each in its id order). */
export class JobModel {
  name: string;
  isOpen = false;
  completed = false;
  canceled = false;
  cancelReason: string | null = null;
  submittedMs: number;
  parts: SubmitPart[] = [];
  count = 0;
  states = new Uint8Array(0);
  workers = new Int32Array(0);
  startedMs = new Float64Array(0);
  endedMs = new Float64Array(0);
  errors = new Map<number, string>();
  counts = [0, 0, 0, 0, 0];

  constructor(readonly id: number, name: string, submittedMs: number) {
    this.name = name;
    this.submittedMs = submittedMs;
  }

  addSubmit(ranges: IdRanges, command: string[]): void {
    const offset = this.count;
    this.parts.push({ ids: ranges, offset, command });
    this.count += ranges.count;
    if (this.states.length < this.count) {
      // Doubling: an open job that takes many small submits grows in amortised O(1).
      const size = Math.max(this.count, this.states.length * 2);
      const states = new Uint8Array(size), workers = new Int32Array(size);
      const started = new Float64Array(size), ended = new Float64Array(size);
      states.set(this.states);
      workers.set(this.workers);
      started.set(this.startedMs);
      ended.set(this.endedMs);
      this.states = states;
      this.workers = workers;
      this.startedMs = started;
      this.endedMs = ended;
    }
    this.counts[WAITING] += ranges.count;
  }

  /** Index of task `taskId`, or -1. */
  indexOf(taskId: number): number {
    for (const part of this.parts) {
      const index = part.ids.indexOf(taskId);
      if (index >= 0) return part.offset + index;
    }
    return -1;
  }

  idAt(index: number): number {
    for (let i = this.parts.length - 1; i >= 0; i--) {
      const part = this.parts[i];
      if (index >= part.offset) return part.ids.idAt(index - part.offset);
    }
    return -1;
  }

  commandAt(index: number): string[] {
    for (let i = this.parts.length - 1; i >= 0; i--) {
      if (index >= this.parts[i].offset) return this.parts[i].command;
    }
    return [];
  }

  setState(index: number, state: number): void {
    this.counts[this.states[index]]--;
    this.states[index] = state;
    this.counts[state]++;
  }

  get state(): string {
    const [waiting, running, , failed, canceled] = this.counts;
    if (running > 0) return "running";
    if (waiting > 0) return "waiting";
    if (failed > 0) return "failed";
    if (canceled > 0) return "canceled";
    if (this.isOpen) return "opened";
    return "finished";
  }
}

/** One worker as the dashboard shows it. */
export interface WorkerModel {
  id: number;
  hostname: string;
  group: string;
  cpus: string;
  manager: string | null;
  allocationId: string | null;
  connectedMs: number;
  lostMs: number | null;
  lostReason: string | null;
  runningTasks: number;
  /** Per-core CPU usage in percent, from the last overview. */
  cpuPerCore: number[] | null;
  memUsedFraction: number | null;
  /** Recent average CPU usage samples, `[time ms, percent]`. */
  cpuHistory: Array<[number, number]>;
}

/** One allocation queue. */
export interface QueueModel {
  id: number;
  manager: string;
  name: string | null;
  backlog: number;
  workersPerAlloc: number;
  createdMs: number;
  removedMs: number | null;
  allocations: Array<{
    id: string;
    workers: number;
    status: "queued" | "running" | "finished";
    queuedMs: number;
    startedMs: number | null;
    finishedMs: number | null;
  }>;
}

const HISTORY_LIMIT = 600;
const CPU_HISTORY_LIMIT = 300;

/** Everything the page shows, updated one event at a time. */
export class DashboardState {
  serverUid = "";
  serverStartMs = 0;
  serverStopped = false;
  eventCount = 0;
  lastEventMs = 0;
  workers = new Map<number, WorkerModel>();
  jobs = new Map<number, JobModel>();
  queues = new Map<number, QueueModel>();
  /** Samples `[time ms, workers, waiting, running, finished, failed, canceled]`, thinned. */
  history: number[][] = [];
  finishedTotal = 0;
  /** The server has no journal: its past was rebuilt from its current state (spec §4). */
  reconstructed = false;

  apply(timeMs: number, event: JournalEvent): void {
    this.eventCount++;
    this.lastEventMs = Math.max(this.lastEventMs, timeMs);
    switch (event.type) {
      case "server-start":
        this.serverUid = event.serverUid;
        if (this.serverStartMs === 0) this.serverStartMs = timeMs;
        this.serverStopped = false;
        break;
      case "server-stop":
        this.serverStopped = true;
        for (const worker of this.workers.values()) {
          if (worker.lostMs === null) {
            worker.lostMs = timeMs;
            worker.lostReason = "server-stop";
          }
        }
        break;
      case "worker-connected": {
        const config = event.configuration;
        const cpus = config.resources.resources.find((r) => r.name === "cpus");
        this.workers.set(event.workerId, {
          id: event.workerId,
          hostname: config.hostname,
          group: config.group,
          cpus: cpus === undefined ? "" : describeCpus(cpus),
          manager: config.manager?.manager ?? null,
          allocationId: config.manager?.allocationId ?? null,
          connectedMs: timeMs,
          lostMs: null,
          lostReason: null,
          runningTasks: 0,
          cpuPerCore: null,
          memUsedFraction: null,
          cpuHistory: [],
        });
        break;
      }
      case "worker-lost": {
        const worker = this.workers.get(event.workerId);
        if (worker) {
          worker.lostMs = timeMs;
          worker.lostReason = event.reason;
          worker.runningTasks = 0;
        }
        break;
      }
      case "worker-overview": {
        const worker = this.workers.get(event.workerId);
        if (worker) applyOverview(worker, timeMs, event.hwState);
        break;
      }
      case "job-open": {
        const job = new JobModel(event.jobId, event.name, timeMs);
        job.isOpen = true;
        this.jobs.set(event.jobId, job);
        break;
      }
      case "job-created": {
        let job = this.jobs.get(event.jobId);
        if (!job) {
          job = new JobModel(event.jobId, event.name, timeMs);
          this.jobs.set(event.jobId, job);
        }
        for (const submit of [event.submit, ...event.more ?? []]) {
          job.addSubmit(new IdRanges(submit.ids), submit.template.args);
        }
        job.completed = false;
        break;
      }
      case "job-close": {
        const job = this.jobs.get(event.jobId);
        if (job) job.isOpen = false;
        break;
      }
      case "job-cancel": {
        const job = this.jobs.get(event.jobId);
        if (job) {
          job.canceled = true;
          job.cancelReason = event.reason;
        }
        break;
      }
      case "job-completed": {
        const job = this.jobs.get(event.jobId);
        if (job) job.completed = true;
        break;
      }
      case "task-started": {
        const job = this.jobs.get(event.jobId);
        const index = job?.indexOf(event.taskId) ?? -1;
        if (!job || index < 0) break;
        if (job.states[index] === RUNNING) this.#workerTasks(job.workers[index], -1);
        job.setState(index, RUNNING);
        job.workers[index] = event.workerIds[0] ?? 0;
        job.startedMs[index] = timeMs;
        this.#workerTasks(job.workers[index], 1);
        break;
      }
      case "task-finished":
      case "task-failed": {
        const job = this.jobs.get(event.jobId);
        const index = job?.indexOf(event.taskId) ?? -1;
        if (!job || index < 0) break;
        if (job.states[index] === RUNNING) this.#workerTasks(job.workers[index], -1);
        job.setState(index, event.type === "task-finished" ? FINISHED : FAILED);
        job.endedMs[index] = timeMs;
        if (event.type === "task-failed") job.errors.set(index, event.error);
        else this.finishedTotal++;
        break;
      }
      case "tasks-canceled":
      case "tasks-aborted":
        for (const [jobId, taskId] of event.tasks) {
          const job = this.jobs.get(jobId);
          const index = job?.indexOf(taskId) ?? -1;
          if (!job || index < 0) continue;
          if (job.states[index] === RUNNING) this.#workerTasks(job.workers[index], -1);
          job.setState(index, CANCELED);
          job.endedMs[index] = timeMs;
        }
        break;
      case "autoalloc-queue-created":
        this.queues.set(event.queueId, {
          id: event.queueId,
          manager: event.params.manager,
          name: event.params.name,
          backlog: event.params.backlog,
          workersPerAlloc: event.params.maxWorkersPerAlloc,
          createdMs: timeMs,
          removedMs: null,
          allocations: [],
        });
        break;
      case "autoalloc-queue-removed": {
        const queue = this.queues.get(event.queueId);
        if (queue) queue.removedMs = timeMs;
        break;
      }
      case "autoalloc-allocation-queued":
        this.queues.get(event.queueId)?.allocations.push({
          id: event.allocationId,
          workers: event.workerCount,
          status: "queued",
          queuedMs: timeMs,
          startedMs: null,
          finishedMs: null,
        });
        break;
      case "autoalloc-allocation-started":
      case "autoalloc-allocation-finished": {
        const allocation = this.queues.get(event.queueId)?.allocations.find((a) =>
          a.id === event.allocationId
        );
        if (!allocation) break;
        if (event.type === "autoalloc-allocation-started") {
          allocation.status = "running";
          allocation.startedMs = timeMs;
        } else {
          allocation.status = "finished";
          allocation.finishedMs = timeMs;
        }
        break;
      }
      default:
        break;
    }
  }

  #workerTasks(workerId: number, delta: number): void {
    const worker = this.workers.get(workerId);
    if (worker) worker.runningTasks = Math.max(0, worker.runningTasks + delta);
  }

  /** Appends a history sample (the server calls it a few times a second at most). */
  sample(timeMs: number): void {
    const totals = [0, 0, 0, 0, 0];
    for (const job of this.jobs.values()) {
      for (let i = 0; i < 5; i++) totals[i] += job.counts[i];
    }
    let online = 0;
    for (const worker of this.workers.values()) if (worker.lostMs === null) online++;
    const row = [timeMs, online, ...totals];
    const last = this.history[this.history.length - 1];
    if (
      last && last.slice(1).every((value, i) => value === row[i + 1]) && timeMs - last[0] < 5000
    ) {
      return;
    }
    this.history.push(row);
    if (this.history.length > HISTORY_LIMIT) {
      // Keep every other old sample: the chart keeps its whole span at half the resolution.
      this.history = this.history.filter((_, i) => i % 2 === 0 || i > HISTORY_LIMIT / 2);
    }
  }

  /** The page's overview, workers, jobs and queues (not the tasks). */
  snapshot(): Record<string, unknown> {
    const workers = [...this.workers.values()].map((w) => ({
      id: w.id,
      hostname: w.hostname,
      group: w.group,
      cpus: w.cpus,
      state: w.lostMs === null ? "running" : "offline",
      lostReason: w.lostReason,
      runningTasks: w.runningTasks,
      cpu: w.cpuPerCore === null ? null : average(w.cpuPerCore),
      mem: w.memUsedFraction,
      manager: w.manager,
      allocationId: w.allocationId,
      connectedMs: w.connectedMs,
    }));
    const jobs = [...this.jobs.values()].map((job) => ({
      id: job.id,
      name: job.name,
      state: job.state,
      taskCount: job.count,
      counts: Object.fromEntries(STATE_NAMES.map((name, i) => [name, job.counts[i]])),
      submittedMs: job.submittedMs,
      cancelReason: job.cancelReason,
    }));
    const queues = [...this.queues.values()];
    return {
      serverUid: this.serverUid,
      serverStartMs: this.serverStartMs,
      serverStopped: this.serverStopped,
      reconstructed: this.reconstructed,
      eventCount: this.eventCount,
      lastEventMs: this.lastEventMs,
      workers,
      jobs,
      queues,
      history: this.history,
    };
  }

  /** One worker in detail: per-core usage, its CPU history and its running tasks. */
  workerDetail(id: number): Record<string, unknown> | null {
    const worker = this.workers.get(id);
    if (!worker) return null;
    const tasks: Array<{ job: number; task: number }> = [];
    for (const job of this.jobs.values()) {
      if (job.counts[RUNNING] === 0) continue;
      for (let i = 0; i < job.count && tasks.length < 200; i++) {
        if (job.states[i] === RUNNING && job.workers[i] === id) {
          tasks.push({ job: job.id, task: job.idAt(i) });
        }
      }
    }
    return { ...worker, tasks };
  }

  /** A window of a job's tasks, optionally only those in `state`; plus its errors. */
  tasks(
    jobId: number,
    offset: number,
    limit: number,
    state: string | null,
  ): Record<string, unknown> | null {
    const job = this.jobs.get(jobId);
    if (!job) return null;
    const code = state === null ? -1 : STATE_NAMES.indexOf(state as typeof STATE_NAMES[number]);
    const rows: unknown[] = [];
    let total = job.count;
    if (code < 0) {
      for (let i = offset; i < Math.min(job.count, offset + limit); i++) rows.push(taskRow(job, i));
    } else {
      total = job.counts[code];
      let seen = 0;
      for (let i = 0; i < job.count && rows.length < limit; i++) {
        if (job.states[i] !== code) continue;
        if (seen++ >= offset) rows.push(taskRow(job, i));
      }
    }
    const errors = [...job.errors.entries()].slice(0, 100).map(([index, error]) => ({
      task: job.idAt(index),
      error,
    }));
    return { job: jobId, offset, total, rows, errors, errorCount: job.errors.size };
  }

  /**
   * A job's task states over time in `bins` equal steps from its submit to its last event: at
   * each step's end, how many tasks waited, ran, and ended in each state (the state they ended
   * in). One pass over the job's times, no memory kept between requests.
   */
  jobTimeline(jobId: number, bins: number): Record<string, unknown> | null {
    const job = this.jobs.get(jobId);
    if (!job) return null;
    const from = job.submittedMs;
    let to = from;
    for (let i = 0; i < job.count; i++) {
      if (job.endedMs[i] > to) to = job.endedMs[i];
      if (job.startedMs[i] > to) to = job.startedMs[i];
    }
    if (job.counts[WAITING] + job.counts[RUNNING] > 0) to = Math.max(to, this.lastEventMs);
    const step = Math.max(1, (to - from) / bins);
    const bin = (ms: number) => Math.min(bins - 1, Math.max(0, Math.floor((ms - from) / step)));
    // Per bin: tasks that started in it, and tasks that ended in it by the state they ended in.
    const started = new Float64Array(bins);
    const ended = STATE_NAMES.map(() => new Float64Array(bins));
    for (let i = 0; i < job.count; i++) {
      const state = job.states[i];
      const start = job.startedMs[i], end = job.endedMs[i];
      if (start > 0) started[bin(start)]++;
      if (end > 0 && state !== RUNNING && state !== WAITING) {
        ended[state][bin(end)]++;
        // A task canceled before it ran never started: count it as started when it ended.
        if (start === 0) started[bin(end)]++;
      }
    }
    const times: number[] = [];
    const series = STATE_NAMES.map(() => [] as number[]);
    let startedSoFar = 0;
    const endedSoFar = [0, 0, 0, 0, 0];
    for (let b = 0; b < bins; b++) {
      startedSoFar += started[b];
      let endedAll = 0;
      for (const state of [FINISHED, FAILED, CANCELED]) {
        endedSoFar[state] += ended[state][b];
        endedAll += endedSoFar[state];
        series[state].push(endedSoFar[state]);
      }
      series[RUNNING].push(Math.max(0, startedSoFar - endedAll));
      series[WAITING].push(Math.max(0, job.count - startedSoFar));
      times.push(from + (b + 1) * step);
    }
    return { job: jobId, times, ...Object.fromEntries(STATE_NAMES.map((n, i) => [n, series[i]])) };
  }

  /** One task in detail. */
  task(jobId: number, taskId: number): Record<string, unknown> | null {
    const job = this.jobs.get(jobId);
    const index = job?.indexOf(taskId) ?? -1;
    if (!job || index < 0) return null;
    const worker = this.workers.get(job.workers[index]);
    return {
      ...taskRow(job, index),
      command: job.commandAt(index),
      hostname: worker?.hostname ?? null,
    };
  }
}

function taskRow(job: JobModel, index: number) {
  return {
    id: job.idAt(index),
    state: STATE_NAMES[job.states[index]],
    worker: job.workers[index] || null,
    startedMs: job.startedMs[index] || null,
    endedMs: job.endedMs[index] || null,
    error: job.errors.get(index) ?? null,
  };
}

function applyOverview(worker: WorkerModel, timeMs: number, hw: HwState): void {
  worker.cpuPerCore = hw.cpu_usage.cpu_per_core_percent_usage;
  const { total, free } = hw.memory_usage;
  worker.memUsedFraction = total > 0 ? (total - free) / total : null;
  worker.cpuHistory.push([timeMs, average(worker.cpuPerCore)]);
  if (worker.cpuHistory.length > CPU_HISTORY_LIMIT) worker.cpuHistory.shift();
}

function average(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function describeCpus(item: { kind: string; [key: string]: unknown }): string {
  if (item.kind === "range") return String(Number(item.end) - Number(item.start) + 1);
  if (item.kind === "list") return String((item.values as string[]).length);
  if (item.kind === "groups") {
    const groups = item.groups as string[][];
    return `${groups.length}x${groups[0]?.length ?? 0}`;
  }
  return "";
}
